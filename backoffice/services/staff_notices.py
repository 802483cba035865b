"""Notices to staff (issue 18, item 3): nothing urgent waits unseen.

Rules, each notice once per (rule, object, recipient) — ``StaffNotice.key`` is unique:

1. ``danger``: a dangerous report is received → at once to the moderators on duty
   (``report_received``, called by intake in the report's own transaction).
2. ``unclaimed``: a dangerous report still unclaimed after ``NOTIFY_UNCLAIMED_MINUTES`` → to
   every moderator and the coordinators (``watch_report_queue``), on duty or not.
3. ``deadline``: a case routed with a running deadline (flag ``pep`` or
   ``emergency_contraception``) → at once to that association's social workers
   (``case_routed``, called by routing); ``deadline_soon``: ``NOTIFY_DEADLINE_HOURS`` (12)
   before the deadline with the flag still open → to them again, urgent.
4. ``answer``: an answer to a moderator's question (``info_added`` event, whoever brought
   it) → to the moderator who asked.

Recipients come from ``security.holders(capability, organisation)``, never role names. Each
user chooses her channels (email and/or SMS, her own number sealed on her settings), quiet
hours in her organisation's local time and whether she is on duty (``settings_of``,
``save_settings``). Urgent notices ignore quiet hours; the others are due when they end.
Every notice is listed on her « Mes notifications » page; it is also sent through the outbox
(``outbox.enqueue_staff_notice``: one ``Delivery`` per channel, sent by the dispatch workers
exactly once, retried). Its text (``render``) is a level word, what happened, a reference and
a link: never a name, a narrative or a number.

The rules of 2-4 run in the job ``staff_notices`` (``run_rules``); they look back
``NOTIFY_LOOKBACK_HOURS`` only, so switching notices on never floods anyone with old news.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, update

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import Case, CaseFlag
from backoffice.models.report import Report, ReportEvent
from backoffice.models.staff_notice import StaffNotice, StaffNoticeSettings
from backoffice.models.user import StaffUser
from backoffice.security import holders
from backoffice.services import audit, identifiers, outbox
from backoffice.services.confidential import keyring
from backoffice.services.crypto import associated_data
from backoffice.services.paging import Page, paginate
from backoffice.services.timezones import to_local, to_utc, zone_of_user

MODERATE = "moderate"
HOLD_CASES = "hold_cases"
WATCH_QUEUE = "watch_report_queue"
DANGEROUS = "dangerous"
DEADLINE_FLAGS = ("pep", "emergency_contraception")
# The session flag that asks the in-process scheduler to run the dispatch at once after the
# commit (``jobs.wake_dispatch_after_commit``).
WAKE_DISPATCH = "wake_dispatch"

LEVELS: dict[str, object] = {
    "urgent": _l("Urgent"),
    "important": _l("Important"),
    "info": _l("Information"),
}
RULE_LEVELS = {
    "danger": "urgent",
    "unclaimed": "urgent",
    "deadline": "important",
    "deadline_soon": "urgent",
    "answer": "info",
}
RULE_TEXTS: dict[str, object] = {
    "danger": _l("A dangerous report was received"),
    "unclaimed": _l("A dangerous report is still waiting, unclaimed"),
    "deadline": _l("A case with a treatment deadline was routed to your association"),
    "deadline_soon": _l("A treatment deadline is near and nothing is recorded yet"),
    "answer": _l("An answer to your question was received"),
}


class NoticeSettingsError(ValueError):
    """A refused settings form: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid notice settings")
        self.errors = errors


# --- settings ------------------------------------------------------------------------------


def settings_of(user_id: int) -> StaffNoticeSettings:
    """Her settings, or the defaults (email, on duty, no quiet hours) when she chose none."""
    return db.session.get(StaffNoticeSettings, user_id) or StaffNoticeSettings(
        user_id=user_id, by_email=True, by_sms=False, on_duty=True
    )


def _phone_aad(user_id: int) -> bytes:
    return associated_data("staff_notice_settings", "phone", str(user_id), None)


def phone_of(settings: StaffNoticeSettings) -> str | None:
    """Her notice number, decrypted for her own settings page: the read is audited."""
    if not settings.phone_sealed:
        return None
    audit.record(
        "decrypt",
        object_type="StaffNoticeSettings",
        object_id=settings.user_id,
        details={"field": "phone"},
    )
    return _open_phone(settings)


