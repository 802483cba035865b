"""The case rules: opening, deadlines, notes, referrals, transfers, closure, erasure, search."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from flask import g
from flask_babel import force_locale
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.case import Case, CaseEvent, CaseNote, FollowUpAction, Referral
from backoffice.models.organisation import Organisation
from backoffice.security import OutOfScope, scoped_get
from backoffice.services import audit, cases, confidential
from backoffice.services.cases import CaseFacts, CaseRuleError, Contact
from backoffice.services.confidential import ErasedError
from backoffice.services.crypto import DecryptionError
from backoffice.services.timezones import to_local, to_utc, zone_of_user
from tests.integration.cases_support import (
    ACCEPTESS_WORKER,
    AIDES_WORKER,
    make_report,
    open_case,
    structure,
    unique,
    unique_phone,
    user,
)


def organisation_of(username: str) -> Organisation:
    return user(username).organisation


def case_count() -> int:
    return db.session.scalar(select(func.count(Case.id)))


# --- opening -----------------------------------------------------------------------------------


def test_a_case_opened_in_the_field_needs_consent_and_seals_the_contact(app_context):
    actor = user(AIDES_WORKER)
    contact = Contact(name="Lila Terrain", phone="07 98 76 54 32", email="Lila@Example.org")
    before = case_count()
    with pytest.raises(CaseRuleError, match="consent"):
        cases.open_direct(actor, contact, CaseFacts(), consent_follow_up=False)
    assert case_count() == before

    case = cases.open_direct(actor, contact, CaseFacts(), ["legal"], actor.id, True)
    db.session.commit()
    assert case.reference.startswith(f"C-{utcnow().year}-")
    assert case.organisation_id == actor.organisation_id
    row = db.session.execute(
        select(Case.victim_name_sealed, Case.victim_phone_sealed).where(Case.id == case.id)
    ).one()
    assert "Lila" not in row[0] and "98 76" not in row[1] and "987654" not in row[1]
    assert case.victim_phone == "+33798765432"
    assert case.victim_email == "lila@example.org"
    assert case.need_codes == ["legal"]


@pytest.mark.parametrize(
    ("contact", "facts", "needs", "message"),
    [
        (Contact(phone="not a phone"), CaseFacts(), [], "phone"),
        (Contact(email="nobody@"), CaseFacts(), [], "email"),
        (Contact(), CaseFacts(incident_date=dt.date.today() + dt.timedelta(days=5)), [], "future"),
        (Contact(), CaseFacts(department="99"), [], "department"),
        (Contact(), CaseFacts(violence_types=["bad_code"]), [], "choices"),
        (Contact(), CaseFacts(), ["space_travel"], "choices"),
        (Contact(name="x" * 500), CaseFacts(), [], "too long"),
        (Contact(instructions="bell\x07"), CaseFacts(), [], "not allowed"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_creates_nothing(
    app_context, contact, facts, needs, message
):
    before = case_count()
    with pytest.raises(CaseRuleError, match=message):
        cases.open_direct(user(AIDES_WORKER), contact, facts, needs, None, True)
    db.session.rollback()
    assert case_count() == before


def test_a_case_goes_only_to_a_social_worker_of_the_same_association(app_context):
    other = user(ACCEPTESS_WORKER)
    with pytest.raises(CaseRuleError, match="social worker"):
        cases.open_direct(user(AIDES_WORKER), Contact(), CaseFacts(), [], other.id, True)
    moderator = user("demo-moderator")
    with pytest.raises(CaseRuleError, match="social worker"):
        cases.open_direct(user(AIDES_WORKER), Contact(), CaseFacts(), [], moderator.id, True)


# --- urgent deadlines --------------------------------------------------------------------------


def test_pep_deadline_is_48_hours_after_the_incident_in_local_time():
    winter = cases.flag_deadline("pep", dt.date(2026, 1, 10), dt.time(22, 30), "75")
    assert winter == dt.datetime(2026, 1, 12, 21, 30)  # Paris is UTC+1 in winter
    summer = cases.flag_deadline("pep", dt.date(2026, 7, 10), dt.time(22, 30), "13")
    assert summer == dt.datetime(2026, 7, 12, 20, 30)  # UTC+2 in summer
    guyane = cases.flag_deadline("pep", dt.date(2026, 7, 10), dt.time(22, 30), "973")
    assert guyane == dt.datetime(2026, 7, 13, 1, 30)  # Cayenne is UTC-3
    # Time unknown: counted from the start of the day, so the deadline is never too late.
    unknown = cases.flag_deadline("pep", dt.date(2026, 1, 10), None, "75")
    assert unknown == dt.datetime(2026, 1, 11, 23, 0)
    assert cases.flag_deadline("pep", None, None, "75") is None
    assert cases.flag_deadline("safety", dt.date(2026, 1, 10), None, "75") is None


def test_time_left_is_computed_and_described(app_context):
    deadline = dt.datetime(2026, 1, 12, 21, 30)
    left = cases.time_left(deadline, now=dt.datetime(2026, 1, 11, 14, 10))
    assert left == dt.timedelta(hours=31, minutes=20)
    with app_context.test_request_context(method="POST"):
        assert cases.describe_time_left(left) in ("31 h 20 min left", "31 h 20 min restantes")
        passed = cases.describe_time_left(
            cases.time_left(deadline, deadline + dt.timedelta(hours=3))
        )
        assert "3 h 00 min" in passed and passed != cases.describe_time_left(left)


def test_a_recent_rape_raises_the_pep_flag_and_corrections_move_it(app_context):
    now_local = to_local(utcnow() - dt.timedelta(hours=5), "75")
    facts = CaseFacts(
        now_local.date(), now_local.time().replace(second=0, microsecond=0), "75", ["rape"]
    )
    case = open_case(facts=facts)
    flag = next(f for f in case.flags if f.kind == "pep")
    left = cases.time_left(flag.deadline)
    assert dt.timedelta(hours=42) < left <= dt.timedelta(hours=43)
    earlier = to_local(utcnow() - dt.timedelta(hours=30), "75")
    facts.incident_date = earlier.date()
    facts.incident_time = earlier.time().replace(second=0, microsecond=0)
    cases.update_case(case, user(AIDES_WORKER), cases.read_contact(case), facts)
    db.session.commit()
    assert dt.timedelta(hours=17) < cases.time_left(flag.deadline) <= dt.timedelta(hours=18)
    cases.resolve_flag(flag, "done", user(AIDES_WORKER))
    db.session.commit()
    assert flag.resolved_at is not None


def test_no_pep_flag_once_the_window_has_passed_or_without_exposure(app_context):
    old = open_case(facts=CaseFacts(dt.date.today() - dt.timedelta(days=10), None, "75", ["rape"]))
    theft = open_case(facts=CaseFacts(dt.date.today(), None, "75", ["theft"]))
    assert old.flags == [] and theft.flags == []


# --- routing a report --------------------------------------------------------------------------


def test_a_routed_report_opens_a_case_with_the_contact_resealed(app_context):
    pseudonym, phone = unique("Roxana"), unique_phone()
    report = make_report(pseudonym=pseudonym, phone=phone, violence_types=["theft"])
    assert report in cases.routable_reports(limit=10_000)
    programme = organisation_of("demo-moderator")  # no social worker there: nobody would see it
    with pytest.raises(CaseRuleError, match="social workers"):
        cases.route_report(report.id, programme.id, user("demo-moderator"))
    db.session.rollback()
    target = organisation_of(ACCEPTESS_WORKER)
    case = cases.route_report(report.id, target.id, user("demo-moderator"))
    db.session.commit()

    assert case.organisation_id == target.id and case.source == "routed"
    assert case.victim_name == pseudonym
    assert case.victim_phone == report.victim_phone
    assert case.victim_preferred_language == "ro"
    assert case.data_key_id != report.data_key_id
    assert case.victim_name_sealed != report.victim_pseudonym_sealed
    assert case.incident_date == report.incident_date and case.department == "93"
    assert case.intake_consent_share is True
    assert report not in cases.routable_reports(limit=10_000)
    with pytest.raises(CaseRuleError, match="already routed"):
        cases.route_report(report.id, target.id, user("demo-moderator"))
    routed = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "report_routed", AuditEvent.object_id == report.reference
        )
    )
    assert pseudonym not in repr(routed.details) and routed.organisation_id == target.id


def test_a_report_without_consent_to_follow_up_cannot_be_routed(app_context):
    report = make_report(follow_up=False)
    assert report not in cases.routable_reports(limit=10_000)
    with pytest.raises(OutOfScope):
        cases.route_report(report.id, organisation_of(AIDES_WORKER).id, user("demo-moderator"))


# --- notes ---------------------------------------------------------------------------------------


def test_notes_use_the_case_key_and_are_bound_to_their_row(app_context):
    case = open_case()
    first = cases.add_note(case, "Premier entretien.", user(AIDES_WORKER))
    second = cases.add_note(case, "Deuxième entretien.", user(AIDES_WORKER))
    db.session.commit()
    assert first.data_key_id == second.data_key_id == case.data_key_id
    assert first.row_uid != second.row_uid
    assert "entretien" not in first.body_sealed
    second._edit_allowed = True
    second.body_sealed = first.body_sealed  # a ciphertext moved to another note
    with pytest.raises(DecryptionError):
        _ = second.body
    db.session.rollback()
    first.organisation_id = organisation_of(ACCEPTESS_WORKER).id  # or to another association
    with pytest.raises(DecryptionError):
        _ = first.body
    db.session.rollback()


def test_only_the_author_edits_a_note_and_only_for_a_short_while(app_context):
    case = open_case()
    author = user(AIDES_WORKER)
    note = cases.add_note(case, "Rendez-vous mardi.", author)
    db.session.commit()
    cases.edit_note(note, "Rendez-vous mercredi.", author)
    db.session.commit()
    assert cases.read_note(note) == "Rendez-vous mercredi." and note.edited_at is not None

    colleague = _second_social_worker(author.organisation_id)
    with pytest.raises(CaseRuleError, match="correction"):
        cases.edit_note(note, "Changed by a colleague", colleague)
    minutes = app_context.config["CASE_NOTE_EDIT_MINUTES"]
    note.created_at = utcnow() - dt.timedelta(minutes=minutes + 1)
    db.session.commit()
    with pytest.raises(CaseRuleError, match="correction"):
        cases.edit_note(note, "Too late", author)
    with pytest.raises(PermissionError, match="append-only"):
        note.body = "Bypassing the service"
    db.session.rollback()

    correction = cases.add_note(case, "En fait jeudi.", colleague, corrects=note)
    db.session.commit()
    assert correction.corrects_id == note.id
    with app_context.test_request_context(method="POST"):
        g.user = author
        views = cases.read_notes(case, author)
    assert [v.text for v in views] == ["Rendez-vous mercredi."]
    assert [c.text for c in views[0].corrections] == ["En fait jeudi."]
    assert views[0].editable_until is None


def _second_social_worker(organisation_id: int, first_name: str = "Colleague"):
    from flask import current_app

    from backoffice.security import SOCIAL_WORKER

    sm = current_app.appbuilder.sm
    username = unique("colleague")
    colleague = sm.add_user(
        username=username,
        first_name=first_name,
        last_name="Test",
        email=f"{username}@demo.invalid",
        role=sm.find_role(SOCIAL_WORKER),
        password=current_app.config["DEMO_PASSWORD"],  # what login_as signs in with
    )
    colleague.organisation_id = organisation_id
    db.session.commit()
    return colleague


def test_reading_notes_audits_each_note_once_per_request_and_unwraps_the_key_once(app_context):
    case = open_case()
    actor = user(AIDES_WORKER)
    texts = [f"Note confidentielle {i} {unique('x')}" for i in range(5)]
    for text in texts:
        cases.add_note(case, text, actor)
    db.session.commit()
    db.session.expire_all()  # a fresh request: nothing decrypted or unwrapped yet
    keyring = confidential.keyring()
    unwraps = []
    original = keyring.unwrap
    keyring.unwrap = lambda wrapped: unwraps.append(1) or original(wrapped)
    try:
        with app_context.test_request_context(method="POST"):
            g.user = actor
            case = db.session.get(Case, case.id)
            first = cases.read_notes(case, actor)
            second = cases.read_notes(case, actor)
            db.session.flush()
            ids = [str(n.id) for n in first]
            events = db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.object_type == "CaseNote", AuditEvent.object_id.in_(ids)
                )
            ).all()
    finally:
        keyring.unwrap = original
    assert [n.text for n in first] == [n.text for n in second] == texts
    assert len(unwraps) == 1
    decryptions = [e for e in events if e.action == "decrypt" and e.object_type == "CaseNote"]
    assert len(decryptions) == len(texts)
    assert all(e.details == {"field": "body", "case": case.reference} for e in decryptions)
    assert audit.verify(decryptions) == []  # bulk-written events carry valid seals
    db.session.rollback()


# --- referrals ---------------------------------------------------------------------------------


def test_referral_follows_its_status_flow(app_context):
    case = open_case(needs=[])
    actor = user(AIDES_WORKER)
    referral = cases.add_referral(case, structure().id, "health", actor, notes="Proposé.")
    db.session.commit()
    assert referral.status == "proposed" and case.needs[0].status == "in_progress"
    with pytest.raises(CaseRuleError, match="not possible"):
        cases.change_referral(referral, "done", actor)
    cases.change_referral(referral, "accepted", actor)
    with pytest.raises(CaseRuleError, match="appointment"):
        cases.change_referral(referral, "appointment", actor)
    when = dt.datetime(2026, 12, 1, 10, 0)
    cases.change_referral(referral, "appointment", actor, appointment_local=when, note="Mardi 10 h")
    assert referral.appointment_at == dt.datetime(2026, 12, 1, 9, 0)
    cases.change_referral(referral, "done", actor)
    db.session.commit()
    assert referral.status == "done"
    assert "Mardi" not in referral.notes_sealed
    assert referral.notes.startswith("Proposé.\n[") and referral.notes.endswith("] Mardi 10 h")
    with pytest.raises(CaseRuleError, match="not possible"):
        cases.change_referral(referral, "declined", actor)
    with pytest.raises(CaseRuleError, match="structure"):
        cases.add_referral(case, 0, "health", actor)


# --- transfers ---------------------------------------------------------------------------------


def test_a_transfer_needs_consent_naming_the_association(app_context):
    case = open_case()
    actor = user(AIDES_WORKER)
    partner = organisation_of(ACCEPTESS_WORKER)
    with pytest.raises(CaseRuleError, match="consent"):
        cases.transfer_case(case, partner.id, ["contact"], [], actor)
    elsewhere = db.session.scalar(
        select(Organisation).where(Organisation.id.not_in([partner.id, case.organisation_id]))
    )
    cases.record_consent(case, elsewhere.id, "in_person", actor)
    with pytest.raises(CaseRuleError, match="consent"):
        cases.transfer_case(case, partner.id, ["contact"], [], actor)
    consent = cases.record_consent(case, partner.id, "phone", actor)
    cases.withdraw_consent(consent, actor)
    with pytest.raises(CaseRuleError, match="consent"):
        cases.transfer_case(case, partner.id, ["contact"], [], actor)


def test_the_receiver_gets_only_the_chosen_items_and_the_sender_keeps_its_case(app_context):
    actor = user(AIDES_WORKER)
    case = open_case(needs=["health", "shelter"])
    shared = cases.add_note(case, "À transmettre.", actor)
    correction = cases.add_note(case, "Précision transmise.", actor, corrects=shared)
    kept = cases.add_note(case, "Reste chez nous.", actor)
    partner = organisation_of(ACCEPTESS_WORKER)
    cases.record_consent(case, partner.id, "in_person", actor)
    transfer = cases.transfer_case(case, partner.id, ["contact"], [shared.id], actor)
    db.session.commit()

    received = db.session.get(Case, transfer.to_case_id)
    assert received.organisation_id == partner.id and received.source == "transfer"
    assert received.victim_name == case.victim_name and received.data_key_id != case.data_key_id
    assert received.needs == [] and received.incident_date is None
    copies = db.session.scalars(select(CaseNote).where(CaseNote.case_id == received.id)).all()
    assert sorted(cases.read_note(n) for n in copies) == ["Précision transmise.", "À transmettre."]
    assert all(n.transferred and n.author_id is None for n in copies)
    assert kept.id not in {n.id for n in copies} and correction.case_id == case.id
    # The sender keeps everything, with the transfer in its history.
    assert case.status != "closed" and case.need_codes == ["health", "shelter"]
    kinds = [e.kind for e in cases.history_of(case)[0]]
    assert "transferred" in kinds
    assert cases.transfers_of(received)["received"][0].from_organisation_id == case.organisation_id
    with pytest.raises(OutOfScope):  # notes of another case cannot ride along
        cases.transfer_case(case, partner.id, [], [copies[0].id], actor)


# --- status and closure ------------------------------------------------------------------------


def test_status_changes_follow_the_rules_and_closure_needs_an_outcome(app_context):
    case = open_case()
    actor = user(AIDES_WORKER)
    cases.change_status(case, "active", actor)
    with pytest.raises(CaseRuleError, match="not possible"):
        cases.change_status(case, "open", actor)
    with pytest.raises(CaseRuleError):
        cases.close_case(case, "", actor)
    with pytest.raises(CaseRuleError):
        cases.close_case(case, "erased", actor)  # only erasure sets that outcome
    cases.close_case(case, "needs_met", actor)
    db.session.commit()
    assert case.status == "closed" and case.outcome == "needs_met" and case.closed_at
    with pytest.raises(CaseRuleError, match="closed"):
        cases.add_action(case, "call_back", dt.date.today(), None, actor)
    cases.reopen_case(case, actor)
    db.session.commit()
    assert case.status == "active" and case.outcome is None
    events = [e.kind for e in cases.history_of(case)[0]]
    assert events[:3] == ["reopened", "closed", "status_changed"]


def test_a_concurrent_change_fails_instead_of_overwriting(app_context, app):
    case = open_case()
    with app.app_context():  # another request, another session
        other = db.session.get(Case, case.id)
        cases.change_status(other, "waiting", user(AIDES_WORKER))
        db.session.commit()
    from sqlalchemy.orm.exc import StaleDataError

    cases.change_status(case, "active", user(AIDES_WORKER))
    with pytest.raises(StaleDataError):
        db.session.commit()
    db.session.rollback()


# --- erasure -----------------------------------------------------------------------------------


def test_erasure_needs_the_reason_typed_and_destroys_every_confidential_field(app_context):
    actor = user(AIDES_WORKER)
    pseudonym = unique("Ioana")
    report = make_report(pseudonym=pseudonym)
    case = cases.route_report(report.id, actor.organisation_id, user("demo-moderator"))
    cases.set_needs(case, {"health": "in_progress", "legal": "identified"}, actor)
    note = cases.add_note(case, "Très confidentiel.", actor)
    referral = cases.add_referral(case, structure().id, "health", actor, notes="Note d'orientation")
    action = cases.add_action(case, "call_back", dt.date.today(), None, actor, details="Rappeler")
    db.session.commit()
    token = note.body_sealed

    with pytest.raises(CaseRuleError, match="exactly"):
        cases.erase_case(case, "person_request", "yes", actor)
    db.session.rollback()
    assert case.erased_at is None and cases.read_note(note) == "Très confidentiel."

    with app_context.test_request_context(method="POST"):
        label = str(cases.ERASURE_REASONS["person_request"])
        cases.erase_case(case, "person_request", "  " + label.upper() + " ", actor)
    db.session.commit()
    db.session.expire_all()

    case = db.session.get(Case, case.id)
    assert case.is_erased and case.status == "closed" and case.outcome == "erased"
    assert case.data_key.is_destroyed and case.victim_name_sealed is None
    assert cases.read_contact(case) is None
    assert db.session.get(CaseNote, note.id).body_sealed is None
    assert db.session.get(Referral, referral.id).notes_sealed is None
    assert db.session.get(FollowUpAction, action.id).details_sealed is None
    restored = db.session.get(CaseNote, note.id)
    restored.body_sealed = token  # even restored from a backup, the note cannot be read
    with pytest.raises(ErasedError):
        _ = restored.body
    db.session.rollback()
    # Non-personal facts stay for statistics; the source report lost her contact too.
    assert sorted(case.need_codes) == ["health", "legal"] and case.opened_at
    assert db.session.get(type(report), report.id).victim_pseudonym_sealed is None
    erased = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "case_erased", AuditEvent.object_id == case.reference
        )
    )
    assert erased.details == {"reason": "person_request", "notes": 1}
    with pytest.raises(CaseRuleError):
        cases.add_note(case, "After erasure", actor)
    with pytest.raises(CaseRuleError, match="already"):
        cases.erase_case(case, "person_request", label, actor)


# --- search and export ---------------------------------------------------------------------------


def test_search_filters_on_clear_columns_within_my_association(app_context):
    actor = user(AIDES_WORKER)
    mine = open_case(needs=["financial"])
    cases.change_status(mine, "waiting", actor)
    unassigned = open_case(needs=["financial"], assignee_id=None)
    theirs = open_case(ACCEPTESS_WORKER, needs=["financial"])
    db.session.commit()

    def found(**filters) -> set[str]:
        page = cases.list_cases(actor, cases.CaseFilters(**filters), page_size=10_000)
        return {row.reference for row in page.items}

    audits_before = db.session.scalar(select(func.count(AuditEvent.id)))
    assert found(reference=mine.reference.lower()) == {mine.reference}
    assert found(reference=theirs.reference) == set()
    assert {mine.reference, unassigned.reference} <= found(need="financial")
    assert theirs.reference not in found(need="financial")
    assert mine.reference in found(status="waiting") and unassigned.reference not in found(
        status="waiting"
    )
    assert unassigned.reference in found(assignee_id=0) and mine.reference not in found(
        assignee_id=0
    )
    today = dt.date.today()
    assert mine.reference in found(opened_from=today - dt.timedelta(days=1), opened_to=today)
    assert mine.reference not in found(opened_to=today - dt.timedelta(days=2))
    assert db.session.scalar(select(func.count(AuditEvent.id))) == audits_before  # no decryption


def test_export_holds_no_personal_data(app_context):
    name, phone = unique("Nadia"), unique_phone()
    case = open_case(contact=Contact(name=name, phone=phone, email="nadia@example.org"))
    cases.add_note(case, "Contenu de note exporté ?", user(AIDES_WORKER))
    db.session.commit()
    text = _export(app_context, user(AIDES_WORKER))
    assert case.reference in text
    for secret in (name, phone, phone.replace(" ", "")[1:], "nadia@", "Contenu"):
        assert secret not in text
    assert db.session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case.id)) is not None


def _export(app, actor, filters: cases.CaseFilters | None = None, locale: str = "en") -> str:
    """The export as the list page asks for it: a GET, which may only write its audit event."""
    with app.test_request_context(method="GET"), force_locale(locale):
        g.user = actor
        text = cases.export_csv(actor, filters or cases.CaseFilters())
        db.session.flush()  # the audit event: the only write a GET may make
    return text


def _export_rows(text: str) -> dict[str, dict[str, str]]:
    """The export's lines by reference, as a French spreadsheet reads them."""
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:]), delimiter=";")
    return {row["Reference"]: row for row in reader}


