"""Outreach rules in the service layer: dedup across spellings, per-line reasons, isolation
between organisations, crypto-shredding at close, retention purge, templates, figures."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select, text

from backoffice.demo import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.outreach import (
    MESSAGE_PURPOSES,
    ContactOutcome,
    MessageTemplate,
    OutreachContact,
)
from backoffice.security import acting_for
from backoffice.services import outreach as service
from backoffice.services.vocabulary import ALERT_LANGUAGES
from tests.integration.outreach_support import (
    fresh_mobile,
    make_session,
    organisation_id,
    outreach_users_fixture,  # noqa: F401 - the outreach_users fixture
    spellings,
)


def _statuses(result) -> list[str]:
    return [line.status for line in result.lines]


def test_the_same_number_in_three_spellings_is_one_contact(app_context):
    session = make_session()
    national, international, zeros = spellings(fresh_mobile())
    first = service.check_batch(
        f"{national}\n{international}\n{zeros}", acting_for(session.organisation_id)
    )
    assert _statuses(first) == ["new", "duplicate", "duplicate"]
    assert [line.duplicate_of for line in first.lines] == [None, 1, 1]

    added = service.add_contacts(session, national)
    db.session.commit()
    assert added.added == 1

    for spelling in (national, international, zeros):
        again = service.check_batch(spelling, acting_for(session.organisation_id))
        assert _statuses(again) == ["known"]
        previous = again.lines[0].previous
        assert previous.session_id == session.id
        assert previous.session_reference == session.reference
        assert previous.session_date == session.session_date
        assert "Olga" in previous.team


def test_adding_twice_adds_nothing_and_handles_are_deduplicated_too(app_context):
    session = make_session()
    handle = f"@Lila.{fresh_mobile().replace(' ', '')}"
    url = "https://www.instagram.com/" + handle[1:] + "/"
    service.add_contacts(session, f"{handle}\n{url}")
    db.session.commit()
    # Pseudonyms ignore case; links lose www., the trailing slash and tracking parameters.
    again = f"{handle.lower()}\nhttp://instagram.com/{handle[1:]}?utm_source=x"
    result = service.add_contacts(session, again)
    assert result.added == 0
    assert result.already_known == 2


def test_every_unusable_line_gets_a_reason_and_blank_lines_are_skipped(app_context):
    session = make_session()
    good = fresh_mobile()
    paste = "\n".join(
        [
            good,
            "",
            "   ",
            "06 12",  # too short
            "06 12 34 56 78 90 12 34 56 78 90",  # too long
            "06 12 34 56 78 Lila",  # letters with a number
            "bonjour",  # not a number, no @
            "06#12#34#56#78",  # characters
            "x" * 400,  # far too long for a line
            "@",  # an empty handle
            f'"{good}";',  # the same number from a spreadsheet export
        ]
    )
    result = service.check_batch(paste, acting_for(session.organisation_id))
    by_line = {line.number: line for line in result.lines}
    assert set(by_line) == {1, 4, 5, 6, 7, 8, 9, 10, 11}  # blank lines 2 and 3 skipped
    assert by_line[1].status == "new"
    expected = {
        4: "phone_too_short",
        5: "phone_too_long",
        6: "phone_letters",
        7: "unrecognised",
        8: "phone_characters",
        9: "line_too_long",
        10: "handle_invalid",
    }
    for number, reason in expected.items():
        assert by_line[number].status == "invalid", number
        assert by_line[number].reason == reason, number
        assert by_line[number].reason_text  # a sentence the volunteer can act on
    assert by_line[11].status == "duplicate" and by_line[11].duplicate_of == 1
    assert len(by_line[9].shown) <= service.SHOWN_LINE_LENGTH + 1
    assert result.counts == {"new": 1, "known": 0, "duplicate": 1, "invalid": 7}


def test_a_batch_over_the_limit_is_refused_with_a_message(app_context):
    app_context.config["OUTREACH_BATCH_MAX_LINES"] = 3
    try:
        with pytest.raises(service.OutreachError, match="3"):
            service.check_batch("\n".join(fresh_mobile() for _ in range(4)), acting_for(1))
    finally:
        app_context.config["OUTREACH_BATCH_MAX_LINES"] = 500


def test_another_organisations_contacts_are_never_matched(app_context, outreach_users):
    number = fresh_mobile()
    theirs = make_session(AIDES, username=outreach_users["other"])
    service.add_contacts(theirs, number)
    db.session.commit()
    mine = make_session(JASMINE)
    assert _statuses(service.check_batch(number, acting_for(mine.organisation_id))) == ["new"]
    assert service.add_contacts(mine, number).added == 1  # same number, other organisation
    db.session.commit()
    assert _statuses(service.check_batch(number, acting_for(theirs.organisation_id))) == ["known"]
    aides_view = service.check_batch(number, acting_for(organisation_id(AIDES))).lines[0].previous
    assert aides_view.session_id == theirs.id  # their own session, never mine


def test_the_clear_number_is_stored_nowhere(app_context):
    session = make_session()
    number = fresh_mobile()
    digits = number.replace(" ", "")
    service.add_contacts(session, number, log_first_message=True, language="ro")
    db.session.commit()
    contact = db.session.scalar(
        select(OutreachContact).where(OutreachContact.session_id == session.id)
    )
    row = db.session.execute(
        text("SELECT * FROM outreach_contacts WHERE id = :id"), {"id": contact.id}
    ).one()
    stored = " ".join(str(value) for value in row)
    assert digits[1:] not in stored.replace(" ", "")
    assert contact.display_sealed.startswith("v1:d:")
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.object_id == session.reference))
    for event in events:
        assert digits[1:] not in json.dumps(event.details)
    assert service.contact_displays(session, [contact]) == {contact.id: "+33 " + number[1:]}


def test_a_sealed_display_moved_to_another_contact_does_not_open(app_context):
    session = make_session()
    service.add_contacts(session, f"{fresh_mobile()}\n{fresh_mobile()}")
    db.session.commit()
    first, second = service.session_contacts(session)
    second.display_sealed = first.display_sealed
    shown = service.contact_displays(session, [first, second])
    assert shown[first.id] is not None and shown[second.id] is None
    db.session.rollback()


def test_closing_a_session_shreds_its_numbers_but_dedup_still_works(app_context):
    session = make_session()
    number = fresh_mobile()
    service.add_contacts(session, number)
    db.session.commit()
    contact = service.session_contacts(session)[0]
    token = contact.display_sealed
    assert service.close_session(session) == 1
    db.session.commit()
    db.session.refresh(contact)
    assert contact.display_sealed is None
    assert session.data_key.is_destroyed
    assert service.contact_displays(session, [contact]) == {contact.id: None}
    # Even a copy of the ciphertext (a backup) no longer opens: the key is gone.
    contact.display_sealed = token
    assert service.contact_displays(session, [contact]) == {contact.id: None}
    db.session.rollback()
    assert _statuses(service.check_batch(number, acting_for(session.organisation_id))) == ["known"]
    with pytest.raises(service.OutreachError):
        service.add_contacts(session, fresh_mobile())


def test_outcomes_are_validated_and_scoped_to_the_session(app_context):
    session = make_session()
    other = make_session()
    service.add_contacts(session, fresh_mobile())
    service.add_contacts(other, fresh_mobile())
    db.session.commit()
    mine = service.session_contacts(session)[0]
    foreign = service.session_contacts(other)[0]
    reply = service.OutcomeInput(kind="reply")
    with pytest.raises(service.NotInScope):
        service.log_outcomes(session, [mine.id, foreign.id], reply)
    for bad in (
        service.OutcomeInput(kind="teleport"),
        service.OutcomeInput(kind="message_sent", purpose="spam"),
        service.OutcomeInput(kind="reply", language="xx"),
        service.OutcomeInput(kind="referral"),  # to whom?
        service.OutcomeInput(kind="reply", occurred_at=utcnow() + dt.timedelta(days=1)),
    ):
        with pytest.raises(service.OutreachError):
            service.log_outcomes(session, [mine.id], bad)
    aides = organisation_id(AIDES)
    referral = service.OutcomeInput(kind="referral", referral_organisation_id=aides)
    service.log_outcomes(session, [mine.id], referral)
    db.session.commit()
    assert [(o.kind, o.referral_organisation_id) for o in mine.outcomes] == [("referral", aides)]


def _months_ago(months: int) -> dt.datetime:
    return service.months_before(utcnow(), months)


def test_purge_deletes_old_contacts_keeps_recent_ones_and_their_figures(app_context):
    old_day = _months_ago(13).date()
    old_session = make_session(day=old_day, department="48")
    recent_session = make_session(department="48")
    old_number, recent_number = fresh_mobile(), fresh_mobile()
    service.add_contacts(old_session, old_number, log_first_message=True)
    service.add_contacts(recent_session, recent_number, log_first_message=True)
    db.session.commit()
    old_contact = service.session_contacts(old_session)[0]
    old_contact.contacted_at = _months_ago(13)
    db.session.commit()
    old_contact_id, org = old_contact.id, old_session.organisation_id
    figures_before = service.monthly_figures(old_day, old_day, org, "48")

    counts = service.purge_expired_contacts()
    db.session.commit()

    assert counts["contacts_purged"] >= 1
    assert counts["sessions_closed"] >= 1  # the old round was still open
    gone = select(OutreachContact.id).where(OutreachContact.id == old_contact_id)
    assert db.session.scalar(gone) is None
    assert _statuses(service.check_batch(old_number, acting_for(org))) == ["new"]
    assert _statuses(service.check_batch(recent_number, acting_for(org))) == ["known"]
    kept = db.session.scalars(
        select(ContactOutcome).where(ContactOutcome.session_id == old_session.id)
    ).all()
    assert [o.contact_id for o in kept] == [None]  # the outcome stays, unlinked
    assert service.monthly_figures(old_day, old_day, org, "48") == figures_before
    db.session.refresh(old_session)
    assert not old_session.is_open and old_session.data_key.is_destroyed
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "outreach_contacts_purged")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event.details["contacts_purged"] == counts["contacts_purged"]
    assert set(event.details) == {"contacts_purged", "sessions_closed", "keys_shredded", "cutoff"}


def test_purge_shreds_a_closed_session_whose_key_survived(app_context):
    session = make_session()
    service.add_contacts(session, fresh_mobile())
    session.status = "closed"  # closed behind the service's back: the key is still there
    db.session.commit()
    assert not session.data_key.is_destroyed
    counts = service.purge_expired_contacts()
    db.session.commit()
    assert counts["keys_shredded"] >= 1
    db.session.refresh(session)
    assert session.data_key.is_destroyed
    assert service.session_contacts(session)[0].display_sealed is None


def test_retention_period_comes_from_configuration(app_context):
    session = make_session()
    number = fresh_mobile()
    service.add_contacts(session, number)
    db.session.commit()
    contact = service.session_contacts(session)[0]
    contact.contacted_at = _months_ago(4)
    db.session.commit()
    service.purge_expired_contacts()  # default 12 months: kept
    assert _statuses(service.check_batch(number, acting_for(session.organisation_id))) == ["known"]
    app_context.config["OUTREACH_CONTACT_RETENTION_MONTHS"] = 3
    try:
        service.purge_expired_contacts()
        db.session.commit()
    finally:
        app_context.config["OUTREACH_CONTACT_RETENTION_MONTHS"] = 12
    assert _statuses(service.check_batch(number, acting_for(session.organisation_id))) == ["new"]


def test_the_purge_job_is_registered_nightly():
    from backoffice.jobs import JOBS

    spec = JOBS["purge_outreach_contacts"]
    assert spec.target == "backoffice.services.outreach:purge_expired_contacts"
    assert spec.trigger == {"trigger": "cron", "hour": 3, "minute": 15}


def test_months_before_clamps_to_the_end_of_month():
    assert service.months_before(dt.datetime(2026, 3, 31, 12), 1) == dt.datetime(2026, 2, 28, 12)
    assert service.months_before(dt.datetime(2026, 1, 15), 12) == dt.datetime(2025, 1, 15)
    assert service.months_before(dt.datetime(2024, 2, 29), 12) == dt.datetime(2023, 2, 28)


def test_templates_exist_in_all_ten_languages_for_every_purpose(app_context):
    org = organisation_id(AIDES)
    assert service.seed_templates(org) == 0  # seeded when the organisation was created
    templates = service.organisation_templates(acting_for(org))
    pairs = {(t.purpose, t.language) for t in templates}
    assert pairs == {(p, lang) for p in MESSAGE_PURPOSES for lang in ALERT_LANGUAGES}
    assert len(ALERT_LANGUAGES) == 10
    for template in templates:
        rendered = service.render_text(template.text)
        assert rendered.strip()
        assert not service.unknown_placeholders(template.text)
        assert "{" not in rendered, (template.purpose, template.language)
    first_contact = {t.language: t for t in templates if t.purpose == "first_contact"}
    register_url = app_context.config["OUTREACH_REGISTER_URL"]
    assert register_url in service.render_text(first_contact["ar"].text)
    assert service.sms_info(service.render_text(first_contact["zh"].text))["encoding"] == "UCS-2"


def test_template_edits_are_checked(app_context):
    org = organisation_id(JASMINE)
    template = db.session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.organisation_id == org,
            MessageTemplate.purpose == "who_we_are",
            MessageTemplate.language == "pt",
        )
    )
    before = template.text
    for bad in ("", "   ", "Olá {name}, {register_url}", "x" * 1601):
        with pytest.raises(service.OutreachError):
            service.update_template(template, bad, None)
    assert template.text == before
    service.update_template(template, "Olá! {programme}: {register_url}", None)
    db.session.commit()
    assert template.text == "Olá! {programme}: {register_url}"
    service.update_template(template, before, None)
    db.session.commit()


def test_monthly_figures_are_counted_per_month_and_department(app_context, outreach_users):
    org = organisation_id(JASMINE)
    october, november = dt.date(2025, 10, 14), dt.date(2025, 11, 3)
    first = make_session(day=october, department="2A")
    second = make_session(day=november, department="2A")
    third = make_session(day=november, department="2B")
    make_session(AIDES, username=outreach_users["other"], day=november, department="2A")
    for session, replies in ((first, 1), (second, 2), (third, 0)):
        numbers = [fresh_mobile() for _ in range(3)]
        added = service.add_contacts(session, "\n".join(numbers), log_first_message=True)
        ids = [c.id for c in added.contacts]
        if replies:
            service.log_outcomes(session, ids[:replies], service.OutcomeInput(kind="reply"))
        service.log_outcomes(session, ids[:1], service.OutcomeInput(kind="registration"))
    db.session.commit()
    rows = service.monthly_figures(october, dt.date(2025, 11, 30), org)
    mine = [r for r in rows if r["department"] in ("2A", "2B")]
    assert mine == [
        {"month": "2025-10", "department": "2A", "sessions": 1, "messages": 3, "replies": 1,
         "calls": 0, "registrations": 1, "referrals": 0},
        {"month": "2025-11", "department": "2A", "sessions": 1, "messages": 3, "replies": 2,
         "calls": 0, "registrations": 1, "referrals": 0},
        {"month": "2025-11", "department": "2B", "sessions": 1, "messages": 3, "replies": 0,
         "calls": 0, "registrations": 1, "referrals": 0},
    ]  # fmt: skip
    everyone = service.monthly_figures(november, november, None, "2A")
    assert everyone[0]["sessions"] >= 2  # the AIDES round counts when no organisation is given
    only_2b = service.monthly_figures(october, dt.date(2025, 11, 30), org, "2B")
    assert [r["department"] for r in only_2b] == ["2B"]
    # A team sees its own organisation's figures only; an actor of none sees no figure.
    own = service.organisation_figures(acting_for(org), november, november, "2A")
    assert own == [r for r in rows if r["month"] == "2025-11" and r["department"] == "2A"]
    assert service.organisation_figures(None, october, november, "2A") == []


def test_notes_refuse_phone_numbers():
    assert service.notes_contain_a_number("Called 06 12 34 56 78 back")
    assert service.notes_contain_a_number("+33612345678")
    assert not service.notes_contain_a_number("40 ads, 12 replies, 3 in Romanian, 2026")


def test_the_check_is_one_query_for_the_contacts(app_context):
    from sqlalchemy import event

    session = make_session()
    service.add_contacts(session, fresh_mobile())
    db.session.commit()
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        paste = "\n".join(fresh_mobile() for _ in range(50))
        service.check_batch(paste, acting_for(session.organisation_id))
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    contact_queries = [s for s in statements if "FROM outreach_contacts" in s]
    # One for the team's own contacts (scoped), one programme-wide yes/no for "contacted
    # recently" (issue 18.8): a constant two, whatever the number of lines.
    assert len(contact_queries) == 2
    assert "organisation_id" in contact_queries[0]


def test_contacts_count_per_session(app_context):
    session = make_session()
    service.add_contacts(session, f"{fresh_mobile()}\n{fresh_mobile()}")
    db.session.commit()
    assert session.contacts_count == 2
    total = db.session.scalar(
        select(func.count(OutreachContact.id)).where(OutreachContact.session_id == session.id)
    )
    assert total == 2


# --- rules that lived in the outreach views ------------------------------------------------


def test_only_someone_who_may_lead_outreach_is_a_lead(app_context, outreach_users):
    from flask import current_app

    find = current_app.appbuilder.sm.find_user
    lead, volunteer = find(username=outreach_users["lead"]), find(username="demo-outreach")
    moderator = find(username="demo-moderator")
    assert service.is_outreach_lead(lead)
    assert not service.is_outreach_lead(find(username=outreach_users["other"]))  # no marker
    assert not service.is_outreach_lead(None)
    service.check_can_lead(volunteer)
    with pytest.raises(service.OutreachError):
        service.check_can_lead(moderator)
    with pytest.raises(service.OutreachError):
        service.check_can_lead(None)
    # The marker alone is not enough: a user who may not lead is no lead, marker or not.
    db.session.add(service.OutreachLead(user_id=moderator.id))
    db.session.flush()
    assert not service.is_outreach_lead(moderator)
    db.session.rollback()


def test_a_new_round_is_open_and_its_creator_in_its_team(app_context):
    from flask import current_app

    volunteer = current_app.appbuilder.sm.find_user(username="demo-outreach")
    alone = service.OutreachSession(session_date=dt.date.today(), department="75")
    service.prepare_new_session(alone, volunteer)
    assert alone.status == service.SESSION_OPEN and alone.team == [volunteer]
    assert alone.created_by_id == volunteer.id
    other = current_app.appbuilder.sm.find_user(username="demo-admin")
    chosen = service.OutreachSession(session_date=dt.date.today(), department="75", team=[other])
    service.prepare_new_session(chosen, volunteer)
    assert chosen.team == [other]
    assert service.too_far_ahead(dt.date.today() + dt.timedelta(days=400))
    assert not service.too_far_ahead(dt.date.today() + dt.timedelta(days=30))


def test_a_round_closes_once(app_context):
    session = make_session()
    service.add_contacts(session, fresh_mobile())
    assert service.close_round(session) == 1
    with pytest.raises(service.OutreachError):
        service.close_round(session)
    db.session.commit()


def test_a_rounds_times_are_its_departments_local_time(app_context):
    paris = make_session(department="75")
    reunion = make_session(department="974")
    winter = dt.datetime(2026, 12, 1, 18, 0)  # UTC
    assert service.local_time_of(paris, winter) == dt.datetime(2026, 12, 1, 19, 0)
    assert service.local_time_of(reunion, winter) == dt.datetime(2026, 12, 1, 22, 0)
    assert service.utc_of_local(reunion, dt.datetime(2026, 12, 1, 22, 0)) == winter
    assert service.local_time_of(paris, None) is None


def test_referral_choices_and_platforms_are_the_active_ones(app_context):
    service.ensure_platforms([("Inactive test platform", "classifieds")])
    inactive = db.session.scalar(
        select(service.Platform).where(service.Platform.name == "Inactive test platform")
    )
    inactive.active = False
    db.session.flush()
    assert inactive not in service.active_platforms()
    assert all(o.active for o in service.referral_organisations())
    db.session.rollback()
