"""Follow-up actions, the daily digest and the SMTP sender, against a real SMTP server."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from backoffice import jobs
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.case import FollowUpAction
from backoffice.services import cases, mailer
from backoffice.services.timezones import local_today, zone_of_user
from tests.integration import cases_support as support
from tests.integration.cases_support import AIDES_WORKER, free_port, open_case, unique, user

smtp_server = support.smtp_server  # the fixture


def test_the_digest_job_runs_daily_at_seven():
    spec = jobs.JOBS["case_action_digest"]
    assert spec.target == "backoffice.services.cases:send_action_digests"
    assert spec.trigger == {"trigger": "cron", "hour": 7}


def _clear_open_actions() -> None:
    """Other tests leave open actions; mark them done so this digest is predictable."""
    db.session.execute(
        update(FollowUpAction)
        .where(FollowUpAction.done_at.is_(None))
        .values(done_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def test_each_social_worker_gets_references_and_a_link_only(app_context, app, smtp_server):
    _clear_open_actions()
    worker = user(AIDES_WORKER)
    today = local_today(zone_of_user(worker))
    name = unique("Kiara")
    overdue_case = open_case(contact=cases.Contact(name=name, phone="06 11 22 33 44"))
    upcoming_case = open_case()
    later_case = open_case()
    closed_case = open_case()
    add = cases.add_action
    add(
        overdue_case,
        "accompany",
        today - dt.timedelta(days=2),
        worker.id,
        worker,
        details="Accompagner au CeGIDD pour le TPE",
    )
    add(upcoming_case, "call_back", today + dt.timedelta(days=1), worker.id, worker)
    add(later_case, "call_back", today + dt.timedelta(days=30), worker.id, worker)
    done = add(upcoming_case, "check_in", today, worker.id, worker)
    cases.complete_action(done, worker)
    add(closed_case, "call_back", today, worker.id, worker)
    cases.close_case(closed_case, "needs_met", worker)
    db.session.commit()

    # As the scheduler runs it: the job runner commits its audit event.
    assert jobs.run_job(app, "case_action_digest") is True
    db.session.expire_all()
    logged = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "case_action_digest_sent")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert logged.details == {"sent": 1, "failed": 0}
    (recipients, message), *_ = smtp_server.wait_for(1)
    assert recipients == [worker.email]
    body = message.get_content()
    assert re.search(r"\b1\b\D+\b1\b", message["Subject"])  # 1 overdue, 1 coming up
    assert overdue_case.reference in body and upcoming_case.reference in body
    assert later_case.reference not in body and closed_case.reference not in body
    assert body.index(overdue_case.reference) < body.index(upcoming_case.reference)
    assert "/cases/actions/" in body
    for personal in (name, "06 11", "+3361122", "CeGIDD", "TPE", "Accompagn", "accompany"):
        assert personal not in body and personal not in message["Subject"]


def test_the_job_sends_nothing_when_nothing_is_due(app_context, app, smtp_server):
    _clear_open_actions()
    assert jobs.run_job(app, "case_action_digest") is True  # as the scheduler runs it
    assert smtp_server.messages == []


def test_a_batch_uses_one_connection_and_attachments_arrive(app_context, smtp_server):
    with mailer.smtp_connection():
        for index in range(3):
            mailer.send_email(f"worker{index}@example.org", f"Subject {index}", "Body")
        mailer.send_email(
            ["a@example.org", "b@example.org"],
            "With a file",
            "See attached.",
            attachments=[("report.csv", b"a,b\n1,2\n", "text/csv"), ("x.pdf", b"%PDF-1.4")],
        )
    messages = smtp_server.wait_for(4)
    assert [m["Subject"] for _r, m in messages] == [
        "Subject 0",
        "Subject 1",
        "Subject 2",
        "With a file",
    ]
    assert len(set(smtp_server.peers)) == 1  # one SMTP session for the whole batch
    attachments = list(messages[3][1].iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("report.csv", "text/csv"),
        ("x.pdf", "application/pdf"),
    ]
    assert attachments[0].get_content() == "a,b\n1,2\n"
    assert messages[3][0] == ["a@example.org", "b@example.org"]


def test_header_injection_and_unreachable_servers_fail_cleanly(app_context, app):
    with pytest.raises(mailer.MailError):
        mailer.build_message("victim@example.org\nBcc: evil@example.org", "Hi", "Body")
    message = mailer.build_message("a@example.org", "Line one\r\nBcc: evil@example.org", "Body")
    assert message["Bcc"] is None
    saved = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = free_port()  # nothing listens there
    try:
        with pytest.raises(mailer.MailError) as error:
            mailer.send_email("someone@example.org", "Subject", "Body")
        assert "someone" not in str(error.value)
    finally:
        app.config["SMTP_PORT"] = saved