def test_the_export_speaks_the_readers_language_and_defuses_formulas(app_context):
    actor = user(AIDES_WORKER)
    # A colleague whose name reads like a formula: the staff column is the only free text.
    colleague = _second_social_worker(actor.organisation_id, first_name="=HYPERLINK(1)")
    case = open_case(needs=["health", "legal"], assignee_id=colleague.id)
    cases.close_case(case, "needs_met", actor)
    db.session.commit()
    only_this = cases.CaseFilters(reference=case.reference, status=None)
    text = _export(app_context, actor, only_this, locale="fr")
    header, line = (row.split(";") for row in text[1:].splitlines())
    assert header[:3] == ["Référence", "Statut", "Source"]
    assert line[:3] and line[0] == case.reference and line[2] == "Ouvert sur le terrain"
    assert "Santé, Juridique" in line and "Besoins satisfaits" in line and "needs_met" not in line
    opened = to_local(case.opened_at, zone_of_user(actor)).date()
    assert line[3] == opened.strftime("%d/%m/%Y")  # a French date, in the reader's zone

    row = _export_rows(_export(app_context, actor, only_this))[case.reference]
    assert row["Status"] == "Closed" and row["Needs"] == "Health, Legal"
    assert row["Outcome"] == "Needs met" and row["Violence"] == "Theft"
    assert row["Followed by"].startswith("'=HYPERLINK")


