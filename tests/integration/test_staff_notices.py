"""Notices to staff (issue 18, item 3): who is told, when, once, on which channel, and what
the notice says (never personal data). Sent through the outbox to a real SMTP server and a
real HTTP SMS gateway on loopback."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app
from sqlalchemy import delete, func, select

from backoffice import jobs
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.staff_notice import StaffNotice, StaffNoticeSettings
from backoffice.security import MODERATOR
from backoffice.services import cases, dispatch, intake, moderation, staff_notices
from backoffice.services.timezones import to_local, zone_of_user
from tests.conftest import csrf_token
from tests.integration import dispatch_support
from tests.integration.cases_support import make_report
from tests.integration.dispatch_support import SmsGateway, unique_mobile
from tests.integration.moderation_support import (
    PASSWORD,
    drive,
    newcomer_moderator,
    payload,
    retire,
    second_moderator,
    user,
)

VICTIM_NAME = "Lilabeth"
VICTIM_PHONE = "07 98 76 54 32"


smtp = dispatch_support.smtp  # the fixture


def dangerous_report(**overrides):
    """A report of a rape through the real intake, naming the victim and her phone."""
    body = payload(
        incident={"violence_types": ["rape"], "date": dt.date.today().isoformat()},
        narrative=f"Je m'appelle {VICTIM_NAME}, appelez-moi au {VICTIM_PHONE}.",
        victim={"pseudonym": VICTIM_NAME, "contact": {"phone": VICTIM_PHONE}},
        **overrides,
    )
    report = intake.submit_report(body)
    db.session.commit()
    return report


def notices(reference: str, rule: str | None = None) -> list[StaffNotice]:
    db.session.expire_all()
    statement = select(StaffNotice).where(StaffNotice.reference == reference)
    if rule:
        statement = statement.where(StaffNotice.rule == rule)
    return list(db.session.scalars(statement))


def recipients(reference: str, rule: str | None = None) -> set[str]:
    return {n.user.username for n in notices(reference, rule)}


def choose(username: str, **settings) -> None:
    """Set a user's notice settings through the service, as her settings page does."""
    account = user(username)
    values = {
        "by_email": True,
        "by_sms": False,
        "phone": "",
        "quiet_start": "",
        "quiet_end": "",
        "on_duty": True,
    }
    values.update(settings)
    staff_notices.save_settings(account, **values)
    db.session.commit()


def _reset_settings(app) -> None:
    with app.app_context():
        db.session.execute(delete(StaffNoticeSettings))
        db.session.commit()


@pytest.fixture
def clean_settings(app):
    """Every test starts from the defaults (email, on duty, no quiet hours) and leaves them."""
    _reset_settings(app)
    yield
    _reset_settings(app)


@pytest.fixture
def fresh_settings(clean_settings, app_context):
    """The defaults, inside an application context (service-level tests)."""
    yield


@pytest.fixture
def reachable_moderator(app_context):
    """A Moderator whose address the mail channel accepts (demo addresses end in .invalid),
    active during the test only: other tests' dangerous reports must not mail her."""
    sm = current_app.appbuilder.sm
    found = sm.find_user(username="test-notice-moderator")
    if found is None:
        found = sm.add_user(
            username="test-notice-moderator",
            first_name="Nora",
            last_name="Test",
            email="notice-moderator@example.org",
            role=sm.find_role(MODERATOR),
            password=PASSWORD,
        )
        found.organisation_id = user("demo-moderator").organisation_id
    found.active = True
    db.session.commit()
    yield found
    db.session.rollback()
    found.active = False
    db.session.commit()


@pytest.fixture
def newcomer(app):
    with app.app_context():
        name = newcomer_moderator()
    yield name
    with app.app_context():
        retire(name)


