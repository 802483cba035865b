"""The missing-information loop with the partner who filed a report, and what partners see
of the reports they filed (issue 18, items 4 and 5)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import current_app, g, render_template_string
from sqlalchemy import select

from backoffice.demo import ACCEPTESS, AIDES
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.organisation import Organisation
from backoffice.models.report import Report, ReportEvent
from backoffice.models.worker_access import ReportAnswer, ReportQuestion
from backoffice.security import PARTNER_RELAY
from backoffice.services import alerts, cases, intake, moderation, questions, report_erasure
from tests.conftest import csrf_token
from tests.integration.moderation_support import PASSWORD, payload, report_in, user

QUESTION = "Quel hôtel, et à quelle heure ?"


def organisation_id(name: str) -> int:
    return db.session.scalar(select(Organisation.id).where(Organisation.name == name))


def other_relay():
    """A relay of another association (Acceptess-T), created once per test session."""
    sm = current_app.appbuilder.sm
    found = sm.find_user(username="test-relay-acceptess")
    if found is None:
        found = sm.add_user(
            username="test-relay-acceptess",
            first_name="Ana",
            last_name="Test",
            email="test-relay-acceptess@demo.invalid",
            role=sm.find_role(PARTNER_RELAY),
            password=PASSWORD,
        )
        found.organisation_id = organisation_id(ACCEPTESS)
        db.session.commit()
    return found


def filed_report(username: str = "demo-relay", **overrides) -> Report:
    """A report entered by a relay for a worker: filed by her association."""
    relay = user(username)
    report = intake.submit_report(
        payload(**overrides),
        default_channel="phone",
        filed_by=relay,
        filing_organisation_id=relay.organisation_id,
    )
    db.session.commit()
    return report


def ask(report: Report, text: str = QUESTION, now: dt.datetime | None = None) -> None:
    moderator = user("demo-moderator")
    moderation.perform(report, "claim", moderator, now=now)
    moderation.perform(report, "request_info", moderator, reason=text, now=now)
    db.session.commit()


def decryptions(question_id: int) -> int:
    """Audited reads of that question's text."""
    return len(
        db.session.scalars(
            select(AuditEvent.id).where(
                AuditEvent.action == "decrypt",
                AuditEvent.object_type == "ReportQuestion",
                AuditEvent.object_id == str(question_id),
            )
        ).all()
    )


# --- the loop --------------------------------------------------------------------------------


def test_a_relay_answers_the_question_and_the_report_returns_to_review(app, login_as):
    with app.app_context():
        report = filed_report()
        ask(report)
        reference, report_id = report.reference, report.id
        question = db.session.scalar(
            select(ReportQuestion).where(ReportQuestion.report_id == report_id)
        )
        assert question.addressee == "partner"
        assert "hôtel" not in (question.text_sealed or "")  # sealed at rest
        asked = moderation.history(report)[-1]
        assert asked.action == "request_info" and asked.reason is None  # not in the history
        question_id = question.id
        seen_before = decryptions(question_id)

    relay = login_as("demo-relay")
    listing = relay.get("/partner/reports/?show=question").get_data(as_text=True)
    assert reference in listing and 'data-status="needs_info"' in listing
    page = relay.get(f"/partner/reports/{reference}")
    assert page.status_code == 200 and "quelle heure" in page.get_data(as_text=True)
    with app.app_context():
        assert decryptions(question_id) > seen_before  # reading it is audited

    token = csrf_token(relay, f"/partner/reports/{reference}")
    with app.app_context():
        version = db.session.get(Report, report_id).version_id
        read_before_refusal = decryptions(question_id)
    empty = relay.post(
        f"/partner/reports/{reference}/answer",
        data={"csrf_token": token, "version": version, "answer": "   "},
    )
    assert empty.status_code == 400 and 'id="answer-error"' in empty.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Report, report_id).status == "needs_info"  # nothing changed
        # The refused form showed the question again: that read is audited all the same.
        assert decryptions(question_id) > read_before_refusal
        assert not db.session.scalars(
            select(ReportAnswer).where(ReportAnswer.report_id == report_id)
        ).all()

    sent = relay.post(
        f"/partner/reports/{reference}/answer",
        data={"csrf_token": token, "version": version, "answer": "Hôtel Ibis Bercy, vers 23 h."},
    )
    assert sent.status_code == 302
    with app.app_context():
        report = db.session.get(Report, report_id)
        assert report.status == "received"  # back in the moderators' queue
        event = moderation.history(report)[-1]
        assert (event.action, event.actor_name) == ("info_added", "demo-relay")
        assert event.details == {"source": "partner"}
        (answer,) = db.session.scalars(
            select(ReportAnswer).where(ReportAnswer.report_id == report_id)
        )
        assert "Ibis" not in (answer.text_sealed or "")
        assert answer.answered_by_id == user("demo-relay").id
        assert answer.question_id is not None
        assert db.session.get(ReportQuestion, answer.question_id).answered_at is not None
        assert db.session.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "report_answer_received",
                AuditEvent.object_id == reference,
            )
        )

    # The moderator reads it on the report page; a second answer finds nothing to answer.
    moderator = login_as("demo-moderator")
    shown = moderator.get(f"/moderation/reports/{reference}").get_data(as_text=True)
    assert "Ibis Bercy" in shown and "quelle heure" in shown
    again = relay.post(
        f"/partner/reports/{reference}/answer",
        data={"csrf_token": token, "version": version + 10, "answer": "Encore."},
    )
    assert again.status_code == 400


