"""``flask demo seed``, which ``make run`` runs on a new database: what a newcomer finds.

The seed runs once, on a database of its own (it fills every area, which the shared test
database must not see), through the command line as ``make run`` calls it.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from backoffice.demo import USERS
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.report import Report
from backoffice.services.moderation import OPEN_STATUSES, STATUSES
from tests.conftest import login, make_app, own_database

# A calm queue: the demo's waiting reports arrived within the last days, as in real work.
QUEUE_DAYS = 14


@pytest.fixture(scope="module")
def demo(tmp_path_factory, test_keyring):
    with own_database(tmp_path_factory.mktemp("demo_db")) as url:
        instance = tmp_path_factory.mktemp("demo_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision="heads")
        app = make_app(url, test_keyring, instance)
        seeded = app.test_cli_runner().invoke(args=["demo", "seed", "--if-empty"])
        assert seeded.exit_code == 0, seeded.output
        yield SimpleNamespace(app=app, output=seeded.output, instance=instance)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def demo_db(demo):
    with demo.app.app_context():
        yield
        db.session.rollback()


def _count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_the_seed_says_what_it_made_and_runs_once(demo):
    assert "Demo moderation:" in demo.output
    assert "Demo reports: 200 received" in demo.output
    assert (demo.instance / "demo_api_key.txt").read_text().strip() in demo.output
    with demo.app.app_context():
        reports, alerts = _count(Report), _count(Alert)
    again = demo.app.test_cli_runner().invoke(args=["demo", "seed", "--if-empty"])
    assert again.exit_code == 0
    assert "Demo data already present." in again.output
    with demo.app.app_context():
        assert (_count(Report), _count(Alert)) == (reports, alerts)


def test_reports_are_found_in_every_state(demo, demo_db):
    present = set(db.session.scalars(select(Report.status).distinct()))
    assert present == set(STATUSES)


def test_the_queue_holds_recent_work_only(demo, demo_db):
    oldest = db.session.scalar(
        select(func.min(Report.received_at)).where(Report.status.in_(OPEN_STATUSES))
    )
    assert utcnow() - oldest < dt.timedelta(days=QUEUE_DAYS)
    waiting = _count_where(Report.status == "received")
    assert waiting >= 5, "the queue should have work to try the moderation on"


def _count_where(condition) -> int:
    return db.session.scalar(select(func.count(Report.id)).where(condition))


def test_past_reports_were_settled_when_they_came(demo, demo_db):
    """Two years of reports: the past ones went to an alert, were recorded or rejected."""
    year_ago = utcnow() - dt.timedelta(days=365)
    old = db.session.scalars(select(Report).where(Report.received_at < year_ago)).all()
    assert len(old) > 50
    statuses = {r.status for r in old}
    assert not statuses & set(OPEN_STATUSES)
    assert {"archived", "recorded", "rejected"} <= statuses


def test_alerts_are_published_retracted_and_archived(demo, demo_db):
    alerts = db.session.scalars(select(Alert)).all()
    live = [a for a in alerts if a.status == "published"]
    retracted = [a for a in alerts if a.retracted_at is not None]
    expired = [a for a in alerts if a.status == "archived" and a.retracted_at is None]
    assert len(live) >= 3 and len(retracted) >= 1 and len(expired) >= 2
    now = utcnow()
    for alert in alerts:
        received = max(r.received_at for r in alert.reports)
        assert received < alert.published_at <= now, alert.reference
        assert alert.reference.startswith(f"A-{alert.published_at.year}-")
        assert alert.created_at <= alert.published_at
    for alert in expired:
        assert alert.expires_at <= now


def test_new_subscribers_get_this_week_alerts_only(demo, demo_db):
    week_ago = utcnow() - dt.timedelta(days=7)
    sent_for = db.session.scalars(
        select(Alert).where(Alert.id.in_(select(Delivery.alert_id).distinct()))
    ).all()
    assert sent_for, "the demo shows deliveries"
    assert all(a.published_at >= week_ago for a in sent_for)


def test_the_live_demo_alerts_are_on_the_feed_and_found_by_the_check(demo):
    key = (demo.instance / "demo_api_key.txt").read_text().strip()
    headers = {"Authorization": f"Bearer {key}"}
    client = demo.app.test_client()
    shown, cursor = [], None
    while True:
        page = client.get("/api/v1/alerts", query_string={"cursor": cursor} if cursor else {},
                          headers=headers).get_json()  # fmt: skip
        shown += page["alerts"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    with demo.app.app_context():
        live = set(db.session.scalars(select(Alert.reference).where(Alert.status == "published")))
    assert sorted(a["reference"] for a in shown) == sorted(live)
    named = next(a for a in shown if a["aggressor"]["identifiers"])
    identifier = named["aggressor"]["identifiers"][0]
    check = client.post(
        "/api/v1/check",
        json={"value": identifier["display"], "kind": identifier["kind"]},
        headers=headers,
    )
    assert named["reference"] in {m["alert"] for m in check.get_json()["matches"]}


@pytest.mark.parametrize("username", [u[0] for u in USERS])
def test_every_demo_login_opens_the_back_office(demo, username):
    client = demo.app.test_client()
    signed_in = login(client, username, demo.app.config["DEMO_PASSWORD"])
    assert signed_in.status_code == 302
    assert "/login" not in signed_in.headers["Location"]
    assert client.get("/").status_code == 200


def test_the_moderator_queue_opens_on_the_demo(demo):
    client = demo.app.test_client()
    login(client, "demo-moderator", demo.app.config["DEMO_PASSWORD"])
    page = client.get("/moderation/queue")
    assert page.status_code == 200


def test_demo_seed_is_refused_outside_development(
    app, database_url, test_keyring, tmp_path, monkeypatch
):
    """``flask demo seed`` on a production instance would create an Admin with the password
    printed in the README: it is refused, and nothing is created."""
    from backoffice.models.user import StaffUser

    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", database_url)
    # A production that would start: real channels and a shared store of the limits.
    for name, value in {
        "PUBLIC_BASE_URL": "https://backoffice.example.org",
        "SMTP_HOST": "smtp.example.org",
        "SMS_GATEWAY_URL": "https://sms.example.org/send",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    }.items():
        monkeypatch.setenv(name, value)
    production = make_app(database_url, test_keyring, tmp_path, SECRET_KEY="p" * 40)
    assert production.config["BACKOFFICE_ENV"] == "production"
    for command in (["demo", "seed"], ["demo", "logins"]):
        result = production.test_cli_runner().invoke(args=command)
        assert result.exit_code != 0
        assert "development only" in result.output
    with production.app_context():
        demo_users = db.session.scalar(
            select(func.count(StaffUser.id)).where(StaffUser.username == "demo-relay")
        )
        db.session.remove()
    assert demo_users == 1  # the test database's own, from seed_base; none added