# --- first contact -------------------------------------------------------------------------------


def _local(moment: dt.datetime, department: str | None) -> dt.datetime:
    """What a social worker types in the form: wall-clock time in the case's department."""
    return to_local(moment, department).replace(tzinfo=None, second=0, microsecond=0)


def test_the_first_contact_is_recorded_once_and_audited_with_codes_only(app_context):
    actor = user(AIDES_WORKER)
    case = open_case()
    case.opened_at = utcnow() - dt.timedelta(hours=5, minutes=30)
    assert cases.first_contact_delay(case) is None
    recorded = cases.record_first_contact(case, actor)
    db.session.commit()
    assert case.first_contact_at == recorded and utcnow() - recorded < dt.timedelta(minutes=1)
    assert dt.timedelta(hours=5) < cases.first_contact_delay(case) < dt.timedelta(hours=6)
    event = cases.history_of(case)[0][0]
    assert (event.kind, event.details) == ("first_contact", {"hours": 5, "time": "now"})
    logged = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "case_first_contact_recorded",
            AuditEvent.object_id == case.reference,
        )
    )
    assert logged.details == {"hours": 5, "time": "now"} and logged.actor_name == AIDES_WORKER

    # Once: a second click (or a colleague's) changes nothing, even with another time.
    earlier = _local(recorded - dt.timedelta(hours=2), case.department)
    with pytest.raises(CaseRuleError, match="already"):
        cases.record_first_contact(case, actor, earlier)
    db.session.rollback()
    assert db.session.get(Case, case.id).first_contact_at == recorded


