"""Validation and normalisation of report bodies (intake.validate_report), without a database."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.schemas.reports import NARRATIVE_MAX
from backoffice.services.intake import ValidationFailed, request_fingerprint, validate_report

QUICK = settings(max_examples=300, deadline=None)
CONSENT = {
    "publish_alert": True,
    "follow_up": False,
    "share_with_partner": False,
    "statistics": True,
}
MINIMAL = {
    "incident": {"date": "2026-01-05", "department": "13", "violence_types": ["non_payment"]},
    "narrative": "Il est parti sans payer.",
    "consent": CONSENT,
}


def body(**changes) -> dict:
    data = copy.deepcopy(MINIMAL)
    for path, value in changes.items():
        target = data
        *parents, last = path.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return data


def errors(data) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as failed:
        validate_report(data)
    return failed.value.in_english()


# --- what a valid body becomes --------------------------------------------------------------


def test_a_minimal_body_gets_safe_defaults():
    report = validate_report(MINIMAL)
    assert report.channel == "web"
    assert report.date_precision == "day"
    assert report.incident_date == dt.date(2026, 1, 5)
    assert report.incident_time is None
    assert report.identifiers == []
    assert report.victim_phone is None
    assert report.consent_publish_alert and report.consent_statistics
    assert not report.consent_police_or_lawyer  # only if she asks
    assert validate_report(MINIMAL, default_channel="phone").channel == "phone"


@pytest.mark.parametrize(
    ("given_value", "expected"), [("1", "01"), (75, "75"), ("2a", "2A"), (" 974 ", "974")]
)
def test_departments_are_normalised(given_value, expected):
    assert validate_report(body(incident__department=given_value)).department == expected


def test_texts_are_tidied_but_the_narrative_keeps_its_lines():
    report = validate_report(
        body(
            narrative="  Première ligne.\r\nDeuxième ligne.\r\n  ",
            incident__city="  Saint-Denis \t ",
            language="PT-br",
        )
    )
    assert report.narrative == "Première ligne.\nDeuxième ligne."
    assert report.city == "Saint-Denis"
    assert report.language == "pt-BR"


def test_violence_types_are_deduplicated_in_order():
    report = validate_report(body(incident__violence_types=["theft", "rape", "theft"]))
    assert report.violence_types == ["theft", "rape"]


def test_suggested_description_values_are_recognised_in_other_spellings():
    report = validate_report(
        body(
            aggressor={
                "description": {"gender": "Trans_Woman", "build": "HEAVY", "hair": "short  brown"}
            }
        )
    )
    assert report.aggressor_description == {
        "gender": "trans woman",
        "build": "heavy",
        "hair": "short brown",
    }


def test_identifiers_are_normalised_deduplicated_and_the_plate_joins_them():
    report = validate_report(
        body(
            aggressor={
                "vehicle": {"make": "Renault", "plate": "ab 123 cd"},
                "identifiers": [
                    {"kind": "phone", "value": "06.12.34.56.78", "platform": "ignored"},
                    {"kind": "phone", "value": "+33 6 12 34 56 78"},
                    {"kind": "pseudonym", "value": "@Marc75", "platform": "an ad site"},
                    {"kind": "plate", "value": "AB-123-CD"},
                ],
            }
        )
    )
    found = [(i.kind, i.value, i.platform) for i in report.identifiers]
    assert found == [
        ("plate", "AB-123-CD", None),
        ("phone", "+33612345678", None),
        ("pseudonym", "marc75", "an ad site"),
    ]
    assert report.vehicle == {"make": "Renault"}  # the plate is an identifier, not a detail


def test_victim_contact_is_normalised():
    report = validate_report(
        body(victim={"contact": {"phone": "07 98 76 54 32", "email": "Lila@Example.ORG"}})
    )
    assert report.victim_phone == "+33798765432"
    assert report.victim_email == "lila@example.org"


# --- what is refused, and where -------------------------------------------------------------


def test_every_problem_is_reported_at_once_by_path():
    data = body(
        channel="pigeon",
        incident__date="2026-13-01",
        incident__violence_types=["theft", "gossip"],
        aggressor={"identifiers": [{"kind": "phone", "value": "06 12 34 56 78"}, {"kind": "url"}]},
        victim={"contact": {"email": "not-an-email"}},
    )
    assert set(errors(data)) == {
        "channel",
        "incident.date",
        "incident.violence_types[1]",
        "aggressor.identifiers[1].value",
        "victim.contact.email",
    }


def test_identifier_errors_carry_the_normaliser_explanation_in_english():
    data = body(aggressor={"identifiers": [{"kind": "phone", "value": "+33 6 12 + 34"}]})
    assert errors(data) == {
        "aggressor.identifiers[0].value": ["The + sign may only begin a phone number."]
    }


def test_messages_never_quote_the_value():
    secret = "06 12 34 5x 78"
    data = body(aggressor={"identifiers": [{"kind": "phone", "value": secret}]})
    assert secret not in str(errors(data))


def test_the_narrative_limit_counts_characters_not_bytes():
    validate_report(body(narrative="語" * NARRATIVE_MAX))
    assert errors(body(narrative="語" * (NARRATIVE_MAX + 1))) == {
        "narrative": ["At most 10000 characters."]
    }


def test_a_date_tomorrow_is_tolerated_but_not_later():
    today = dt.datetime.now(dt.UTC).date()
    validate_report(body(incident__date=(today + dt.timedelta(days=1)).isoformat()))
    later = (today + dt.timedelta(days=3)).isoformat()
    assert errors(body(incident__date=later)) == {
        "incident.date": ["The date cannot be in the future."]
    }


def test_the_incident_must_be_an_object():
    assert errors(body(incident=["2026-01-05"])) == {"incident": ["Must be an object."]}


def test_a_missing_incident_names_its_required_fields():
    data = copy.deepcopy(MINIMAL)
    del data["incident"]
    assert set(errors(data)) == {"incident.date", "incident.department", "incident.violence_types"}


def test_consent_answers_must_be_booleans():
    assert errors(body(consent={**CONSENT, "follow_up": "no"})) == {
        "consent.follow_up": ["Must be true or false."]
    }


def test_the_victim_language_is_one_of_the_alert_languages():
    validate_report(body(victim={"preferred_language": "uk"}))
    assert set(errors(body(victim={"preferred_language": "de"}))) == {"victim.preferred_language"}


def test_the_fingerprint_ignores_key_order_and_spacing():
    reordered = dict(reversed(list(MINIMAL.items())))
    assert request_fingerprint(reordered) == request_fingerprint(MINIMAL)
    assert request_fingerprint(body(narrative="autre")) != request_fingerprint(MINIMAL)


# --- properties -----------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = {
    "language": JSON,
    "channel": JSON,
    "incident": st.fixed_dictionaries(
        {},
        optional={
            "date": JSON | st.dates().map(str),
            "time": JSON,
            "department": JSON,
            "context": JSON,
            "violence_types": JSON,
            "date_precision": JSON,
        },
    )
    | JSON,
    "narrative": JSON,
    "aggressor": st.fixed_dictionaries(
        {},
        optional={
            "identifiers": st.lists(
                st.fixed_dictionaries(
                    {"kind": st.sampled_from(["phone", "email", "plate", "url", "x"]) | JSON},
                    optional={"value": st.text(max_size=40) | JSON, "platform": JSON},
                ),
                max_size=3,
            ),
            "vehicle": JSON,
            "description": JSON,
        },
    )
    | JSON,
    "victim": JSON,
    "consent": JSON,
    "reporter": JSON,
}


@QUICK
@given(st.fixed_dictionaries({}, optional=FIELDS) | JSON)
def test_any_body_is_either_accepted_or_refused_with_paths_never_crashes(data):
    try:
        report = validate_report(data)
    except ValidationFailed as failed:
        english = failed.in_english()
        assert english and all(isinstance(p, str) for p in english)
        assert all(m and all(isinstance(x, str) for x in m) for m in english.values())
    else:
        assert report.narrative and report.violence_types and report.department


@QUICK
@given(st.text(max_size=60), st.sampled_from(["phone", "email", "plate", "pseudonym", "url"]))
def test_any_identifier_text_is_accepted_or_refused_at_its_path(value, kind):
    data = body(aggressor={"identifiers": [{"kind": kind, "value": value}]})
    try:
        validate_report(data)
    except ValidationFailed as failed:
        assert set(failed.errors) <= {"aggressor.identifiers[0].value"}
