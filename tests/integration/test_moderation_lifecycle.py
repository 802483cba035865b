"""The report lifecycle: every transition allowed and refused, per role and per status.

The expectations below are written from DESIGN.md, independently of the table in
``services/moderation.py``: a change to who may do what must change both.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.report import Report, ReportEvent
from backoffice.services import alerts, moderation, questions
from backoffice.services.moderation import (
    ClaimHeld,
    ConcurrentChange,
    ModerationError,
    ReasonRequired,
    TransitionRefused,
)
from tests.integration.moderation_support import (
    new_report,
    report_in,
    second_moderator,
    user,
)

ROLE_USERS = {
    "Admin": "demo-admin",
    "Moderator": "demo-moderator",
    "SocialWorker": "demo-social-a",
    "Coordinator": "demo-coordinator",
    "Outreach": "demo-outreach",
    "PartnerRelay": "demo-relay",
    "system": None,
}
STATUSES = [
    "received",
    "in_review",
    "needs_info",
    "approved",
    "published",
    "archived",
    "rejected",
    "merged",
    "recorded",
]
# transition -> (statuses it starts from, status it leads to, who may perform it)
EXPECTED = {
    "claim": ({"received", "in_review"}, "in_review", {"Moderator"}),
    "release": ({"in_review"}, "received", {"Moderator"}),
    "approve": ({"in_review"}, "approved", {"Moderator"}),
    "request_info": ({"in_review"}, "needs_info", {"Moderator"}),
    # and a relay of the association that filed the report, answering its question
    "info_added": ({"needs_info"}, "received", {"Moderator", "PartnerRelay", "system"}),
    # the question went unanswered INFORMATION_ANSWER_DAYS (job)
    "no_answer": ({"needs_info"}, "received", {"system"}),
    "reject": ({"in_review"}, "rejected", {"Moderator"}),
    "merge": ({"in_review"}, "merged", {"Moderator"}),
    "record_only": ({"in_review", "approved"}, "recorded", {"Moderator"}),
    "publish": ({"approved"}, "published", {"Moderator"}),
    # system: the person who reported withdraws her report's alert (API follow-up).
    "retract": ({"published"}, "archived", {"Moderator", "system"}),
    "expire": ({"published"}, "archived", {"system"}),
    # A report whose alerts were all retracted goes back to approved for a new alert.
    "reopen": ({"archived"}, "approved", {"Moderator"}),
}


def test_the_table_is_the_one_of_the_design():
    assert set(moderation.TRANSITIONS) == set(EXPECTED)
    for name, (sources, target, _who) in EXPECTED.items():
        assert set(moderation.TRANSITIONS[name].sources) == sources, name
        assert moderation.TRANSITIONS[name].target == target, name


def _events(report: Report) -> int:
    return db.session.scalar(
        select(func.count(ReportEvent.id)).where(ReportEvent.report_id == report.id)
    )


def _run(name: str, report: Report, actor):
    """Perform a transition the way its caller does (alert service for publish/retract)."""
    if name == "publish":
        alert = alerts.compose([report], user("demo-moderator"))
        db.session.commit()
        return alerts.publish(alert, actor)
    if name in ("retract", "expire"):
        alert = report_alert(report)
        if name == "retract":
            return alerts.retract(alert, actor, "Wrong aggressor")
        return moderation.perform(report, "expire", actor, alert=alert)
    if name == "reopen":  # done by composing a new alert from the freed report
        alerts.compose([report], actor)
        return None
    kwargs = {}
    if name in ("request_info", "reject"):
        kwargs["reason"] = "Some reason"
    if name == "merge":
        kwargs["merge_into"] = new_report()
    return moderation.perform(report, name, actor, **kwargs)


def report_alert(report: Report):
    from backoffice.models.alert import Alert, AlertReport

    return db.session.scalar(
        select(Alert).join(AlertReport).where(AlertReport.report_id == report.id)
    )


def _prepare(name: str, status: str):
    report = report_in(status)
    if name == "approve":  # the required review done, so only the role decides
        moderation.review_redaction(report, user("demo-moderator"))
        db.session.commit()
    return report


def _role_cases():
    for name, (sources, _target, who) in EXPECTED.items():
        source = sorted(sources)[0]
        for role in ROLE_USERS:
            yield pytest.param(name, source, role, role in who, id=f"{name}-{role}")


@pytest.mark.parametrize(("name", "status", "role", "allowed"), list(_role_cases()))
def test_who_may_perform_each_transition(app_context, name, status, role, allowed):
    report = _prepare(name, status)
    actor = user(ROLE_USERS[role]) if ROLE_USERS[role] else None
    before_events = _events(report)
    if allowed:
        _run(name, report, actor)
        db.session.commit()
        assert report.status == EXPECTED[name][1]
        event = db.session.scalars(
            select(ReportEvent)
            .where(ReportEvent.report_id == report.id)
            .order_by(ReportEvent.id.desc())
        ).first()
        assert (event.action, event.from_status, event.to_status) == (
            name,
            status,
            EXPECTED[name][1],
        )
        assert event.actor_name == (actor.username if actor else "system")
    else:
        with pytest.raises(ModerationError):
            _run(name, report, actor)
        db.session.rollback()
        db.session.refresh(report)
        assert report.status == status
        assert _events(report) == before_events


def _status_cases():
    for name, (sources, _target, _who) in EXPECTED.items():
        for status in STATUSES:
            # A report archived by a retraction may feed a new alert, and be published with
            # it (test_alert_versions.py); the expiry case stays refused there too.
            if status not in sources and (name, status) != ("publish", "archived"):
                yield pytest.param(name, status, id=f"{name}-from-{status}")


@pytest.mark.parametrize(("name", "status"), list(_status_cases()))
def test_transitions_refused_from_other_statuses(app_context, name, status):
    report = report_in(status)
    performer = None if EXPECTED[name][2] == {"system"} else user("demo-moderator")
    before_events = _events(report)
    if name == "publish":
        with pytest.raises((ModerationError, alerts.AlertError)):
            alert = alerts.compose([report], user("demo-moderator"))
            alerts.publish(alert, performer)
    elif name in ("retract",):
        with pytest.raises((ModerationError, alerts.AlertError)):
            moderation.perform(report, name, performer, reason="x")
    else:
        with pytest.raises(TransitionRefused):
            moderation.perform(report, name, performer, reason="x", merge_into=new_report())
    db.session.rollback()
    db.session.refresh(report)
    assert report.status == status
    assert _events(report) == before_events


@pytest.mark.parametrize("name", ["request_info", "reject"])
def test_reasons_are_required(app_context, name):
    report = report_in("in_review")
    with pytest.raises(ReasonRequired):
        moderation.perform(report, name, user("demo-moderator"), reason="   ")
    db.session.rollback()
    moderation.perform(report, name, user("demo-moderator"), reason="Date missing")
    db.session.commit()
    if name == "request_info":  # the question may quote her testimony: sealed, not in history
        assert moderation.history(report)[-1].reason is None
        assert questions.question_text(report) == "Date missing"
    else:
        assert moderation.history(report)[-1].reason == "Date missing"


def test_retraction_requires_a_reason(app_context):
    report = report_in("published")
    alert = report_alert(report)
    with pytest.raises(alerts.AlertError):
        alerts.retract(alert, user("demo-moderator"), "  ")
    db.session.rollback()
    assert alert.status == "published"


def test_no_consent_means_recorded_not_approved(app_context):
    report = report_in("in_review", consent={"publish_alert": False})
    moderator = user("demo-moderator")
    moderation.review_redaction(report, moderator)
    with pytest.raises(TransitionRefused, match="consent"):
        moderation.perform(report, "approve", moderator)
    db.session.rollback()
    with pytest.raises(alerts.AlertError, match="consent"):
        alerts.compose([report], moderator)
    db.session.rollback()
    moderation.perform(report, "record_only", moderator)
    db.session.commit()
    assert report.status == "recorded"


def test_the_redaction_review_is_required_before_approval(app_context):
    report = report_in("in_review")
    moderator = user("demo-moderator")
    with pytest.raises(TransitionRefused, match="redaction"):
        moderation.perform(report, "approve", moderator)
    db.session.rollback()
    moderation.review_redaction(report, moderator)
    moderation.perform(report, "approve", moderator)
    db.session.commit()
    assert report.status == "approved"


def test_the_history_tells_who_when_from_to_and_why(app_context):
    report = report_in("needs_info")
    moderation.perform(report, "info_added", None)
    db.session.commit()
    steps = [(e.action, e.from_status, e.to_status) for e in moderation.history(report)]
    assert steps == [
        ("claim", "received", "in_review"),
        ("request_info", "in_review", "needs_info"),
        ("info_added", "needs_info", "received"),
    ]
    request = moderation.history(report)[1]
    assert request.actor_name == "demo-moderator"
    # the question is sealed apart (it may quote her testimony); the history points to it
    assert request.reason is None and request.details["question"]
    assert request.occurred_at <= utcnow()


def test_a_merged_report_points_to_its_target_and_the_target_knows(app_context):
    report = report_in("merged")
    target = report.merged_into
    assert target is not None
    assert any(e.action == "merged_from" for e in moderation.history(target))


@pytest.mark.parametrize(("name", "status"), [("publish", "approved"), ("retract", "published")])
def test_publication_and_retraction_only_happen_to_an_alert(app_context, name, status):
    report = report_in(status)
    with pytest.raises(TransitionRefused, match="alert"):
        moderation.perform(report, name, user("demo-moderator"), reason="x")
    db.session.rollback()
    assert report.status == status


def test_a_report_cannot_be_merged_into_itself(app_context):
    report = report_in("in_review")
    with pytest.raises(TransitionRefused):
        moderation.perform(report, "merge", user("demo-moderator"), merge_into=report)


# --- claims and concurrency ------------------------------------------------------------------


def test_a_claimed_report_is_locked_for_another_moderator(app_context):
    report = report_in("in_review")  # claimed by demo-moderator
    other = second_moderator()
    for name in ("claim", "release", "reject", "approve"):
        with pytest.raises(ClaimHeld, match="Morgane"):
            moderation.perform(report, name, other, reason="x")
        db.session.rollback()
    with pytest.raises(ClaimHeld):
        moderation.review_redaction(report, other)
    db.session.rollback()
    assert report.claimed_by_id == user("demo-moderator").id


def test_an_expired_claim_can_be_taken_over(app_context):
    report = report_in("in_review")
    report.claim_expires_at = utcnow() - dt.timedelta(minutes=1)
    db.session.commit()
    other = second_moderator()
    moderation.perform(report, "claim", other)
    db.session.commit()
    assert report.claimed_by_id == other.id
    assert report.claim_expires_at > utcnow() + dt.timedelta(minutes=29)
    with pytest.raises(ClaimHeld):
        moderation.perform(report, "reject", user("demo-moderator"), reason="x")


def test_the_claim_lasts_the_configured_minutes(app, app_context):
    app.config["CLAIM_MINUTES"] = 5
    try:
        report = report_in("in_review")
        remaining = report.claim_expires_at - utcnow()
        assert dt.timedelta(minutes=4) < remaining <= dt.timedelta(minutes=5)
    finally:
        app.config["CLAIM_MINUTES"] = 30


def test_two_moderators_racing_for_one_report(app):
    """Both load the report, both claim: the second write fails cleanly, nothing is lost."""
    with app.app_context():
        report_id = new_report().id
    with app.app_context():
        mine = db.session.get(Report, report_id)
        version_seen = mine.version_id
        with app.app_context():  # the other moderator, in her own session
            theirs = db.session.get(Report, report_id)
            moderation.perform(theirs, "claim", second_moderator())
            db.session.commit()
        with pytest.raises(ConcurrentChange, match="Someone else changed"):
            moderation.perform(mine, "claim", user("demo-moderator"))
        db.session.rollback()
    with app.app_context():
        final = db.session.get(Report, report_id)
        assert final.claimed_by_id == second_moderator().id
        assert final.version_id == version_seen + 1
        assert [e.action for e in moderation.history(final)] == ["claim"]


def test_a_stale_form_is_refused(app_context):
    report = report_in("in_review")
    seen = report.version_id
    moderation.review_redaction(report, user("demo-moderator"))
    db.session.commit()
    with pytest.raises(ConcurrentChange):
        moderation.perform(
            report, "reject", user("demo-moderator"), reason="x", expected_version=seen
        )
    db.session.rollback()
    assert report.status == "in_review"


# --- the redaction review ----------------------------------------------------------------------


def test_review_accepts_or_corrects_the_proposal(app_context):
    report = report_in("in_review")
    start = report.narrative.index("Lila")
    report.redaction_proposal = {
        "text": "",
        "spans": [{"start": start, "end": start + 4, "type": "NAME"}],
    }
    db.session.commit()
    moderator = user("demo-moderator")
    moderation.review_redaction(report, moderator)
    assert "[NOM]" in report.redaction_reviewed["text"]
    assert report.redaction_reviewed["accepted_proposal"] is True
    spans = moderation.parse_spans(
        report.narrative,
        [
            {"start": start, "end": start + 4, "type": "NAME"},
            {"start": 0, "end": 2, "type": "NAME"},
        ],
    )
    moderation.review_redaction(report, moderator, spans)
    db.session.commit()
    assert report.redaction_reviewed["text"].startswith("[NOM]")
    event = moderation.history(report)[-1]
    assert event.action == "redaction_reviewed" and event.details["added"] == 1


@pytest.mark.parametrize(
    "raw",
    [[{"start": 0, "end": 99999, "type": "NAME"}], [{"start": 5, "end": 2, "type": "NAME"}],
     [{"start": 0, "end": 2, "type": "SECRET"}], [{"start": "a"}]],
)  # fmt: skip
def test_bad_spans_are_refused(app_context, raw):
    report = report_in("in_review")
    with pytest.raises(TransitionRefused):
        moderation.parse_spans(report.narrative, raw)


def test_available_transitions_follow_status_role_and_claim(app_context):
    report = report_in("in_review")
    names = {t.name for t in moderation.available_transitions(report, user("demo-moderator"))}
    assert {"release", "approve", "reject", "request_info", "merge", "record_only"} <= names
    assert moderation.available_transitions(report, second_moderator()) == []
    assert moderation.available_transitions(report, user("demo-social-a")) == []
