"""API clients: the key is shown once, only its hash is stored, disabling works at once."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
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
