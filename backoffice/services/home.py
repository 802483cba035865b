"""Each role's home page is its work: one function per section, read only.

A section is computed only for whoever holds its capability (``security.can``) and reads rows
through the organisation boundary (``security.scoped``) where rows belong to an association.
Every section reads clear columns only — references, severities, statuses, dates, counts —
so the home page decrypts nothing and audits nothing. Each section takes a fixed number of
queries whatever the number of rows (``tests/integration/test_home_pages.py`` counts them,
``bench/home_pages.py`` times them at 100,000 reports and 50,000 cases).

* ``moderation_section``: reports waiting by severity, the oldest open ones, mine (my live
  claims) and answers received (reports an answer returned to review: ``info_added``);
* ``cases_section``: the association's cases with a running medical deadline (treatment,
  emergency contraception: ``FLAG_DELAYS_HOURS``), most urgent first, overdue actions, and
  newly routed or transferred cases nobody has reached yet;
* ``coordination_section``: the latest funder report builds and this month's key figures;
* ``outreach_section``: the association's open outreach rounds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import FLAG_DELAYS_HOURS, Case, CaseFlag, FollowUpAction
from backoffice.models.outreach import SESSION_OPEN, OutreachContact, OutreachSession
from backoffice.models.report import Report, ReportEvent
from backoffice.models.statistics import StatisticsRefresh
from backoffice.security import can, scoped
from backoffice.services import statistics
from backoffice.services.cases.rules import HOLD_CASES
from backoffice.services.moderation import MODERATE
from backoffice.services.statistics import funder_reports, rollup
from backoffice.services.statistics.reading import Reader
from backoffice.services.statistics.sources import ALL_DEPARTMENTS
from backoffice.services.timezones import local_today, to_local, zone_of_user
from backoffice.services.vocabulary import SEVERITIES

BUILD_FUNDER_REPORT = "build_funder_report"
RUN_OUTREACH = "run_outreach"

LIST_LENGTH = 10
# Reports waiting for a moderator to take them up (an answer returns a report to "received").
WAITING_STATUSES = ("received",)
# What the oldest-first list shows: waiting for a moderator, or approved and not yet published.
OLDEST_STATUSES = ("received", "approved")
# A passed medical deadline stays on the home page this long (to be resolved: done, missed…).
PASSED_DEADLINE_HOURS = 24
BUILDS_SHOWN = 5


# --- moderators ------------------------------------------------------------------------------


@dataclass
class ReportLine:
    reference: str
    severity: str
    status: str
    since: dt.datetime  # received, or answered for "answers received"


@dataclass
class ModerationHome:
    waiting_by_severity: dict[str, int]
    oldest: list[ReportLine]
    mine: list[ReportLine]
    answers: list[ReportLine]
    answers_total: int

    @property
    def waiting(self) -> int:
        return sum(self.waiting_by_severity.values())


def moderation_section(actor, now: dt.datetime | None = None) -> ModerationHome | None:
    """What waits for the moderators (reports belong to the programme: no organisation)."""
    if not can(MODERATE, actor):
        return None
    now = now or utcnow()
    counted = (
        select(Report.severity, func.count())
        .where(Report.status.in_(WAITING_STATUSES))
        .group_by(Report.severity)
    )
    found = dict(db.session.execute(counted).all())
    by_severity = {code: found.get(code, 0) for code in SEVERITIES}
    columns = (Report.reference, Report.severity, Report.status, Report.received_at)
    oldest = db.session.execute(
        select(*columns)
        .where(Report.status.in_(OLDEST_STATUSES))
        .order_by(Report.received_at, Report.id)
        .limit(LIST_LENGTH)
    ).all()
    mine = db.session.execute(
        select(*columns)
        .where(
            Report.claimed_by_id == actor.id,
            Report.claim_expires_at > now,
            Report.status == "in_review",
        )
        .order_by(Report.received_at, Report.id)
        .limit(LIST_LENGTH)
    ).all()
    # The reports an answer returned to review and still waiting: from the answers (few,
    # by index) to their reports, not from every waiting report to its events.
    answered = (
        select(ReportEvent.report_id, func.max(ReportEvent.occurred_at).label("answered_at"))
        .where(ReportEvent.action == "info_added")
        .group_by(ReportEvent.report_id)
        .subquery()
    )
    answers = db.session.execute(
        select(
            Report.reference,
            Report.severity,
            Report.status,
            answered.c.answered_at,
            func.count().over().label("total"),
        )
        .join(answered, answered.c.report_id == Report.id)
        .where(Report.status.in_(WAITING_STATUSES))
        .order_by(answered.c.answered_at, Report.id)
        .limit(LIST_LENGTH)
    ).all()
    return ModerationHome(
        waiting_by_severity=by_severity,
        oldest=[ReportLine(*row) for row in oldest],
        mine=[ReportLine(*row) for row in mine],
        answers=[ReportLine(*row[:4]) for row in answers],
        answers_total=answers[0].total if answers else 0,
    )


# --- social workers --------------------------------------------------------------------------


@dataclass
class DeadlineLine:
    case_id: int
    reference: str
    kind: str
    deadline: dt.datetime
    left: dt.timedelta
    assigned_to_me: bool

    @property
    def passed(self) -> bool:
        return self.left.total_seconds() < 0


@dataclass
class ActionLine:
    case_id: int
    reference: str
    kind: str
    due_on: dt.date
    assigned_to_me: bool


@dataclass
class NewCaseLine:
    case_id: int
    reference: str
    source: str
    opened_at: dt.datetime
    deadline: dt.datetime | None


@dataclass
class CasesHome:
    deadlines: list[DeadlineLine]
    deadlines_total: int
    overdue: list[ActionLine]
    overdue_total: int
    new_cases: list[NewCaseLine]
    new_total: int
    today: dt.date


def _followed(statement):
    """Cases still followed: not closed, not erased."""
    return statement.where(Case.status != "closed", Case.erased_at.is_(None))


def cases_section(actor, now: dt.datetime | None = None) -> CasesHome | None:
    """The association's urgent work on cases: deadlines, overdue actions, new cases."""
    if not can(HOLD_CASES, actor):
        return None
    now = now or utcnow()
    total = func.count().over().label("total")
    running = scoped(
        _followed(
            select(
                Case.id,
                Case.reference,
                CaseFlag.kind,
                CaseFlag.deadline,
                Case.assignee_id,
                total,
            )
            .join(Case, Case.id == CaseFlag.case_id)
            .where(
                Case.organisation_id == CaseFlag.organisation_id,
                CaseFlag.kind.in_(FLAG_DELAYS_HOURS),
                CaseFlag.resolved_at.is_(None),
                CaseFlag.deadline > now - dt.timedelta(hours=PASSED_DEADLINE_HOURS),
            )
        ),
        CaseFlag,
        actor,
    ).order_by(CaseFlag.deadline, Case.id)
    deadlines = db.session.execute(running.limit(LIST_LENGTH)).all()

    today = local_today(zone_of_user(actor))
    late = scoped(
        _followed(
            select(
                Case.id,
                Case.reference,
                FollowUpAction.kind,
                FollowUpAction.due_on,
                FollowUpAction.assignee_id,
                total,
            )
            .join(Case, Case.id == FollowUpAction.case_id)
            .where(
                Case.organisation_id == FollowUpAction.organisation_id,
                FollowUpAction.done_at.is_(None),
                FollowUpAction.due_on < today,
            )
        ),
        FollowUpAction,
        actor,
    ).order_by(FollowUpAction.due_on, Case.reference)
    overdue = db.session.execute(late.limit(LIST_LENGTH)).all()

    next_deadline = (
        select(func.min(CaseFlag.deadline))
        .where(
            CaseFlag.case_id == Case.id,
            CaseFlag.organisation_id == Case.organisation_id,
            CaseFlag.resolved_at.is_(None),
            CaseFlag.deadline > now,
        )
        .scalar_subquery()
    )
    fresh = scoped(
        _followed(
            select(
                Case.id, Case.reference, Case.source, Case.opened_at, next_deadline, total
            ).where(
                Case.source.in_(("routed", "transfer")),
                Case.status == "open",
                Case.first_contact_at.is_(None),
            )
        ),
        Case,
        actor,
    ).order_by(Case.opened_at.desc(), Case.id.desc())
    new_cases = db.session.execute(fresh.limit(LIST_LENGTH)).all()

    me = getattr(actor, "id", None)
    return CasesHome(
        deadlines=[
            DeadlineLine(row[0], row[1], row[2], row[3], row[3] - now, row[4] == me)
            for row in deadlines
        ],
        deadlines_total=deadlines[0].total if deadlines else 0,
        overdue=[ActionLine(row[0], row[1], row[2], row[3], row[4] == me) for row in overdue],
        overdue_total=overdue[0].total if overdue else 0,
        new_cases=[NewCaseLine(*row[:5]) for row in new_cases],
        new_total=new_cases[0].total if new_cases else 0,
        today=today,
    )