def test_a_first_contact_in_the_future_or_before_the_opening_is_refused(app_context):
    actor = user(AIDES_WORKER)
    case = open_case(facts=CaseFacts(department="973", violence_types=["theft"]))  # Cayenne
    opened = utcnow() - dt.timedelta(days=2)
    case.opened_at = opened
    db.session.commit()
    refused = {
        "future": utcnow() + dt.timedelta(minutes=5),
        "earlier than the opening": opened - dt.timedelta(minutes=2),
    }
    for message, moment in refused.items():
        with pytest.raises(CaseRuleError, match=message) as error:
            cases.record_first_contact(case, actor, _local(moment, "973"))
        assert error.value.field == "first_contact_at"
        db.session.rollback()
        assert db.session.get(Case, case.id).first_contact_at is None
    with pytest.raises(CaseRuleError, match="not valid"):
        cases.record_first_contact(case, actor, dt.datetime(9999, 12, 31, 23, 59))
    db.session.rollback()

    # The time she types is Cayenne's (UTC-3), stored as naive UTC.
    typed = dt.datetime.combine(to_local(opened, "973").date(), dt.time(23, 40))
    if to_utc(typed, "973") < opened:
        typed += dt.timedelta(days=1)
    cases.record_first_contact(case, actor, typed)
    db.session.commit()
    assert case.first_contact_at == typed + dt.timedelta(hours=3)


