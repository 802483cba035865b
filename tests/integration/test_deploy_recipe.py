"""The production recipe of ``deploy/``, followed literally on PostgreSQL.

The environment comes from ``deploy/backoffice.env.example`` (its uncommented lines), with
only addresses changed for loopback servers (SMTP, the SMS provider); the first-install
commands of the README run in production mode (``keys generate`` included); gunicorn and
the worker start with the ``ExecStart`` lines of the systemd units. An alert published to
an email subscriber and a phone arrives once on each loopback server, its SMS delivery
receipt is recorded through the web server, and stopping each unit's process group leaves
nothing holding the port.
"""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlencode

import pytest
import requests

from tests.conftest import own_database
from tests.deploy_support import (
    PUBLIC,
    exec_start,
    first_install,
    helper,
    production_environment,
    redis_store,
    start,
    stop,
    wait_for,
)
from tests.integration.dispatch_support import SmtpServer, free_port, unique_email, unique_mobile
from tests.sms_provider_servers import TwilioServer

pytestmark = pytest.mark.postgres_only


def test_the_recipe_sends_a_published_alert_once(tmp_path):
    smtp, sms = SmtpServer(), TwilioServer()
    smtp.start()
    port = free_port()
    with own_database(tmp_path) as url, redis_store() as redis_url:
        env = production_environment(url, tmp_path, smtp.port, redis_url, sms)
        assert env["BACKOFFICE_ENV"] == "production" and env["SCHEDULER_ENABLED"] == "false"
        first_install(env)
        web = start(exec_start("backoffice-web.service", port), env, tmp_path / "web.log")
        worker = start(exec_start("backoffice-worker.service", port), env, tmp_path / "worker.log")
        try:
            _check_web(port)
            email, phone = unique_email("deploy"), unique_mobile()
            reference = helper(env, "publish", email, phone)
            try:
                _check_arrives_once(smtp, sms, reference, email, phone)
            except AssertionError as failure:
                log = (tmp_path / "worker.log").read_text()[-3000:]
                raise AssertionError(f"{failure}; worker log: {log}") from None
            _check_receipt(port, sms, env)
            _check_health(port)
        finally:
            stop(web)
            stop(worker)
            smtp.stop()
            sms.stop()
        for process in (web, worker):  # no process of either group is left
            with pytest.raises(ProcessLookupError):
                os.killpg(process.pid, 0)
        with socket.socket() as probe:  # nothing listens on the port (TIME_WAIT is fine)
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
        logs = (tmp_path / "web.log").read_text() + (tmp_path / "worker.log").read_text()
        assert "Traceback" not in logs, logs[-3000:]


def _get(url: str):
    try:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        return requests.get(url, headers=headers, timeout=5)
    except requests.exceptions.ConnectionError:
        return None


def _check_web(port: int) -> None:
    page = wait_for(lambda: _get(f"http://127.0.0.1:{port}/login/"), 90, "gunicorn")
    assert page.status_code == 200
    # Behind the TLS proxy (PROXY_FIX_HOPS=1) the session cookie is Secure.
    assert "Secure" in page.headers.get("Set-Cookie", "")


def _check_arrives_once(smtp, sms, reference: str, email: str, phone: str) -> None:
    def mail_count() -> int:
        received = list(smtp.recorder.received)
        return sum(1 for m in received if m[1] == email and reference in m[3].get_content())

    def sms_count() -> int:
        return sum(1 for m in list(sms.sent) if m["to"] == phone and "ALERTE" in m["text"])

    wait_for(lambda: mail_count() and sms_count(), 120, "the alert by email and SMS")
    time.sleep(12)  # two more scheduler runs: nothing goes twice
    assert (mail_count(), sms_count()) == (1, 1)


def _check_receipt(port: int, sms: TwilioServer, env: dict) -> None:
    message = next(m for m in sms.sent if "ALERTE" in m["text"])
    path = "/webhooks/sms-provider/twilio/status"
    params = {"MessageSid": message["id"], "MessageStatus": "delivered", "ErrorCode": ""}
    answer = requests.post(
        f"http://127.0.0.1:{port}{path}",
        data=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sms.signature(PUBLIC + path, params),
            "X-Forwarded-Proto": "https",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert helper(env, "receipt", message["id"]) == "delivered"


def _check_health(port: int) -> None:
    answer = _get(f"http://127.0.0.1:{port}/healthz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["scheduler"]["ok"]
    metrics = _get(f"http://127.0.0.1:{port}/metrics")
    assert "backoffice_outbox_lag_seconds" in metrics.text