# --- coordinators ----------------------------------------------------------------------------


@dataclass
class CoordinationHome:
    builds: list[funder_reports.ShownBuild]
    key_figures: list[statistics.ShownFigure]
    period: statistics.Period
    counted_until: dt.datetime | None  # the rollup's last refresh (None: counted now)


def coordination_section(actor, now: dt.datetime | None = None) -> CoordinationHome | None:
    """The latest funder report builds and this month's key figures, small counts suppressed
    as the dashboard shows them to this viewer."""
    if not can(BUILD_FUNDER_REPORT, actor):
        return None
    # This month in her organisation's zone, as her other dates (overseas, or the 1st at 0:30).
    today = to_local(now, zone_of_user(actor)).date() if now else local_today(zone_of_user(actor))
    period = statistics.Period(today.replace(day=1), today)
    viewer = statistics.viewer_for(actor)
    figures, counted_until = key_figures(period, viewer) if viewer else ([], None)
    return CoordinationHome(
        builds=funder_reports.recent_builds(BUILDS_SHOWN),
        key_figures=figures,
        period=period,
        counted_until=counted_until,
    )


def key_figures(
    period: statistics.Period, viewer: statistics.Viewer
) -> tuple[list[statistics.ShownFigure], dt.datetime | None]:
    """A few of the dashboard's key figures, from the same source rows, and when they were
    counted.

    Programme-wide, they are read from the rollup as of its last refresh (every five minutes,
    ``jobs.statistics_refresh``) in three queries: computing the days changed since, as the
    dashboard does, takes a third of a second, too long for a home page (under 150 ms). Before
    the first refresh, or for one organisation's viewer, they are computed now.
    """
    scope = statistics.Scope(period, organisation_id=viewer.organisation_id)
    refreshed = db.session.scalars(select(StatisticsRefresh).order_by(StatisticsRefresh.id)).first()
    counted_until = refreshed.refreshed_at if refreshed is not None else None
    if viewer.programme_wide and counted_until is not None and refreshed.rebuilt_at is not None:
        source = rollup.Source(rollup.rollup_table(), ALL_DEPARTMENTS)
    else:
        source, counted_until = rollup.source_for(scope), None
    reader = Reader(source, period)
    reports = sum(reader.reports_by("trend").values())
    items = [statistics.KeyFigure("reports", _l("Reports received"), reports)]
    if viewer.programme_wide:  # alerts belong to no organisation
        published = sum(reader.monthly("alerts", "published").values())
        items.append(statistics.KeyFigure("alerts_published", _l("Alerts published"), published))
    cases = sum(reader.sums("case_state").values())
    items.append(statistics.KeyFigure("cases", _l("Cases opened"), cases))
    figures = statistics.Figures(scope=scope, granularity="month", key_figures=items, sections=[])
    return statistics.present(figures, viewer.screen_threshold).key_figures, counted_until


