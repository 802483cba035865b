"""Login rate limiting is really on when both FAB settings are (FAB_NOTES.md)."""

from __future__ import annotations

from tests.conftest import csrf_token, make_app


def test_login_attempts_are_rate_limited(database_url, test_keyring, tmp_path):
    app = make_app(
        database_url, test_keyring, tmp_path, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute"
    )
    client = app.test_client()
    statuses = []
    for _ in range(5):
        token = csrf_token(client, "/login/")
        response = client.post(
            "/login/", data={"username": "nobody", "password": "x" * 12, "csrf_token": token}
        )
        statuses.append(response.status_code)
    assert statuses[:3] == [302, 302, 302]
    assert 429 in statuses[3:]