def _open_phone(settings: StaffNoticeSettings) -> str | None:
    """Decrypted for sending, without an event per message: the dispatcher's batch event
    counts the contacts it read (``dispatch._audit_batch``)."""
    if not settings.phone_sealed:
        return None
    return keyring().open(settings.phone_sealed, _phone_aad(settings.user_id))


_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _parse_time(value: str | None) -> dt.time | None:
    text = (value or "").strip()
    if not text:
        return None
    match = _TIME.match(text)
    if match is None:
        raise ValueError(text)
    return dt.time(int(match.group(1)), int(match.group(2)))


def save_settings(
    user,
    *,
    by_email: bool,
    by_sms: bool,
    phone: str | None,
    quiet_start: str | None,
    quiet_end: str | None,
    on_duty: bool,
) -> StaffNoticeSettings:
    """Check and store her choices (``NoticeSettingsError`` changes nothing)."""
    errors: dict[str, str] = {}
    number = None
    phone_text = (phone or "").strip()
    if phone_text:
        number = identifiers.try_normalise("phone", phone_text[:40])
        if number is None:
            errors["phone"] = _(
                "This phone number is not valid. Foreign numbers start with + and the country code."
            )
    elif by_sms:
        errors["phone"] = _("Give a mobile number to receive notices by SMS.")
    if by_email and not (user.email or "").strip():
        errors["by_email"] = _("Your account has no email address.")
    times = {}
    for name, value in (("quiet_start", quiet_start), ("quiet_end", quiet_end)):
        try:
            times[name] = _parse_time(value)
        except ValueError:
            errors[name] = _("Give a time as HH:MM, for example 22:00.")
    if not errors and (times["quiet_start"] is None) != (times["quiet_end"] is None):
        errors["quiet_end"] = _("Give both the start and the end of your quiet hours.")
    if errors:
        raise NoticeSettingsError(errors)
    settings = db.session.get(StaffNoticeSettings, user.id)
    if settings is None:
        settings = StaffNoticeSettings(user_id=user.id)
        db.session.add(settings)
    settings.by_email = bool(by_email)
    settings.by_sms = bool(by_sms)
    settings.phone_sealed = keyring().seal(number, _phone_aad(user.id)) if number else None
    settings.quiet_start = times["quiet_start"]
    settings.quiet_end = times["quiet_end"]
    settings.on_duty = bool(on_duty)
    db.session.flush()
    audit.record(
        "staff_notice_settings_changed",
        object_type="StaffUser",
        object_id=user.id,
        actor=user,
        details={
            "email": settings.by_email,
            "sms": settings.by_sms,
            "quiet_hours": settings.quiet_start is not None,
            "on_duty": settings.on_duty,
        },
    )
    return settings


