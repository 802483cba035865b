"""The case pages as a social worker and a moderator use them.

Requests run outside the test's own app context (``with app.app_context()`` around database
work only): a request made inside an active app context would share its ``g`` with the
test, and with the other requests (CSRF token, once-per-request audit).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import event, func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.case import ERASURE_REASONS, Case, CaseNote
from backoffice.services import cases
from backoffice.services.timezones import local_today, to_local, zone_of_user
from tests.conftest import csrf_token
from tests.integration.cases_support import (
    AIDES_WORKER,
    make_report,
    open_case,
    structure,
    unique,
    unique_phone,
    user,
)
from tests.integration.test_case_access import case_routes
from tests.integration.test_cases import _second_social_worker


def _case_total(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Case.id)))


def test_opening_a_case_through_the_form(app, login_as):
    client = login_as(AIDES_WORKER)
    token = csrf_token(client, "/cases/new")
    name = unique("Jade")
    form = {
        "csrf_token": token,
        "victim_name": name,
        "victim_phone": "not a number",
        "incident_date": "2026-02-30",
        "violence_types": ["theft"],
        "consent_follow_up": "1",
    }
    before = _case_total(app)
    page = client.post("/cases/new", data=form)
    assert page.status_code == 200 and "alert-danger" in page.get_data(as_text=True)
    assert name in page.get_data(as_text=True)  # what she typed is kept in the form
    form["incident_date"] = "2026-02-03"
    page = client.post("/cases/new", data=form)
    assert re.search(r"phone|téléphone", page.get_data(as_text=True), re.I)
    assert _case_total(app) == before

    form["victim_phone"] = unique_phone()
    response = client.post("/cases/new", data=form)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert name in page and "C-" in page


def test_no_input_produces_a_server_error(app, login_as):
    with app.app_context():
        case = open_case()
        note = cases.add_note(case, "Une note.", user(AIDES_WORKER))
        db.session.commit()
        ids = {
            "case_id": case.id,
            "note_id": note.id,
            "referral_id": 0,
            "action_id": 0,
            "consent_id": 0,
            "flag_id": 0,
            "evidence_id": 0,
            "legal_consent_id": 0,
            "complaint_id": 0,
            "report_id": 0,
        }
    client = login_as(AIDES_WORKER)
    token = csrf_token(client, "/cases/new")
    garbage = {
        "csrf_token": token,
        **dict.fromkeys(
            [
                "status",
                "outcome",
                "kind",
                "resolution",
                "reason",
                "need",
                "channel",
                "due_on",
                "deadline",
                "appointment_at",
                "incident_date",
                "incident_time",
                "department",
                "assignee_id",
                "partner_id",
                "structure_id",
                "organisation_id",
                "page",
            ],
            "\x00' OR 1=1 --",
        ),
        "items": ["nope"],
        "note_ids": ["abc", "999999999999"],
        "body": "x" * 30_000,
    }
    for rule in case_routes(app):
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method == "GET":
                response = client.get(url + "?page=-3&opened_from=2026-13-45&assignee=x&need=%00")
            else:
                response = client.post(url, data=garbage)
            assert response.status_code < 500, f"{method} {url}: {response.status_code}"
    with app.app_context():
        assert db.session.get(Case, ids["case_id"]).status == "open"


def _note_text(app, note_id: int) -> str:
    with app.app_context():
        return cases.read_note(db.session.get(CaseNote, note_id))


def test_only_the_author_may_edit_a_note_from_the_page(app, login_as):
    with app.app_context():
        case = open_case()
        note = cases.add_note(case, "Texte d'origine.", user(AIDES_WORKER))
        db.session.commit()
        colleague = _second_social_worker(case.organisation_id).username
        case_id, note_id = case.id, note.id
    client = login_as(colleague)
    token = csrf_token(client, "/cases/new")
    assert client.get(f"/cases/notes/{note_id}/edit").status_code == 302
    client.post(f"/cases/notes/{note_id}/edit", data={"csrf_token": token, "body": "Réécrit"})
    client.post(
        f"/cases/notes/{note_id}/correct", data={"csrf_token": token, "body": "Une correction."}
    )
    assert _note_text(app, note_id) == "Texte d'origine."
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert page.index("Texte d&#39;origine.") < page.index("Une correction.")

    author = login_as(AIDES_WORKER)
    token = csrf_token(author, "/cases/new")
    assert author.get(f"/cases/notes/{note_id}/edit").status_code == 200
    author.post(f"/cases/notes/{note_id}/edit", data={"csrf_token": token, "body": "Corrigé."})
    assert _note_text(app, note_id) == "Corrigé."


def test_the_case_page_audits_each_note_once_and_the_audit_view_shows_no_text(app, login_as):
    texts = [unique("Confidential note text") for _ in range(3)]
    with app.app_context():
        case = open_case()
        notes = [cases.add_note(case, text, user(AIDES_WORKER)) for text in texts]
        db.session.commit()
        case_id, reference, note_ids = case.id, case.reference, [str(n.id) for n in notes]

    def decrypt_events() -> list[AuditEvent]:
        with app.app_context():
            return db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "decrypt",
                    AuditEvent.object_type == "CaseNote",
                    AuditEvent.object_id.in_(note_ids),
                )
            ).all()

    worker = login_as(AIDES_WORKER)
    page = worker.get(f"/cases/{case_id}").get_data(as_text=True)
    assert all(text in page for text in texts)
    assert len(decrypt_events()) == 3
    worker.get(f"/cases/{case_id}")
    events = decrypt_events()
    assert len(events) == 6  # every reading, once per note and request
    # codes and the case's reference only (the trail then says "read 3 notes of case C-…")
    expected = {"field": "body", "case": reference}
    assert all(e.details == expected and e.actor_name == AIDES_WORKER for e in events)

    admin = login_as("demo-admin")
    listing = admin.get("/audit/list/?psize_AuditEventView=100").get_data(as_text=True)
    shown = admin.get(f"/audit/show/{events[0].id}").get_data(as_text=True)
    assert "decrypt" in listing and "body" in shown
    for text in texts:
        assert text not in listing and text not in shown
    assert admin.get(f"/cases/{case_id}").status_code == 403


def test_erasing_through_the_page_needs_the_typed_reason(app, login_as):
    name = unique("Sofia")
    with app.app_context():
        case = open_case(contact=cases.Contact(name=name))
        case_id, reference = case.id, case.reference
    client = login_as(AIDES_WORKER)
    token = csrf_token(client, f"/cases/{case_id}/erase")
    page = client.post(
        f"/cases/{case_id}/erase",
        data={"csrf_token": token, "reason": "person_request", "confirmation": "ok"},
    )
    assert page.status_code == 200 and "alert-danger" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Case, case_id).erased_at is None
    with app.test_request_context(method="POST"):
        label = str(ERASURE_REASONS["person_request"])
    response = client.post(
        f"/cases/{case_id}/erase",
        data={"csrf_token": token, "reason": "person_request", "confirmation": label},
    )
    assert response.status_code == 302
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert name not in page and reference in page
    with app.app_context():
        assert db.session.get(Case, case_id).is_erased


def test_a_moderator_routes_a_report_and_the_association_sees_a_summary(app, login_as):
    pseudonym = unique("Elena")
    narrative = unique("Récit restreint aux modérateurs")
    with app.app_context():
        today = local_today("93")
        report = make_report(
            pseudonym=pseudonym,
            narrative=narrative,
            date=today.isoformat(),
            time="00:00",
            violence_types=["condom_removal"],
        )
        report_id, reference, phone = report.id, report.reference, report.victim_phone
        aides = user(AIDES_WORKER).organisation_id
    moderator = login_as("demo-moderator")
    page = moderator.get("/cases/routing/").get_data(as_text=True)
    cell = page[page.index(reference) : page.index("</td>", page.index(reference))]
    assert re.search(r"(PEP|TPE) ?: \d+ h", cell)  # the 48-hour window is open: route it first
    assert pseudonym not in page and narrative not in page and phone not in page

    token = csrf_token(moderator, "/cases/routing/")
    response = moderator.post(
        f"/cases/routing/{report_id}", data={"csrf_token": token, "organisation_id": str(aides)}
    )
    assert response.status_code == 302
    assert reference not in moderator.get("/cases/routing/").get_data(as_text=True)
    with app.app_context():
        case = db.session.scalar(select(Case).where(Case.report_id == report_id))
        assert case.organisation_id == aides
        assert any(f.kind == "pep" for f in case.flags)  # condom removal: 48-hour deadline
        case_id = case.id

    page = login_as(AIDES_WORKER).get(f"/cases/{case_id}").get_data(as_text=True)
    assert pseudonym in page and reference in page and narrative not in page


def test_the_list_shows_names_only_on_request_and_logs_it(app, login_as):
    name = unique("Valentina")
    with app.app_context():
        case = open_case(contact=cases.Contact(name=name))
        reference = case.reference
    client = login_as(AIDES_WORKER)
    query = f"/cases/?reference={reference}&status=all"
    page = client.get(query).get_data(as_text=True)
    assert reference in page and name not in page
    page = client.get(query + "&names=1").get_data(as_text=True)
    assert name in page
    with app.app_context():
        logged = select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "decrypt", AuditEvent.object_id == reference
        )
        assert db.session.scalar(logged) == 1


def test_my_actions_page_lists_overdue_and_upcoming(app, login_as):
    with app.app_context():
        case = open_case()
        worker = user(AIDES_WORKER)
        cases.add_action(
            case,
            "call_back",
            local_today(zone_of_user(worker)) - dt.timedelta(days=1),
            worker.id,
            worker,
        )
        db.session.commit()
        reference = case.reference
    page = login_as(AIDES_WORKER).get("/cases/actions/").get_data(as_text=True)
    assert reference in page


def _first_contact_at(app, case_id: int):
    with app.app_context():
        return db.session.get(Case, case_id).first_contact_at


def test_the_first_contact_is_recorded_from_the_case_page_once(app, login_as):
    with app.app_context():
        case = open_case()
        case.opened_at = utcnow() - dt.timedelta(hours=3, minutes=10)
        db.session.commit()
        case_id, opened = case.id, case.opened_at
        zone = zone_of_user(user(AIDES_WORKER))  # the form's times are the reader's
        future = to_local(utcnow() + dt.timedelta(days=1), zone)
        before = to_local(opened - dt.timedelta(hours=1), zone)
    client = login_as(AIDES_WORKER)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'name="first_contact_at"' in page
    token = csrf_token(client, f"/cases/{case_id}")
    url = f"/cases/{case_id}/first-contact"
    for moment, message in ((future, r"future|futur"), (before, r"opening|ouverture")):
        typed = moment.strftime("%Y-%m-%dT%H:%M")
        response = client.post(url, data={"csrf_token": token, "first_contact_at": typed})
        assert response.status_code == 302
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "alert-danger" in shown and re.search(message, shown)
        assert _first_contact_at(app, case_id) is None
    for garbage in ("\x00' OR 1=1 --", "2026-02-30T10:00", "9999-12-31T23:59"):
        response = client.post(url, data={"csrf_token": token, "first_contact_at": garbage})
        assert response.status_code == 302 and _first_contact_at(app, case_id) is None

    # Empty date: now. The page then shows it with the delay since the opening.
    response = client.post(url, data={"csrf_token": token, "first_contact_at": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("#first-contact")
    recorded = _first_contact_at(app, case_id)
    assert recorded is not None and utcnow() - recorded < dt.timedelta(minutes=1)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r"3 h 1\d min (after opening|après l&#39;ouverture)", page)
    assert 'name="first_contact_at"' not in page
    response = client.post(url, data={"csrf_token": token, "first_contact_at": ""})
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"already recorded|déjà enregistré", shown)
    assert _first_contact_at(app, case_id) == recorded


def test_another_association_cannot_record_a_first_contact(app, login_as):
    with app.app_context():
        case = open_case()
        case_id, version = case.id, case.version_id
    client = login_as("demo-social-b")
    token = csrf_token(client, "/cases/new")
    response = client.post(f"/cases/{case_id}/first-contact", data={"csrf_token": token})
    assert response.status_code == 404
    with app.app_context():
        unchanged = db.session.get(Case, case_id)
        assert unchanged.first_contact_at is None and unchanged.version_id == version
    coordinator = login_as("demo-coordinator")
    token = csrf_token(coordinator, "/resetmypassword/form")
    response = coordinator.post(f"/cases/{case_id}/first-contact", data={"csrf_token": token})
    assert response.status_code == 403 and _first_contact_at(app, case_id) is None


def _page_and_queries(app, client, url: str) -> tuple[str, int]:
    """The page at ``url`` and the number of SQL statements its request ran."""
    with app.app_context():
        engine = db.engine
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return response.get_data(as_text=True), len(statements)


# The case page's queries (issue 16: at most 10): the user with her sign-in session, her
# permissions, the case with its evidence list, the organisations and colleagues, history,
# referrals, actions, notes, and the audit chain's head for the one INSERT of every
# decryption.
CASE_PAGE_QUERIES = 10


def test_the_case_page_takes_a_constant_number_of_queries_whatever_its_notes(app, login_as):
    """A full case (routed report, urgent flag, needs, referral, action, consent, a transfer,
    a corrected note) in a constant number of queries, every note still decrypted and
    audited: 2 notes or 122, the same count (``bench/cases.py`` times it)."""
    with app.app_context():
        actor = user(AIDES_WORKER)
        partner = user("demo-social-b").organisation_id
        report = make_report(
            violence_types=["rape"], date=local_today("93").isoformat(), time="00:00"
        )
        case = cases.route_report(report.id, actor.organisation_id, user("demo-moderator"))
        cases.assign(case, actor.id, actor)
        cases.set_needs(case, {"health": "in_progress", "legal": "identified"}, actor)
        first = cases.add_note(case, unique("Premier entretien"), actor)
        cases.add_note(case, unique("Correction"), actor, corrects=first)
        cases.add_referral(case, structure().id, "health", actor, notes="Orientation CeGIDD")
        cases.add_action(case, "call_back", local_today("93"), None, actor, details="Rappeler")
        cases.record_consent(case, partner, "phone", actor)
        cases.transfer_case(case, partner, ["needs"], [], actor)
        db.session.commit()
        case_id = case.id
        assert case.open_flags and case.report_id
    client = login_as(AIDES_WORKER)
    url = f"/cases/{case_id}"
    client.get(url)
    page, few = _page_and_queries(app, client, url)
    assert "Orientation CeGIDD" in page and "Rappeler" in page and "Correction" in page
    # The case goes to colleagues who may hold cases: not to AIDES's partner relay, Rita.
    start = page.index('name="assignee_id"')
    choices = page[start : page.index("</select>", start)]
    assert "Samia" in choices and "Rita" not in choices

    with app.app_context():
        case = db.session.get(Case, case_id)
        texts = [unique("Suivi") for _ in range(120)]
        for text in texts:
            cases.add_note(case, text, user(AIDES_WORKER))
        db.session.commit()
        ids = db.session.scalars(select(CaseNote.id).where(CaseNote.case_id == case_id))
        note_ids = [str(i) for i in ids]
    page, many = _page_and_queries(app, client, url)
    assert all(text in page for text in texts)
    assert many == few <= CASE_PAGE_QUERIES, f"{few} queries with 2 notes, {many} with 122"
    with app.app_context():
        audited = select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "decrypt",
            AuditEvent.object_type == "CaseNote",
            AuditEvent.object_id.in_(note_ids),
        )
        # Each reading of each note: the first two read three times, the others once.
        assert db.session.scalar(audited) == 2 * 3 + 120
