"""Each role's home page is its work (issue 18, item 2): what waits, with counts and ages.

The shared test database holds other tests' rows too, so counts are compared before and
after, and lists are read with a long enough list (``home.LIST_LENGTH``) to find this test's
rows whatever came before.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import event, func, select

from backoffice.demo import ACCEPTESS, JASMINE
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.case import Case
from backoffice.models.statistics import FunderReport
from backoffice.security import MODERATOR, SOCIAL_WORKER
from backoffice.services import cases, home, moderation
from backoffice.services.timezones import local_today, to_local
from tests.integration.cases_support import (
    ACCEPTESS_WORKER,
    AIDES_WORKER,
    make_report,
    open_case,
    user,
)
from tests.integration.moderation_support import PASSWORD, new_report, report_in
from tests.integration.outreach_support import make_session

# The home page's queries whatever the number of rows shown: the user with her session, her
# permissions, then for a social worker the deadlines, the overdue actions and the new cases
# (see services/home.py); ``bench/home_pages.py`` times it at 100,000 reports and 50,000
# cases.
HOME_PAGE_QUERIES_SOCIAL_WORKER = 5


@pytest.fixture
def long_lists(monkeypatch):
    monkeypatch.setattr(home, "LIST_LENGTH", 1000)


def section(page: str, name: str) -> str:
    match = re.search(rf'<section[^>]*id="home-{name}".*?</section>', page, re.S)
    return match.group(0) if match else ""


def listed(block: str, name: str) -> str:
    """The list ``home-<name>`` of a section ("" when the section says it is empty)."""
    match = re.search(rf'<ul class="list-unstyled home-{name}">.*?</ul>', block, re.S)
    return match.group(0) if match else ""


def waiting_counts(page: str) -> dict[str, int]:
    found = re.findall(
        r'data-severity="(\w+)"[^>]*>[^<]*<span class="home-count">(\d+)</span>', page
    )
    return {code: int(count) for code, count in found}


def get_home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# --- moderators ------------------------------------------------------------------------------


def test_a_moderator_sees_waiting_reports_by_severity_and_the_oldest_first(
    app, login_as, long_lists
):
    client = login_as("demo-moderator")
    before = waiting_counts(get_home(client))
    assert set(before) == {"dangerous", "risky", "nuisance"}
    with app.app_context():
        dangerous = new_report(incident={"violence_types": ["rape"]})
        risky = new_report(incident={"violence_types": ["theft", "condom_removal"]})
        # Older than the other: before it in the list.
        dangerous.received_at = utcnow() - dt.timedelta(days=900)
        db.session.commit()
        oldest_reference, risky_reference = dangerous.reference, risky.reference
    page = get_home(client)
    after = waiting_counts(page)
    assert after["dangerous"] == before["dangerous"] + 1
    assert after["risky"] == before["risky"] + 1
    oldest = section(page, "moderation").split('class="table table-condensed home-oldest"')[1]
    rows = re.findall(r'<tr data-reference="([^"]+)"', oldest)
    assert rows.index(oldest_reference) < rows.index(risky_reference)
    with app.app_context():  # the oldest first, whatever other tests left waiting
        received = [moderation.report_by_reference(r).received_at for r in rows]
    assert received == sorted(received)
    first_row = oldest.split(f'<tr data-reference="{oldest_reference}"')[1].split("</tr>")[0]
    assert "Dangerous" in first_row and "Received" in first_row and "ago" in first_row
    with app.app_context():  # leaves the open statuses, so that no other list starts with it
        report = moderation.report_by_reference(oldest_reference)
        moderation.perform(report, "claim", user("demo-moderator"))
        moderation.perform(report, "reject", user("demo-moderator"), reason="Test")
        db.session.commit()
    assert waiting_counts(get_home(client))["dangerous"] == before["dangerous"]


def test_a_moderator_sees_the_reports_she_holds_and_the_answers_received(app, login_as, long_lists):
    with app.app_context():
        mine = report_in("in_review").reference
        answered = report_in("needs_info")
        # The person answered the question (services/follow_up.answer): back to review.
        moderation.perform(answered, "info_added", None, details={"source": "worker"})
        db.session.commit()
        answered = answered.reference
        still_asked = report_in("needs_info").reference
    page = get_home(login_as("demo-moderator"))
    block = section(page, "moderation")
    mine_list = listed(block, "mine")
    answers = listed(block, "answers")
    assert f'data-reference="{mine}"' in mine_list
    assert f'data-reference="{answered}"' in answers and "answered" in answers
    assert still_asked not in answers and answered not in mine_list
    # A social worker does not moderate: no moderation section.
    assert "home-moderation" not in get_home(login_as(AIDES_WORKER))


# --- social workers --------------------------------------------------------------------------


def _routed_urgent_case(hours_ago: int, department: str = "93") -> Case:
    """A rape reported ``hours_ago`` hours after it happened, routed to AIDES: a PEP flag."""
    incident = to_local(utcnow() - dt.timedelta(hours=hours_ago), department)
    report = make_report(
        violence_types=["rape"],
        date=incident.date().isoformat(),
        time=incident.strftime("%H:%M"),
        department=department,
    )
    case = cases.route_report(report.id, user(AIDES_WORKER).organisation_id, user("demo-moderator"))
    db.session.commit()
    return case


def test_a_social_worker_sees_running_deadlines_most_urgent_first_and_overdue_actions(
    app, login_as, long_lists
):
    with app.app_context():
        worker = user(AIDES_WORKER)
        later = _routed_urgent_case(hours_ago=2)  # about 46 h left
        sooner = _routed_urgent_case(hours_ago=40)  # about 8 h left
        contraception = open_case(
            facts=cases.CaseFacts(
                incident_date=local_today("75") - dt.timedelta(days=2),
                department="75",
                violence_types=["theft"],
            )
        )
        cases.add_flag(contraception, "emergency_contraception", worker)  # about 3 days left
        late = open_case()
        cases.add_action(late, "call_back", local_today("75") - dt.timedelta(days=2), None, worker)
        db.session.commit()
        refs = [sooner.reference, later.reference, contraception.reference, late.reference]
        sooner_ref, later_ref, contraception_ref, late_ref = refs
        # Another association's urgent case and overdue action.
        theirs = open_case(
            ACCEPTESS_WORKER,
            facts=cases.CaseFacts(
                incident_date=local_today("93"), department="93", violence_types=["rape"]
            ),
        )
        cases.add_action(
            theirs, "call_back", local_today("93") - dt.timedelta(days=3), None,
            user(ACCEPTESS_WORKER),
        )  # fmt: skip
        db.session.commit()
        assert theirs.open_flags
        their_reference = theirs.reference

    page = get_home(login_as(AIDES_WORKER))
    block = section(page, "cases")
    deadlines = listed(block, "deadlines")
    order = re.findall(r'<li class="home-deadline" data-reference="([^"]+)"', deadlines)
    mine = [r for r in order if r in refs]
    assert mine == [sooner_ref, later_ref, contraception_ref]
    row = deadlines.split(f'data-reference="{sooner_ref}"')[1].split("</li>")[0]
    assert "Post-exposure treatment (PEP) within 48 hours" in row and " left" in row
    assert row.startswith(' data-urgency="soon"')  # under 12 hours: marked
    later_row = deadlines.split(f'data-reference="{later_ref}"')[1]
    assert later_row.startswith(' data-urgency="running"')
    contraception_row = deadlines.split(f'data-reference="{contraception_ref}"')[1]
    assert "Emergency contraception within 5 days" in contraception_row.split("</li>")[0]
    overdue = listed(block, "overdue")
    line = overdue.split(f'data-reference="{late_ref}"')[1].split("</li>")[0]
    assert 'class="text-danger"' in overdue and "overdue" in line and "Call back" in line
    assert "yours" in line
    assert their_reference not in page

    other = get_home(login_as(ACCEPTESS_WORKER))
    assert their_reference in section(other, "cases")
    assert not any(reference in other for reference in refs)


def test_a_routed_case_shows_as_new_until_someone_reaches_her(app, login_as, long_lists):
    with app.app_context():
        case = _routed_urgent_case(hours_ago=5)
        reference, case_id = case.reference, case.id
    client = login_as(AIDES_WORKER)
    new = listed(section(get_home(client), "cases"), "new-cases")
    line = new.split(f'data-reference="{reference}"')[1].split("</li>")[0]
    assert "Routed from a report" in line and "urgent" in line and "ago" in line
    assert reference not in section(get_home(login_as(ACCEPTESS_WORKER)), "cases")
    with app.app_context():
        cases.record_first_contact(db.session.get(Case, case_id), user(AIDES_WORKER))
        db.session.commit()
    assert reference not in listed(section(get_home(client), "cases"), "new-cases")


def test_the_home_page_decrypts_nothing_and_takes_a_fixed_number_of_queries(app, login_as):
    client = login_as(AIDES_WORKER)
    with app.app_context():
        _routed_urgent_case(hours_ago=3)
    get_home(client)
    few, audited = _queries_and_audit(app, client)
    with app.app_context():
        for hours in range(4, 16):
            _routed_urgent_case(hours_ago=hours)
        worker = user(AIDES_WORKER)
        for _ in range(12):
            case = open_case()
            cases.add_action(
                case, "check_in", local_today("75") - dt.timedelta(days=1), None, worker
            )
        db.session.commit()
    many, audited_after = _queries_and_audit(app, client)
    assert many == few <= HOME_PAGE_QUERIES_SOCIAL_WORKER, f"{few} then {many} queries"
    assert audited == audited_after == 0


def _queries_and_audit(app, client) -> tuple[int, int]:
    with app.app_context():
        engine = db.engine
        events_before = db.session.scalar(select(func.count(AuditEvent.id)))
        db.session.remove()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        get_home(client)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        written = db.session.scalar(select(func.count(AuditEvent.id))) - events_before
    return len(statements), written


# --- coordinators and outreach ---------------------------------------------------------------


def test_a_coordinator_sees_the_latest_builds_and_this_months_key_figures(app, login_as):
    with app.app_context():
        today = utcnow().date()
        db.session.add(
            FunderReport(
                period_start=dt.date(today.year, 1, 1),
                period_end=today,
                language="en",
                status="failed",
                error="test",
                requested_at=utcnow(),  # the newest
            )
        )
        db.session.commit()
    page = get_home(login_as("demo-coordinator"))
    block = section(page, "coordination")
    assert 'data-figure="reports"' in block and "Reports received" in block
    assert 'data-figure="cases"' in block
    builds = listed(block, "builds")
    assert '<li data-status="failed">' in builds.split("</li>")[0] and "Failed" in builds
    assert "home-moderation" not in page and "home-cases" not in page


def test_an_outreach_worker_sees_her_association_s_open_rounds(app, login_as, long_lists):
    with app.app_context():
        ours = make_session(JASMINE, day=utcnow().date())
        closed = make_session(JASMINE, day=utcnow().date())
        closed.status = "closed"
        theirs = make_session(ACCEPTESS, username=None, day=utcnow().date())
        db.session.commit()
        ours_ref, closed_ref, their_ref = ours.reference, closed.reference, theirs.reference
    block = section(get_home(login_as("demo-outreach")), "outreach")
    assert f'data-reference="{ours_ref}"' in block and "0 contacts" in block
    assert closed_ref not in block and their_ref not in block


# --- several roles, and nobody --------------------------------------------------------------


def test_a_user_with_several_roles_sees_each_of_her_sections(app, login_as):
    with app.app_context():
        sm = app.appbuilder.sm
        found = sm.find_user(username="test-home-two-roles")
        if found is None:
            found = sm.add_user(
                username="test-home-two-roles",
                first_name="Nadia",
                last_name="Test",
                email="test-home-two-roles@demo.invalid",
                role=[sm.find_role(MODERATOR), sm.find_role(SOCIAL_WORKER)],
                password=PASSWORD,
            )
            found.organisation_id = user(AIDES_WORKER).organisation_id
            db.session.commit()
    page = get_home(login_as("test-home-two-roles"))
    assert section(page, "moderation") and section(page, "cases")
    assert not section(page, "coordination") and not section(page, "outreach")


def test_signed_out_visitors_see_the_sign_in_invitation_only(client):
    page = get_home(client)
    assert "Sign in" in page and "home-moderation" not in page and "home-cases" not in page


def test_in_french_counts_agree_and_ages_read_il_y_a(app, login_as):
    """French, the product's language: plurals through ngettext, ages as "il y a 3 h"."""
    with app.app_context():
        reference = new_report(incident={"violence_types": ["rape"]}).reference
        report = moderation.report_by_reference(reference)
        report.received_at = utcnow() - dt.timedelta(hours=3, minutes=10)
        db.session.commit()
    client = login_as("demo-moderator")
    client.get("/lang/fr")
    block = section(get_home(client), "moderation")
    assert re.search(r"\d+ signalements? en attente", block)
    assert "Les plus anciens d'abord" in block or "Les plus anciens d&#39;abord" in block
    assert "il y a " in block
    with app.app_context():  # out of the oldest-first lists of the other tests
        report = moderation.report_by_reference(reference)
        moderation.perform(report, "claim", user("demo-moderator"))
        moderation.perform(report, "reject", user("demo-moderator"), reason="Test")
        db.session.commit()