def quiet_until(settings: StaffNoticeSettings, zone, now: dt.datetime) -> dt.datetime | None:
    """The end of her quiet hours (naive UTC) when ``now`` falls in them, else None."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None or start == end:
        return None
    local = to_local(now, zone)
    moment = local.time().replace(tzinfo=None)
    inside = (start <= moment < end) if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + dt.timedelta(days=1)
    return to_utc(dt.datetime.combine(day, end), zone)


# --- queueing ------------------------------------------------------------------------------


def _queue(
    recipients: list[StaffUser],
    rule: str,
    object_key: str,
    reference: str,
    path: str,
    *,
    honour_duty: bool = False,
    now: dt.datetime | None = None,
) -> int:
    """One notice per recipient not notified yet under this rule for this object, and its
    deliveries. No flush of its own: intake's report is written by the request's commit."""
    now = now or utcnow()
    level = RULE_LEVELS[rule]
    with db.session.no_autoflush:
        keys = {user.id: f"{rule}:{object_key}:u{user.id}" for user in recipients}
        if not keys:
            return 0
        existing = set(
            db.session.scalars(select(StaffNotice.key).where(StaffNotice.key.in_(keys.values())))
        )
        chosen = {
            row.user_id: row
            for row in db.session.scalars(
                select(StaffNoticeSettings).where(StaffNoticeSettings.user_id.in_(list(keys)))
            )
        }
    queued = 0
    for user in recipients:
        if keys[user.id] in existing:
            continue
        settings = chosen.get(user.id) or settings_of(user.id)
        if honour_duty and not settings.on_duty:
            continue
        due = now if level == "urgent" else (quiet_until(settings, zone_of_user(user), now) or now)
        notice = StaffNotice(
            key=keys[user.id],
            user_id=user.id,
            rule=rule,
            level=level,
            reference=reference,
            path=path,
            created_at=now,
            due_at=due,
        )
        db.session.add(notice)
        wanted = []
        if settings.by_email and (user.email or "").strip():
            wanted.append("email")
        if settings.by_sms and settings.phone_sealed:
            wanted.append("sms")
        outbox.enqueue_staff_notice(notice, user.id, wanted, due, now)
        queued += 1
    if queued:
        db.session.info[WAKE_DISPATCH] = True
    return queued


def report_received(report: Report, now: dt.datetime | None = None) -> int:
    """Rule 1, from intake, in the report's transaction: a dangerous report → the moderators
    on duty, at once, whatever their quiet hours. A report entered with an old reception time
    (the demo seeder, an import) notifies nobody."""
    now = now or utcnow()
    if report.severity != DANGEROUS or report.received_at < now - _lookback():
        return 0
    with db.session.no_autoflush:
        moderators = list(db.session.scalars(holders(MODERATE)))
    count = _queue(
        moderators,
        "danger",
        report.reference,
        report.reference,
        _report_path(report.reference),
        honour_duty=True,
        now=now,
    )
    audit.record(
        "staff_notices_queued",
        object_type="Report",
        object_id=report.reference,
        details={"rule": "danger", "recipients": count},
    )
    return count


def case_routed(case: Case, now: dt.datetime | None = None) -> int:
    """Rule 3, from routing: a case with a running deadline → its association's social
    workers at once (quiet hours honoured: the 12-hour reminder is the urgent one)."""
    now = now or utcnow()
    running = [
        flag
        for flag in case.flags
        if flag.kind in DEADLINE_FLAGS
        and flag.resolved_at is None
        and flag.deadline is not None
        and flag.deadline > now
    ]
    if not running:
        return 0
    db.session.flush()  # the case's id makes its link
    workers = list(db.session.scalars(holders(HOLD_CASES, case.organisation_id)))
    count = _queue(workers, "deadline", case.reference, case.reference, _case_path(case), now=now)
    audit.record(
        "staff_notices_queued",
        object_type="Case",
        object_id=case.reference,
        organisation_id=case.organisation_id,
        details={"rule": "deadline", "recipients": count},
    )
    return count


def _report_path(reference: str) -> str:
    return f"/moderation/reports/{reference}"


def _case_path(case: Case) -> str:
    return f"/cases/{case.id}"


def _lookback() -> dt.timedelta:
    return dt.timedelta(hours=int(current_app.config.get("NOTIFY_LOOKBACK_HOURS", 48)))


# --- the job -------------------------------------------------------------------------------


def run_rules(now: dt.datetime | None = None) -> dict[str, int]:
    """The job ``staff_notices``: rules 2, 3 (12 hours before) and 4. Runs again harmlessly."""
    now = now or utcnow()
    counts = {
        "unclaimed": unclaimed_reports(now),
        "deadline_soon": deadlines_near(now),
        "answer": answers_received(now),
    }
    if any(counts.values()):
        audit.record(
            "staff_notices_queued", object_type="Job", object_id="staff_notices", details=counts
        )
    return counts


def unclaimed_reports(now: dt.datetime | None = None) -> int:
    """Rule 2: dangerous reports nobody claimed within the configured minutes."""
    now = now or utcnow()
    minutes = int(current_app.config.get("NOTIFY_UNCLAIMED_MINUTES", 30))
    reports = db.session.execute(
        select(Report.reference).where(
            Report.severity == DANGEROUS,
            Report.status == "received",
            Report.claimed_by_id.is_(None),
            Report.received_at <= now - dt.timedelta(minutes=minutes),
            Report.received_at >= now - _lookback(),
        )
    ).all()
    if not reports:
        return 0
    moderators = list(db.session.scalars(holders(MODERATE)))
    watchers = {user.id: user for user in db.session.scalars(holders(WATCH_QUEUE))}
    recipients = list({**{u.id: u for u in moderators}, **watchers}.values())
    count = 0
    for (reference,) in reports:
        count += _queue(
            recipients, "unclaimed", reference, reference, _report_path(reference), now=now
        )
    return count


def deadlines_near(now: dt.datetime | None = None) -> int:
    """Rule 3, again: an open treatment deadline less than 12 hours away → urgent."""
    now = now or utcnow()
    hours = int(current_app.config.get("NOTIFY_DEADLINE_HOURS", 12))
    near = select(CaseFlag.case_id).where(
        CaseFlag.kind.in_(DEADLINE_FLAGS),
        CaseFlag.resolved_at.is_(None),
        CaseFlag.deadline > now,
        CaseFlag.deadline <= now + dt.timedelta(hours=hours),
    )
    rows = db.session.scalars(
        select(Case).where(Case.id.in_(near), Case.status == "open", Case.erased_at.is_(None))
    ).all()
    count = 0
    for case in rows:
        workers = list(db.session.scalars(holders(HOLD_CASES, case.organisation_id)))
        count += _queue(
            workers, "deadline_soon", case.reference, case.reference, _case_path(case), now=now
        )
    return count


def answers_received(now: dt.datetime | None = None) -> int:
    """Rule 4: each ``info_added`` event → the moderator whose question it answers."""
    now = now or utcnow()
    answers = db.session.execute(
        select(ReportEvent.id, ReportEvent.report_id, ReportEvent.occurred_at, Report.reference)
        .join(Report, Report.id == ReportEvent.report_id)
        .where(ReportEvent.action == "info_added", ReportEvent.occurred_at >= now - _lookback())
    ).all()
    count = 0
    for event_id, report_id, occurred_at, reference in answers:
        asker_id = db.session.scalar(
            select(ReportEvent.actor_id)
            .where(
                ReportEvent.report_id == report_id,
                ReportEvent.action == "request_info",
                ReportEvent.occurred_at <= occurred_at,
                ReportEvent.id < event_id,
                ReportEvent.actor_id.is_not(None),
            )
            .order_by(ReportEvent.id.desc())
            .limit(1)
        )
        if asker_id is None:
            continue
        # Still a moderator, still active: otherwise nobody is told in her place.
        asker = db.session.scalar(holders(MODERATE).where(StaffUser.id == asker_id))
        if asker is None:
            continue
        count += _queue(
            [asker], "answer", f"e{event_id}", reference, _report_path(reference), now=now
        )
    return count


# --- reading -------------------------------------------------------------------------------


def notices_of(user, page: int = 1, size: int = 50) -> Page:
    """Her notices, newest first, one page at a time."""
    statement = (
        select(StaffNotice)
        .where(StaffNotice.user_id == user.id)
        .order_by(StaffNotice.created_at.desc(), StaffNotice.id.desc())
    )
    return paginate(statement, page, size)


def unread_count(user) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(StaffNotice)
            .where(StaffNotice.user_id == user.id, StaffNotice.read_at.is_(None))
        )
        or 0
    )


def mark_read(user, notice_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Mark one of her notices (or all) read; another user's notice counts as none."""
    conditions = [StaffNotice.user_id == user.id, StaffNotice.read_at.is_(None)]
    if notice_id is not None:
        conditions.append(StaffNotice.id == notice_id)
    result = db.session.execute(
        update(StaffNotice).where(and_(*conditions)).values(read_at=now or utcnow())
    )
    return result.rowcount or 0