def test_a_stale_form_changes_nothing(app, login_as):
    with app.app_context():
        report = filed_report()
        ask(report)
        reference, report_id, version = report.reference, report.id, report.version_id
    relay = login_as("demo-relay")
    token = csrf_token(relay, f"/partner/reports/{reference}")
    stale = relay.post(
        f"/partner/reports/{reference}/answer",
        data={"csrf_token": token, "version": version - 1, "answer": "Réponse."},
    )
    assert stale.status_code == 400
    with app.app_context():
        assert db.session.get(Report, report_id).status == "needs_info"


def test_a_report_sent_by_the_worker_herself_asks_her_not_the_partners(app, login_as):
    with app.app_context():
        report = report_in("needs_info")  # through the API's intake: no filing association
        reference = report.reference
        question = db.session.scalar(
            select(ReportQuestion).where(ReportQuestion.report_id == report.id)
        )
        assert question.addressee == "worker"
        assert questions.question_text(report) == "Test reason"  # what her follow-up shows
    relay = login_as("demo-relay")  # even a relay of the association routed to later
    assert relay.get(f"/partner/reports/{reference}").status_code == 404
    token = csrf_token(relay, "/partner/reports/")
    refused = relay.post(
        f"/partner/reports/{reference}/answer", data={"csrf_token": token, "answer": "x"}
    )
    assert refused.status_code == 404
    assert reference not in relay.get("/partner/reports/").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Report.status).where(Report.reference == reference)) == (
            "needs_info"
        )


def test_another_association_sees_nothing_of_the_report(app, login_as):
    with app.app_context():
        report = filed_report()
        ask(report)
        reference = report.reference
        other_relay()
    other = login_as("test-relay-acceptess")
    assert reference not in other.get("/partner/reports/").get_data(as_text=True)
    assert other.get(f"/partner/reports/{reference}").status_code == 404
    token = csrf_token(other, "/partner/reports/")
    answer = other.post(
        f"/partner/reports/{reference}/answer", data={"csrf_token": token, "answer": "x"}
    )
    assert answer.status_code == 404
    with app.app_context():
        found = db.session.scalar(select(Report).where(Report.reference == reference))
        assert found.status == "needs_info"
        assert questions.relay_home(user("test-relay-acceptess")).questions == 0


# --- no answer -------------------------------------------------------------------------------


def test_an_unanswered_question_sends_the_report_back_marked_no_answer(app, login_as):
    with app.app_context():
        now = utcnow()
        old = filed_report(incident={"department": "48"})  # a quiet department
        ask(old, now=now - dt.timedelta(days=8))
        recent = report_in("needs_info")
        old_ref, recent_ref = old.reference, recent.reference
        assert questions.expire_unanswered(now=now) >= 1
        db.session.commit()
        old = db.session.get(Report, old.id)
        assert old.status == "received"
        event = moderation.history(old)[-1]
        assert (event.action, event.actor_name, event.to_status) == (
            "no_answer",
            "system",
            "received",
        )
        assert db.session.get(Report, recent.id).status == "needs_info"  # still waiting
        assert questions.unanswered_report_ids([old.id, recent.id]) == {old.id}

    moderator = login_as("demo-moderator")
    queue = moderator.get("/moderation/queue?status=received&department=48").get_data(as_text=True)
    row = re.search(rf"<tr[^>]*>\s*<td><a [^>]*>{old_ref}</a></td>\s*<td>(.*?)</td>", queue, re.S)
    assert row and "no-answer" in row.group(1)
    assert recent_ref not in queue


def test_the_delay_is_configured(app):
    with app.app_context():
        report = filed_report()
        now = utcnow()
        ask(report, now=now - dt.timedelta(days=3))
        before = current_app.config["INFORMATION_ANSWER_DAYS"]
        try:
            questions.expire_unanswered(now=now)
            assert db.session.get(Report, report.id).status == "needs_info"  # 3 < 7 days
            current_app.config["INFORMATION_ANSWER_DAYS"] = 2
            questions.expire_unanswered(now=now)
            db.session.commit()
        finally:
            current_app.config["INFORMATION_ANSWER_DAYS"] = before
        assert db.session.get(Report, report.id).status == "received"


def test_the_job_is_registered(app):
    from backoffice.jobs import JOBS

    assert JOBS["expire_unanswered_questions"].target.endswith("questions:expire_unanswered_job")


# --- outcomes --------------------------------------------------------------------------------