def quiet_now(username: str) -> dict:
    """Quiet hours around the present moment, in the user's local time."""
    local = to_local(utcnow(), zone_of_user(user(username)))
    start = (local - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (local + dt.timedelta(hours=2)).strftime("%H:%M")
    return {"quiet_start": start, "quiet_end": end}


# --- rule 1 --------------------------------------------------------------------------------


def test_a_dangerous_report_reaches_the_moderators_on_duty_at_once(fresh_settings):
    off_duty = second_moderator()
    choose(off_duty.username, on_duty=False)
    choose("demo-moderator", **quiet_now("demo-moderator"))  # danger ignores quiet hours
    report = dangerous_report()
    found = notices(report.reference, "danger")
    told = {n.user.username for n in found}
    assert "demo-moderator" in told and off_duty.username not in told
    assert not told & {"demo-coordinator", "demo-social-a", "demo-relay"}
    notice = next(n for n in found if n.user.username == "demo-moderator")
    assert notice.level == "urgent" and notice.due_at <= utcnow()
    rows = db.session.scalars(select(Delivery).where(Delivery.staff_notice_id == notice.id)).all()
    assert [(d.channel, d.purpose, d.recipient_key) for d in rows] == [
        ("email", "staff", f"u{notice.user_id}")
    ]
    assert rows[0].next_attempt_at <= utcnow()


def test_a_report_that_is_not_dangerous_notifies_nobody(fresh_settings):
    report = intake.submit_report(payload(incident={"violence_types": ["theft"]}))
    db.session.commit()
    assert notices(report.reference) == []


# --- sending: exactly once, both channels, no personal data --------------------------------


def test_the_notice_goes_once_by_email_and_sms_through_failures_and_retries(
    app, fresh_settings, smtp, monkeypatch, reachable_moderator
):
    phone = unique_mobile()
    moderator = reachable_moderator
    choose(moderator.username, by_sms=True, phone=phone)
    # The gateway fails, then takes the message but answers too late, then accepts.
    with SmsGateway(script=["500", "timeout", "ok"], slow_seconds=1.2) as gateway:
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        monkeypatch.setitem(app.config, "SMS_GATEWAY_TIMEOUT", 0.5)
        report = dangerous_report()
        notice = next(n for n in notices(report.reference, "danger") if n.user_id == moderator.id)
        dispatch_support.postpone_all_but(Delivery.staff_notice_id == notice.id)
        start = utcnow()
        for hours in range(4):  # retries, then nothing left to send
            dispatch.dispatch_due(now=start + dt.timedelta(hours=hours))
        texts = [text for to, text, _ref in gateway.handset if to == phone]
    mails = [
        message
        for _id, to, subject, message in smtp.recorder.received
        if to == moderator.email and report.reference in subject
    ]
    assert len(texts) == 1 and len(mails) == 1
    assert {
        d.status
        for d in db.session.scalars(select(Delivery).where(Delivery.staff_notice_id == notice.id))
    } == {"sent"}
    body = mails[0].get_content()
    for text in (texts[0], body, str(mails[0]["Subject"])):
        # A reference, a level and a link; never her name, her number or her words.
        assert report.reference in text
        assert VICTIM_NAME not in text and "appelez" not in text
        digits = re.sub(r"\D", "", text)
        assert "798765432" not in digits
    assert f"/moderation/reports/{report.reference}" in texts[0]
    assert "Urgent" in texts[0]


def test_the_notice_is_written_once_however_often_the_rules_run(fresh_settings):
    report = dangerous_report()
    staff_notices.report_received(report)
    db.session.commit()
    for _ in range(2):
        staff_notices.run_rules(utcnow() + dt.timedelta(minutes=45))
        db.session.commit()
    assert len(notices(report.reference, "danger")) == len(recipients(report.reference, "danger"))
    assert len(notices(report.reference, "unclaimed")) == len(recipients(report.reference))


# --- quiet hours ---------------------------------------------------------------------------


def test_quiet_hours_delay_a_non_urgent_notice_until_they_end(fresh_settings):
    choose("demo-social-a", **quiet_now("demo-social-a"))
    case = routed_case_with_pep()
    notice = next(
        n for n in notices(case.reference, "deadline") if n.user.username == "demo-social-a"
    )
    assert notice.level == "important"
    assert notice.due_at > utcnow() + dt.timedelta(minutes=100)
    delivery = db.session.scalar(select(Delivery).where(Delivery.staff_notice_id == notice.id))
    assert delivery.next_attempt_at == notice.due_at
    dispatch.dispatch_due(now=utcnow())
    db.session.refresh(delivery)
    assert delivery.status == "queued"  # not due yet: not even claimed


def test_quiet_hours_spanning_midnight():
    settings = StaffNoticeSettings(quiet_start=dt.time(22, 0), quiet_end=dt.time(7, 0))
    zone = "75"
    # 23:30 in Paris in winter is 22:30 UTC; the quiet hours end at 07:00 Paris = 06:00 UTC.
    assert staff_notices.quiet_until(settings, zone, dt.datetime(2026, 12, 7, 22, 30)) == (
        dt.datetime(2026, 12, 8, 6, 0)
    )
    assert staff_notices.quiet_until(settings, zone, dt.datetime(2026, 12, 7, 12, 0)) is None


# --- rule 2 --------------------------------------------------------------------------------


def test_an_unclaimed_dangerous_report_reaches_every_moderator_and_the_coordinators_once(
    fresh_settings,
):
    off_duty = second_moderator()
    choose(off_duty.username, on_duty=False)
    report = dangerous_report()
    staff_notices.run_rules(utcnow() + dt.timedelta(minutes=10))
    db.session.commit()
    assert notices(report.reference, "unclaimed") == []  # not yet 30 minutes
    for _ in range(2):
        staff_notices.run_rules(utcnow() + dt.timedelta(minutes=31))
        db.session.commit()
    told = recipients(report.reference, "unclaimed")
    assert {"demo-moderator", off_duty.username, "demo-coordinator"} <= told
    assert not told & {"demo-social-a", "demo-relay", "demo-outreach"}
    assert len(notices(report.reference, "unclaimed")) == len(told)


def test_a_claimed_report_is_not_escalated(fresh_settings):
    report = dangerous_report()
    drive(report, "in_review")
    staff_notices.run_rules(utcnow() + dt.timedelta(minutes=31))
    db.session.commit()
    assert notices(report.reference, "unclaimed") == []


# --- rule 3 --------------------------------------------------------------------------------


def routed_case_with_pep():
    report = make_report(violence_types=["rape"], date=utcnow().date().isoformat())
    case = cases.route_report(
        report.id, user("demo-social-a").organisation_id, user("demo-moderator")
    )
    db.session.commit()
    return case


def test_a_routed_case_with_a_deadline_reaches_only_that_associations_social_workers(
    fresh_settings,
):
    case = routed_case_with_pep()
    told = recipients(case.reference, "deadline")
    # Her association's social workers (other tests may have added colleagues), nobody else.
    assert "demo-social-a" in told and "demo-social-b" not in told
    assert {user(name).organisation_id for name in told} == {case.organisation_id}
    flag = next(f for f in case.flags if f.kind == "pep")
    # 12 hours before the deadline, the flag still open: again, urgent, once each.
    soon = flag.deadline - dt.timedelta(hours=11)
    for _ in range(2):
        staff_notices.run_rules(soon)
        db.session.commit()
    again = notices(case.reference, "deadline_soon")
    assert sorted(n.user.username for n in again) == sorted(told)
    assert {n.level for n in again} == {"urgent"}
    assert "demo-social-b" not in recipients(case.reference)


def test_a_deadline_already_dealt_with_is_not_recalled(fresh_settings):
    case = routed_case_with_pep()
    flag = next(f for f in case.flags if f.kind == "pep")
    flag.resolved_at, flag.resolution = utcnow(), "done"
    db.session.commit()
    staff_notices.run_rules(flag.deadline - dt.timedelta(hours=11))
    db.session.commit()
    assert notices(case.reference, "deadline_soon") == []


# --- rule 4 --------------------------------------------------------------------------------


def test_an_answer_reaches_the_moderator_who_asked(fresh_settings):
    asker = second_moderator()
    report = intake.submit_report(payload())
    db.session.commit()
    drive(report, "needs_info", actor=asker)
    moderation.perform(report, "info_added", None, details={"source": "worker"})
    db.session.commit()
    for _ in range(2):
        staff_notices.run_rules()
        db.session.commit()
    answered = notices(report.reference, "answer")
    assert [n.user.username for n in answered] == [asker.username]
    assert answered[0].path == f"/moderation/reports/{report.reference}"


def test_the_rules_run_as_a_scheduled_job():
    assert jobs.JOBS["staff_notices"].target == "backoffice.services.staff_notices:run_rules"


# --- the page (requests outside the test's application context: each has its own) ---------


def test_my_notifications_lists_counts_and_marks_read(app, login_as, clean_settings, newcomer):
    with app.app_context():
        report = dangerous_report()
        reference = report.reference
        mine = next(n for n in notices(reference, "danger") if n.user.username == newcomer)
        notice_id = mine.id
        unread = staff_notices.unread_count(user(newcomer))
    client = login_as(newcomer)
    page = client.get("/account/notifications/").get_data(as_text=True)
    assert reference in page and 'id="unread-notices"' in page
    assert VICTIM_NAME not in page
    token = csrf_token(client, "/account/notifications/")
    answer = client.post(f"/account/notifications/{notice_id}/read", data={"csrf_token": token})
    assert answer.status_code == 302
    with app.app_context():
        assert staff_notices.unread_count(user(newcomer)) == unread - 1
    opened = client.post(f"/account/notifications/{notice_id}/open", data={"csrf_token": token})
    assert opened.headers["Location"].endswith(f"/moderation/reports/{reference}")


def test_another_users_notice_is_answered_as_missing(app, login_as, clean_settings):
    with app.app_context():
        report = dangerous_report()
        theirs = notices(report.reference, "danger")[0].id
    client = login_as("demo-social-a")
    token = csrf_token(client, "/account/notifications/")
    answer = client.post(f"/account/notifications/{theirs}/read", data={"csrf_token": token})
    assert answer.status_code == 404
    with app.app_context():
        assert db.session.get(StaffNotice, theirs).read_at is None


def _phone_reads(user_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "decrypt",
            AuditEvent.object_type == "StaffNoticeSettings",
            AuditEvent.object_id == str(user_id),
        )
    )