# --- sending (the dispatch workers) --------------------------------------------------------


def link_of(notice: StaffNotice) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + notice.path


def render(notice: StaffNotice) -> tuple[str, str, str]:
    """(subject, email body, SMS text) in the staff's language: level, what, reference and
    link, nothing else."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")):
        level = str(LEVELS.get(notice.level, notice.level))
        what = str(RULE_TEXTS.get(notice.rule, notice.rule))
        link = link_of(notice)
        subject = _("[Jasmine] %(level)s: %(reference)s", level=level, reference=notice.reference)
        body = "\n".join(
            [
                f"{level} — {what}.",
                _("Reference: %(reference)s", reference=notice.reference),
                link,
                "",
                _("Your notice settings: %(link)s", link=settings_link()),
            ]
        )
        sms = _(
            "Jasmine %(level)s: %(what)s (%(reference)s). %(link)s",
            level=level,
            what=what,
            reference=notice.reference,
            link=link,
        )
    return subject, body, sms


def settings_link() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/account/notifications/settings"


def cancel_reason(notice: StaffNotice | None, channel: str) -> str | None:
    """Why a staff delivery is not to be sent any more, or None."""
    if notice is None or notice.user is None:
        return "recipient_gone"
    if not notice.user.active:
        return "recipient_inactive"
    if notice.read_at is not None:
        return "already_read"
    if channel == "email" and not (notice.user.email or "").strip():
        return "no_contact"
    if channel == "sms" and not settings_of(notice.user_id).phone_sealed:
        return "no_contact"
    return None


def contact_of(notice: StaffNotice, channel: str) -> str | None:
    if channel == "email":
        return (notice.user.email or "").strip() or None
    return _open_phone(settings_of(notice.user_id))