# --- outreach --------------------------------------------------------------------------------


@dataclass
class RoundLine:
    session_id: int
    reference: str
    session_date: dt.date
    department: str
    city: str | None
    contacts: int


@dataclass
class OutreachHome:
    rounds: list[RoundLine]
    total: int


def outreach_section(actor) -> OutreachHome | None:
    """The association's open rounds, the earliest first, with their number of contacts."""
    if not can(RUN_OUTREACH, actor):
        return None
    contacts = (
        select(func.count(OutreachContact.id))
        .where(
            OutreachContact.session_id == OutreachSession.id,
            OutreachContact.organisation_id == OutreachSession.organisation_id,
        )
        .scalar_subquery()
    )
    statement = scoped(
        select(
            OutreachSession.id,
            OutreachSession.session_date,
            OutreachSession.department,
            OutreachSession.city,
            contacts,
            func.count().over().label("total"),
        ).where(OutreachSession.status == SESSION_OPEN),
        OutreachSession,
        actor,
    ).order_by(OutreachSession.session_date, OutreachSession.id)
    rows = db.session.execute(statement.limit(LIST_LENGTH)).all()
    return OutreachHome(
        rounds=[
            RoundLine(
                row[0],
                OutreachSession.reference_of(row[0], row[1]),
                row[1],
                row[2],
                row[3],
                row[4],
            )
            for row in rows
        ],
        total=rows[0].total if rows else 0,
    )


# --- the page --------------------------------------------------------------------------------


@dataclass
class Home:
    moderation: ModerationHome | None = None
    cases: CasesHome | None = None
    coordination: CoordinationHome | None = None
    outreach: OutreachHome | None = None

    @property
    def has_work(self) -> bool:
        return any((self.moderation, self.cases, self.coordination, self.outreach))


def home_of(actor, now: dt.datetime | None = None) -> Home:
    """Every section this actor's capabilities open (a user with several roles sees each)."""
    now = now or utcnow()
    return Home(
        moderation=moderation_section(actor, now),
        cases=cases_section(actor, now),
        coordination=coordination_section(actor, now),
        outreach=outreach_section(actor),
    )
