"""API clients: the key is shown once, only its hash is stored, disabling works at once."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
from backoffice.models.base import utcnow
from backoffice.models.report import Report
from backoffice.services import api_keys
from tests.conftest import csrf_token


def test_admin_creates_a_client_and_sees_the_key_once(app, login_as):
    admin = login_as("demo-admin")
    name = f"site-{uuid.uuid4().hex[:6]}"
    token = csrf_token(admin, "/api-clients/add")
    page = admin.post(
        "/api-clients/add", data={"name": name, "description": "test", "csrf_token": token}
    ).get_data(as_text=True)
    key = re.search(r"(jas_[A-Za-z0-9_-]{20,})", page).group(1)
    with app.app_context():
        client = db.session.scalar(select(ApiClient).where(ApiClient.name == name))
        assert client.key_hash != key and key not in client.key_hash
        assert api_keys.authenticate(key).id == client.id
        listing = admin.get("/api-clients/list/").get_data(as_text=True)
        assert key not in listing
        client.active = False
        db.session.commit()
        assert api_keys.authenticate(key) is None


def test_unknown_or_malformed_keys_are_refused(app_context):
    assert api_keys.authenticate(None) is None
    assert api_keys.authenticate("jas_" + "x" * 43) is None
    assert api_keys.authenticate("not-a-key") is None


# -- disabling, rotating, deleting through the Admin screens (issue 12, finding 6) -----------
def _new_client(app, login_as) -> tuple[object, int, str]:
    admin = login_as("demo-admin")
    name = f"client-{uuid.uuid4().hex[:6]}"
    token = csrf_token(admin, "/api-clients/add")
    page = admin.post(
        "/api-clients/add", data={"name": name, "description": "test", "csrf_token": token}
    ).get_data(as_text=True)
    key = re.search(r"(jas_[A-Za-z0-9_-]{20,})", page).group(1)
    with app.app_context():
        client_id = db.session.scalar(select(ApiClient.id).where(ApiClient.name == name))
    return admin, client_id, key


def _api_status(app, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    return app.test_client().get("/api/v1/alerts", headers=headers).status_code


def _client_row(app, client_id: int) -> ApiClient:
    with app.app_context():
        row = db.session.get(ApiClient, client_id)
        db.session.expunge(row)
        return row


def test_unticking_active_disables_the_key_at_the_next_request(app, login_as):
    admin, client_id, key = _new_client(app, login_as)
    assert _api_status(app, key) == 200
    url = f"/api-clients/edit/{client_id}"
    data = {"name": _client_row(app, client_id).name, "description": "off"}  # box unticked
    response = admin.post(url, data={**data, "csrf_token": csrf_token(admin, url)})
    assert response.status_code == 302
    assert _client_row(app, client_id).active is False
    assert _api_status(app, key) == 401
    ticked = {**data, "active": "y", "csrf_token": csrf_token(admin, url)}
    admin.post(url, data=ticked)
    assert _api_status(app, key) == 200


def test_a_rotated_key_is_shown_once_and_the_old_one_works_for_the_grace_period(app, login_as):
    admin, client_id, old_key = _new_client(app, login_as)
    show = admin.get(f"/api-clients/show/{client_id}").get_data(as_text=True)
    assert f"/api-clients/rotate/{client_id}" in show
    url = f"/api-clients/rotate/{client_id}"
    page = admin.post(url, data={"grace_days": "2", "csrf_token": csrf_token(admin, url)})
    new_key = re.search(r"(jas_[A-Za-z0-9_-]{20,})", page.get_data(as_text=True)).group(1)
    assert new_key != old_key
    assert _api_status(app, new_key) == 200 and _api_status(app, old_key) == 200
    row = _client_row(app, client_id)
    assert new_key not in row.key_hash + (row.previous_key_hash or "")
    assert new_key not in admin.get(f"/api-clients/show/{client_id}").get_data(as_text=True)
    with app.app_context():  # the grace period ends
        db.session.get(ApiClient, client_id).previous_key_expires_at = utcnow() - dt.timedelta(
            seconds=1
        )
        db.session.commit()
    assert _api_status(app, old_key) == 401 and _api_status(app, new_key) == 200


def test_a_rotation_without_grace_stops_the_old_key_at_once(app, login_as):
    admin, client_id, old_key = _new_client(app, login_as)
    url = f"/api-clients/rotate/{client_id}"
    page = admin.post(url, data={"grace_days": "0", "csrf_token": csrf_token(admin, url)})
    new_key = re.search(r"(jas_[A-Za-z0-9_-]{20,})", page.get_data(as_text=True)).group(1)
    assert _api_status(app, old_key) == 401 and _api_status(app, new_key) == 200


@pytest.mark.parametrize("grace", ["8", "-1", "x", ""])
def test_a_grace_period_outside_0_to_7_days_is_refused(app, login_as, grace):
    admin, client_id, old_key = _new_client(app, login_as)
    before = _client_row(app, client_id).key_hash
    url = f"/api-clients/rotate/{client_id}"
    response = admin.post(url, data={"grace_days": grace, "csrf_token": csrf_token(admin, url)})
    assert response.status_code == 302
    assert _client_row(app, client_id).key_hash == before
    assert _api_status(app, old_key) == 200


def test_rotation_needs_a_post(app, login_as):
    admin, client_id, _key = _new_client(app, login_as)
    before = _client_row(app, client_id).key_hash
    assert admin.get(f"/api-clients/rotate/{client_id}").status_code == 200
    assert _client_row(app, client_id).key_hash == before


def test_deleting_a_client_keeps_its_history(app, login_as):
    admin, client_id, key = _new_client(app, login_as)
    # The client sent a report: a row refers to it.
    report_body = {
        "incident": {"date": "2026-01-10", "department": "75", "violence_types": ["theft"]},
        "narrative": "Deletion keeps history.",
        "consent": {
            "publish_alert": False,
            "follow_up": False,
            "share_with_partner": False,
            "statistics": True,
        },
    }
    sent = app.test_client().post(
        "/api/v1/reports", json=report_body, headers={"Authorization": f"Bearer {key}"}
    )
    assert sent.status_code == 201
    url = f"/api-clients/show/{client_id}"
    response = admin.post(
        f"/api-clients/delete/{client_id}", data={"csrf_token": csrf_token(admin, url)}
    )
    assert response.status_code == 302
    row = _client_row(app, client_id)
    assert row.deleted_at is not None and row.active is False
    assert _api_status(app, key) == 401
    assert admin.get(url).status_code == 404
    assert row.name not in admin.get("/api-clients/list/").get_data(as_text=True)
    with app.app_context():
        reference = sent.get_json()["reference"]
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        assert report.api_client_id == client_id