def test_the_minute_of_the_opening_counts_as_a_contact_at_the_opening(app_context):
    case = open_case()
    case.opened_at = (utcnow() - dt.timedelta(hours=1)).replace(second=42)
    cases.record_first_contact(case, user(AIDES_WORKER), _local(case.opened_at, case.department))
    assert case.first_contact_at == case.opened_at
    assert cases.first_contact_delay(case) == dt.timedelta(0)


def test_a_closed_case_takes_a_first_contact_before_its_closure_and_an_erased_one_none(
    app_context,
):
    actor = user(AIDES_WORKER)
    case = open_case()
    case.opened_at = (utcnow() - dt.timedelta(days=3)).replace(second=0, microsecond=0)
    cases.close_case(case, "lost_contact", actor)
    db.session.commit()
    with pytest.raises(CaseRuleError, match="closed"):
        cases.record_first_contact(case, actor)  # "now" is after the closure
    db.session.rollback()
    day_after = _local(case.opened_at + dt.timedelta(days=1), case.department)
    cases.record_first_contact(case, actor, day_after)
    db.session.commit()
    assert cases.first_contact_delay(case) == dt.timedelta(days=1)

    erased = open_case()
    with app_context.test_request_context(method="POST"):
        label = str(cases.ERASURE_REASONS["entered_by_mistake"])
        cases.erase_case(erased, "entered_by_mistake", label, actor)
    db.session.commit()
    with pytest.raises(CaseRuleError, match="erased"):
        cases.record_first_contact(erased, actor)
    db.session.rollback()
    assert db.session.get(Case, erased.id).first_contact_at is None