def test_the_partner_sees_the_alert_and_her_own_case_but_not_another_associations(app, login_as):
    with app.app_context():
        moderator = user("demo-moderator")
        published = filed_report()
        moderation.perform(published, "claim", moderator)
        moderation.review_redaction(published, moderator)
        moderation.perform(published, "approve", moderator)
        alert = alerts.compose([published], moderator)
        alerts.publish(alert, moderator)
        mine = filed_report()
        theirs = filed_report()
        case = cases.route_report(mine.id, organisation_id(AIDES), moderator)
        other_case = cases.route_report(theirs.id, organisation_id(ACCEPTESS), moderator)
        db.session.commit()
        refs = {
            "published": published.reference,
            "alert": alert.reference,
            "mine": mine.reference,
            "case": case.reference,
            "theirs": theirs.reference,
            "other_case": other_case.reference,
        }
    relay = login_as("demo-relay")
    listing = relay.get("/partner/reports/").get_data(as_text=True)
    assert refs["alert"] in listing and refs["case"] in listing
    assert refs["theirs"] in listing and refs["other_case"] not in listing
    shown = relay.get(f"/partner/reports/{refs['published']}").get_data(as_text=True)
    assert refs["alert"] in shown and "data-status" not in shown
    (status,) = re.findall(r'class="filed-status">(.*?)<', shown)
    assert status.strip() != "published" and " " in status.strip()  # words, not a code
    case_page = relay.get(f"/partner/reports/{refs['theirs']}").get_data(as_text=True)
    assert refs["other_case"] not in case_page


def test_the_relay_home_section_counts_her_associations_work(app):
    with app.app_context():
        relay = user("demo-relay")
        before = questions.relay_home(relay)
        report = filed_report()
        ask(report)
        after = questions.relay_home(relay)
        assert after.questions == before.questions + 1
        assert after.filed_open == before.filed_open + 1
        assert report.id in [r.id for r in after.waiting] or len(after.waiting) == 5
        assert questions.relay_home(user("demo-moderator")) is None
        with app.test_request_context("/"):
            g.user = relay
            html = render_template_string('{% include "home/_relay.html" %}')
            assert "relay-home" in html and "/partner/reports/?show=question" in html
            g.user = user("demo-moderator")
            assert "relay-home" not in render_template_string('{% include "home/_relay.html" %}')


def test_erasing_the_report_erases_the_question(app):
    with app.app_context():
        report = filed_report()
        ask(report)
        report_erasure.erase_report(report)
        db.session.commit()
        question = db.session.scalar(
            select(ReportQuestion).where(ReportQuestion.report_id == report.id)
        )
        assert question.text_sealed is None and question.data_key.is_destroyed


def test_erasure_clears_a_question_kept_in_clear_before_sealing_and_it_is_not_sealed_again(app):
    with app.app_context():
        report = filed_report()
        ask(report)
        event = moderation.history(report)[-1]
        db.session.delete(db.session.get(ReportQuestion, event.details["question"]))
        event.reason, event.details = "Rue de la Paix, le soir du 3 ?", {}  # as before sealing
        db.session.commit()
        report_erasure.erase_report(report)
        db.session.commit()
        assert db.session.get(ReportEvent, event.id).reason is None
        questions.seal_legacy_questions()
        db.session.commit()
        assert (
            db.session.scalar(select(ReportQuestion).where(ReportQuestion.report_id == report.id))
            is None
        )


@pytest.mark.parametrize("username", ["demo-social-a", "demo-moderator", "demo-coordinator"])
def test_other_roles_cannot_answer(app, login_as, username):
    with app.app_context():
        report = filed_report()
        ask(report)
        reference, report_id = report.reference, report.id
    client = login_as(username)
    assert client.get(f"/partner/reports/{reference}").status_code in (302, 403, 404)
    with app.app_context():
        version = db.session.get(Report, report_id).version_id
    posted = client.post(
        f"/partner/reports/{reference}/answer",
        data={"csrf_token": csrf_token(client, "/"), "version": version, "answer": "Rue X"},
    )
    assert posted.status_code in (302, 403, 404)
    with app.app_context():
        assert db.session.get(Report, report_id).status == "needs_info"
        assert (
            db.session.scalar(
                select(ReportEvent.id).where(
                    ReportEvent.action == "info_added",
                    ReportEvent.report_id == report_id,
                )
            )
            is None
        )


def test_questions_asked_before_they_were_sealed_leave_the_history(app):
    with app.app_context():
        report = filed_report()
        moderator = user("demo-moderator")
        moderation.perform(report, "claim", moderator)
        moderation.perform(report, "request_info", moderator, reason="placeholder")
        db.session.commit()
        # As a question was stored before this change: in clear in the history, no row.
        event = moderation.history(report)[-1]
        db.session.delete(db.session.get(ReportQuestion, event.details["question"]))
        event.reason, event.details = "Which street, and which night?", {}
        db.session.commit()
        assert questions.question_text(report) == "Which street, and which night?"

        assert questions.seal_legacy_questions() >= 1
        db.session.commit()
        event = db.session.get(ReportEvent, event.id)
        assert event.reason is None
        question = db.session.get(ReportQuestion, event.details["question"])
        assert "street" not in question.text_sealed
        assert (question.addressee, question.asked_by_id) == ("partner", moderator.id)
        assert question.asked_at == event.occurred_at
        assert questions.question_text(report) == "Which street, and which night?"
        assert questions.seal_legacy_questions() == 0  # nothing left in clear
