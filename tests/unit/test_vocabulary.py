"""The aggressor's suggested values are listed three times, each for its reader: the request
schema (what intake accepts as a code), the staff screens' labels (messages domain) and the
workers' labels (alerts domain, ten languages). They must name the same codes, or a code
would show raw on a screen or untranslated in an alert."""

import pytest

from backoffice.schemas import reports as schema
from backoffice.services import alert_text, vocabulary


@pytest.mark.parametrize(
    ("codes", "staff", "workers"),
    [
        (schema.GENDERS, vocabulary.GENDERS, alert_text.GENDER_LABELS),
        (schema.AGE_RANGES, vocabulary.AGE_RANGES, alert_text.AGE_RANGE_LABELS),
        (schema.HEIGHTS, vocabulary.HEIGHTS, alert_text.HEIGHT_LABELS),
        (schema.BUILDS, vocabulary.BUILDS, alert_text.BUILD_LABELS),
    ],
    ids=["gender", "age_range", "height", "build"],
)
def test_the_three_lists_of_aggressor_codes_agree(codes, staff, workers):
    assert set(codes) == set(staff) == set(workers)