def test_a_transferred_case_starts_without_the_senders_first_contact(app_context):
    actor = user(AIDES_WORKER)
    case = open_case()
    cases.record_first_contact(case, actor)
    partner = organisation_of(ACCEPTESS_WORKER)
    cases.record_consent(case, partner.id, "phone", actor)
    transfer = cases.transfer_case(case, partner.id, ["contact", "needs", "incident"], [], actor)
    db.session.commit()
    received = db.session.get(Case, transfer.to_case_id)
    assert case.first_contact_at is not None and received.first_contact_at is None
    # The receiving association records its own, on its own case only.
    with pytest.raises(OutOfScope):
        scoped_get(Case, case.id, user(ACCEPTESS_WORKER))
    cases.record_first_contact(received, user(ACCEPTESS_WORKER))
    db.session.commit()
    assert received.first_contact_at >= case.first_contact_at


def test_the_export_gives_the_first_contact_date_and_delay(app_context):
    case = open_case()
    case.opened_at = utcnow() - dt.timedelta(hours=30, minutes=5)
    cases.record_first_contact(case, user(AIDES_WORKER))
    waiting = open_case()
    db.session.commit()
    actor = user(AIDES_WORKER)
    rows = _export_rows(_export(app_context, actor))
    contacted = rows[case.reference]
    local_day = to_local(case.first_contact_at, zone_of_user(actor)).date()
    assert contacted["First contact"] == local_day.isoformat()
    assert contacted["Hours to first contact"] == "30"
    pending = rows[waiting.reference]
    assert pending["First contact"] == pending["Hours to first contact"] == ""
