"""The retention schedule of reports: what each rule erases, what it keeps, a case's hold,
idempotence, the preview in counts only, and the figures unchanged by a run."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Report
from backoffice.models.alert import Alert, AlertReport
from backoffice.models.audit import AuditEvent
from backoffice.models.report import ReportEvent
from backoffice.services import cases, moderation, retention, statistics
from backoffice.services.statistics import Period, Scope
from backoffice.transactions import unit_of_work
from reports_pdf.funder_report import document_context
from tests.integration.moderation_support import new_report, report_in, user
from tests.integration.statistics_support import dataset  # noqa: F401 - fixture

LONG_AGO = dt.datetime(2024, 1, 10, 9, 0)


def _settled_report(action: str = "record_only", at: dt.datetime = LONG_AGO) -> Report:
    """A report with a victim contact, an exact time and a testimony, settled at ``at``."""
    word = f"Retentionword{uuid.uuid4().hex[:8]}"
    report = new_report(
        narrative=f"Il m'a frappée rue des Lilas, {word}.",
        incident={"date": "2023-12-20", "time": "23:40"},
    )
    moderator = user("demo-moderator")
    if action:
        moderation.perform(report, "claim", moderator, now=at - dt.timedelta(minutes=5))
        moderation.perform(report, action, moderator, now=at)
    db.session.commit()
    return report


def _run(now: dt.datetime | None = None) -> dict[str, int]:
    with unit_of_work():
        return retention.apply_retention(now)


def test_a_settled_report_loses_contact_testimony_and_exact_time_and_keeps_the_rest(app):
    with app.app_context():
        report = _settled_report()
        kept = (report.received_at, report.department, report.city, report.violence_types)
        assert report.victim_phone and report.incident_time == dt.time(23, 40)
        _run()
        db.session.expire_all()
        report = db.session.get(Report, report.id)
        assert report.victim_phone_sealed is None and report.victim_pseudonym_sealed is None
        assert report.data_key is not None and report.data_key.is_destroyed
        assert report.narrative_sealed is None and report.redaction_proposal is None
        assert report.redaction_reviewed_sealed is None
        assert report.incident_time is None and report.incident_date == dt.date(2023, 12, 20)
        assert (report.received_at, report.department, report.city, report.violence_types) == kept
        assert report.identifiers, "the aggressor's identifiers are lookup data: they stay"
        assert report.contact_erased_at and report.testimony_shredded_at and report.coarsened_at
        rules = db.session.scalars(
            select(ReportEvent.details).where(
                ReportEvent.report_id == report.id, ReportEvent.action == "retention"
            )
        ).all()
        assert sorted(d["rule"] for d in rules) == ["exact_time", "testimony", "victim_contact"]
        db.session.remove()


def test_a_published_report_loses_its_reviewed_redaction_and_its_alert_keeps_its_text(app):
    with app.app_context():
        report = report_in("published")
        alert = db.session.scalar(
            select(Alert).join(AlertReport).where(AlertReport.report_id == report.id)
        )
        summary = alert.summary
        for event in db.session.scalars(
            select(ReportEvent).where(ReportEvent.report_id == report.id)
        ):
            event.occurred_at = LONG_AGO
        db.session.commit()
        assert report.redaction_reviewed["text"]
        _run()
        db.session.expire_all()
        report = db.session.get(Report, report.id)
        assert report.narrative_sealed is None and report.redaction_reviewed_sealed is None
        assert report.redaction_reviewed_at is not None  # when it was reviewed stays
        assert report.data_key.is_destroyed  # nothing sealed with her key is left
        assert db.session.get(Alert, alert.id).summary == summary
        db.session.remove()


def test_a_second_run_changes_nothing_and_the_preview_is_then_empty(app):
    with app.app_context():
        report = _settled_report()
        _run()
        version = db.session.get(Report, report.id).version_id
        assert _run() == {"victim_contact": 0, "testimony": 0, "exact_time": 0}
        assert all(line.due == 0 for line in retention.preview())
        assert db.session.get(Report, report.id).version_id == version
        db.session.remove()


def test_reports_in_moderation_or_settled_recently_are_not_touched(app):
    with app.app_context():
        waiting = _settled_report(action="")
        waiting.received_at = LONG_AGO
        recent = _settled_report(at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
        db.session.commit()
        _run()
        db.session.expire_all()
        for report in (waiting, recent):
            report = db.session.get(Report, report.id)
            assert report.victim_phone is not None
            assert "rue des Lilas" in report.narrative and report.incident_time is not None
        db.session.remove()


def test_a_followed_case_holds_contact_and_testimony_until_it_is_closed(app):
    with app.app_context():
        report = _settled_report()
        moderator = user("demo-moderator")
        aides = user("demo-social-a").organisation_id
        case = cases.route_report(report.id, aides, moderator)
        db.session.commit()
        held = {line.code: line.held for line in retention.preview()}
        assert held["victim_contact"] >= 1 and held["testimony"] >= 1
        _run()
        db.session.expire_all()
        report = db.session.get(Report, report.id)
        assert report.victim_pseudonym == "Lila" and "rue des Lilas" in report.narrative
        assert report.incident_time is None, "the exact time is coarsened all the same"
        case = db.session.get(type(case), case.id)
        case.status = "closed"
        db.session.commit()
        _run()
        db.session.expire_all()
        report = db.session.get(Report, report.id)
        assert report.victim_pseudonym_sealed is None and report.narrative_sealed is None
        db.session.remove()


def test_each_batch_is_committed_and_audited_with_counts_only(app):
    app.config["RETENTION_BATCH_SIZE"] = 1
    try:
        with app.app_context():
            first, second = _settled_report(), _settled_report()
            before = db.session.scalar(select(db.func.max(AuditEvent.id)))
            counts = _run()
            assert counts["victim_contact"] >= 2
            events = db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.id > before, AuditEvent.action == "report_retention_applied"
                )
            ).all()
            assert all(e.details["reports"] == 1 for e in events)
            assert len(events) >= 6
            for report in (first, second):
                assert not any(report.reference in str(e.details) for e in events)
            db.session.remove()
    finally:
        app.config["RETENTION_BATCH_SIZE"] = 200


def test_the_preview_command_prints_counts_and_nothing_personal(app):
    with app.app_context():
        report = _settled_report()
        word = report.narrative.split()[-1].rstrip(".")
        reference = report.reference
        db.session.remove()
    result = app.test_cli_runner().invoke(args=["retention", "preview"])
    assert result.exit_code == 0, result.output
    assert "victim_contact: " in result.output and "report(s) due" in result.output
    assert word not in result.output and reference not in result.output
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0 and "testimony:" in result.output
    with app.app_context():
        shredded = select(Report.narrative_sealed).where(Report.reference == reference)
        assert db.session.scalar(shredded) is None
        db.session.remove()


def _funder_context(app) -> dict:
    with app.test_request_context():
        presented = statistics.for_funder_report(Scope(Period.year(2011)))
        return document_context(presented, dt.datetime(2012, 1, 1))


def _dashboard(app, live: bool) -> dict:
    with app.test_request_context():
        figures = statistics.compute(Scope(Period.year(2011)), "month", live=live)
        presented = statistics.present(figures, None)
        return {
            "key": [(f.figure.code, f.figure.value) for f in presented.key_figures],
            "tables": {
                key: ([(row.code, cells) for row, cells in t.rows], t.total)
                for key, t in presented.tables.items()
            },
        }


def test_statistics_and_funder_figures_are_the_same_after_a_run(app, dataset):  # noqa: F811
    """The statistics data set (2011) is long settled: every rule applies to it."""
    before = (_dashboard(app, live=True), _dashboard(app, live=False), _funder_context(app))
    with app.app_context():
        _run()
        shredded = db.session.scalars(
            select(Report.narrative_sealed).where(
                Report.id.in_([dataset[n] for n in ("A", "B", "C")])
            )
        ).all()
        assert shredded == [None, None, None]
        db.session.remove()
    after = (_dashboard(app, live=True), _dashboard(app, live=False), _funder_context(app))
    assert after == before