def test_settings_refuse_a_bad_number_and_keep_a_good_one_sealed(app, login_as, clean_settings):
    client = login_as("demo-social-a")
    url = "/account/notifications/settings"
    form = {"csrf_token": csrf_token(client, url), "by_sms": "on", "phone": "12", "on_duty": "on"}
    refused = client.post(url, data=form)
    assert refused.status_code == 400
    assert "This phone number is not valid" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(StaffNoticeSettings, user("demo-social-a").id) is None
    phone = unique_mobile()
    form.update(phone=phone, quiet_start="22:00", quiet_end="07:00")
    assert client.post(url, data=form).status_code == 302
    with app.app_context():
        saved = db.session.get(StaffNoticeSettings, user("demo-social-a").id)
        assert saved.by_sms and saved.quiet_start == dt.time(22, 0)
        assert phone not in (saved.phone_sealed or "") and staff_notices.phone_of(saved) == phone
    with app.app_context():
        reads = _phone_reads(user("demo-social-a").id)
    shown = client.get(url).get_data(as_text=True)
    assert phone in shown  # her own number, on her own page: the read is audited
    with app.app_context():
        assert _phone_reads(user("demo-social-a").id) == reads + 1
    bad_time = client.post(url, data={**form, "quiet_end": "25:99"})
    assert bad_time.status_code == 400 and "HH:MM" in bad_time.get_data(as_text=True)


def test_staff_read_their_notices_in_french(app, fresh_settings, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", "fr")
    report = dangerous_report()
    notice = notices(report.reference, "danger")[0]
    subject, body, sms = staff_notices.render(notice)
    assert subject == f"[Jasmine] Urgent : {report.reference}"
    assert (
        "Un signalement dangereux a été reçu" in body and f"Référence : {report.reference}" in body
    )
    assert sms.startswith("Jasmine Urgent : Un signalement dangereux a été reçu")


@pytest.mark.parametrize("rule", list(staff_notices.RULE_LEVELS))
def test_every_rule_says_a_level_what_a_reference_and_a_link_only(app_context, rule):
    notice = StaffNotice(
        rule=rule,
        level=staff_notices.RULE_LEVELS[rule],
        reference="J-2026-424242",
        path="/moderation/reports/J-2026-424242",
    )
    subject, body, sms = staff_notices.render(notice)
    for text in (subject, body, sms):
        assert "J-2026-424242" in text
    assert (
        "/moderation/reports/J-2026-424242" in sms and "/moderation/reports/J-2026-424242" in body
    )
    # Nothing but our own words around the reference: no field of a report is read.
    assert len(sms) <= 160 * 2
