"""Statistics: the time to first contact, now that cases record it, on a small fixed data set.

Every case below is AIDES's, opened in 2013 (a year no other fixture uses), in Lyon (69),
through the real case service; the first contact is recorded by the same service:

====  =================  ========================  ==============
case  opened (UTC)       first contact             band
====  =================  ========================  ==============
1     2013-02-04 09:00   +2 h 10                   within 24 h
2     2013-02-11 09:00   +10 h 10                  within 24 h
3     2013-03-04 09:00   +30 h 10                  1 to 3 days
4     2013-03-18 09:00   +100 h 10                 3 to 7 days
5     2013-04-01 09:00   +200 h 10                 more than 7 days
6     2013-04-15 09:00   none yet                  no contact yet
7     2013-05-06 09:00   +1 h 10, then transferred (sender's)
8     received from 7    none (its own)            organisation scope of Acceptess-T only
====  =================  ========================  ==============

(Ten minutes past the hour: see ``test_a_delay_of_exactly_ten_hours_counts_ten`` for why.)

Median of the whole hours of cases 1-5 and 7 (1, 2, 10, 30, 100, 200): the lower median, 10.
Programme-wide, the received case is the same person as case 7 and is left out; its
first contact is its own, not the sender's.
"""

from __future__ import annotations

import datetime as dt

import pytest

from backoffice.extensions import db
from backoffice.services import cases, statistics
from backoffice.services.statistics import Period, Scope
from tests.integration.cases_support import ACCEPTESS_WORKER, AIDES_WORKER, open_case, user
from tests.integration.statistics_support import run_rollup_job

YEAR = 2013
T = dt.datetime
# opened (UTC), hours to the first contact (None: not reached yet)
CASES = [
    (T(2013, 2, 4, 9), 2),
    (T(2013, 2, 11, 9), 10),
    (T(2013, 3, 4, 9), 30),
    (T(2013, 3, 18, 9), 100),
    (T(2013, 4, 1, 9), 200),
    (T(2013, 4, 15, 9), None),
    (T(2013, 5, 6, 9), 1),  # transferred to Acceptess-T afterwards
]
BANDS = {"under_24h": 3, "1_3_days": 1, "3_7_days": 1, "over_7_days": 1, "not_yet": 1}


@pytest.fixture(scope="module")
def first_contacts(app) -> dict:
    with app.app_context():
        actor = user(AIDES_WORKER)
        opened = []
        for when, hours in CASES:
            case = open_case(facts=cases.CaseFacts(department="69", violence_types=["theft"]))
            case.opened_at = when
            if hours is not None:
                # As the social worker would have clicked it then (``now`` = that moment).
                contact = when + dt.timedelta(hours=hours, minutes=10)
                cases.record_first_contact(case, actor, now=contact)
            opened.append(case)
        sender = opened[-1]
        acceptess = user(ACCEPTESS_WORKER).organisation_id
        cases.record_consent(sender, acceptess, "in_person", actor)
        received = cases.transfer_case(sender, acceptess, ["needs"], [], actor).to_case_id
        received_case = db.session.get(cases.Case, received)
        received_case.opened_at = T(2013, 5, 8, 9)
        db.session.commit()
        return {
            "waiting": opened[5].id,
            "aides": actor.organisation_id,
            "acceptess": acceptess,
            "received_contact": received_case.first_contact_at,
        }


def _first_contact(app, live: bool = False, **scope) -> tuple[dict, float | None]:
    with app.test_request_context():
        figures = statistics.compute(Scope(Period.year(YEAR), **scope), live=live)
        presented = statistics.present(figures, None)
    table = presented.tables["first_contact_delays"]
    bands = {row.code: cells[0] for row, cells in table.rows}
    measures = {m.code: values for m, values in presented.measures["first_contact_delays"]}
    return bands, measures["median_first_contact_hours"]["__total__"]


def test_the_programme_reports_the_time_to_first_contact(app, first_contacts):
    run_rollup_job(app, full=True)
    bands, median = _first_contact(app)
    assert {code: n for code, n in bands.items() if n} == BANDS
    assert median == 10.0
    live_bands, live_median = _first_contact(app, live=True)
    assert (live_bands, live_median) == (bands, median)  # the rollup agrees with the records


def test_a_first_contact_recorded_days_later_reaches_the_rollup(app, first_contacts):
    """The usual path: the figures were rolled up, then the contact is recorded two days
    later; it counts at once (its day is computed live) and after the rollup's refresh."""
    run_rollup_job(app, full=True)
    _first_contact(app)
    with app.app_context():
        case = db.session.get(cases.Case, first_contacts["waiting"])
        contact = case.opened_at + dt.timedelta(hours=50, minutes=10)
        cases.record_first_contact(case, user(AIDES_WORKER), now=contact)
        db.session.commit()
    try:
        expected = {**BANDS, "1_3_days": 2}
        del expected["not_yet"]
        for refreshed in (False, True):
            if refreshed:
                run_rollup_job(app)
            bands, median = _first_contact(app)
            assert {code: n for code, n in bands.items() if n} == expected, refreshed
            assert median == 30.0  # 1, 2, 10, 30, 50, 100, 200
    finally:
        with app.app_context():
            db.session.get(cases.Case, first_contacts["waiting"]).first_contact_at = None
            db.session.commit()
    assert _first_contact(app)[0]["not_yet"] == 1


def test_an_association_sees_its_own_first_contacts(app, first_contacts):
    assert first_contacts["received_contact"] is None  # the sender's contact did not travel
    bands, median = _first_contact(app, organisation_id=first_contacts["aides"])
    assert {code: n for code, n in bands.items() if n} == BANDS and median == 10.0
    # The receiving association counts the case it received, not yet contacted by it.
    bands, median = _first_contact(app, organisation_id=first_contacts["acceptess"])
    assert {code: n for code, n in bands.items() if n} == {"not_yet": 1} and median is None


def test_the_dashboard_shows_the_time_to_first_contact(app, login_as, first_contacts):
    client = login_as(AIDES_WORKER)
    html = client.get(f"/statistics/?start={YEAR}-01-01&end={YEAR}-12-31").get_data(as_text=True)
    assert 'id="table-first_contact_delays"' in html
    assert "not available yet" not in html and "pas encore disponible" not in html


def test_a_delay_of_exactly_ten_hours_counts_ten(app):
    with app.app_context():
        case = open_case(facts=cases.CaseFacts(department="69", violence_types=["theft"]))
        case.opened_at = T(2014, 2, 3, 9)
        cases.record_first_contact(case, user(AIDES_WORKER), now=T(2014, 2, 3, 19))
        db.session.commit()
        organisation_id = case.organisation_id
    with app.test_request_context():
        scope = Scope(Period.year(2014), organisation_id=organisation_id)
        presented = statistics.present(statistics.compute(scope), None)
    measures = {m.code: values for m, values in presented.measures["first_contact_delays"]}
    assert measures["median_first_contact_hours"]["__total__"] == 10.0
