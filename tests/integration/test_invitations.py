"""Staff accounts by invitation (issue 15): an Admin invites, the person chooses her own
password and second factor from a single-use link received by email (a real SMTP server on
loopback), and Admins never type anyone's password."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.grant import GrantRequest
from backoffice.models.organisation import Organisation
from backoffice.models.sign_in import StaffInvitation
from backoffice.models.user import StaffUser
from backoffice.services import invitations
from tests.conftest import csrf_token, login, make_app
from tests.integration import cases_support as support

smtp_server = support.smtp_server  # the fixture
PASSWORD = "lilac harbour violin 58 pebble"


def _organisation_id(name: str = "AIDES") -> int:
    return db.session.scalar(select(Organisation.id).where(Organisation.name == name))


def _user(username: str) -> StaffUser:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def _invite(app, admin, *roles: str) -> str:
    """The Admin fills the user form (no password in it); answers the new username."""
    name = f"invited-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        data = {
            "first_name": "Inès",
            "last_name": "Invitée",
            "username": name,
            "email": f"{name}@test.invalid",
            "organisation": str(_organisation_id()),
            "roles": [str(app.appbuilder.sm.find_role(role).id) for role in roles],
        }
    data["csrf_token"] = csrf_token(admin, "/users/add")
    response = admin.post("/users/add", data=data)
    assert response.status_code == 302
    return name


def _link(message) -> str:
    """The invitation's address in the email, as path and query for the test client."""
    body = message.get_body(("plain",)).get_content()
    url = re.search(r"\S+/invitation/\?token=\S+", body).group(0)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


def _choose(client, link: str, password: str, confirmation: str | None = None):
    opened = client.get(link)
    assert opened.status_code == 302 and "token" not in opened.headers["Location"]
    token = csrf_token(client, "/invitation/")
    return client.post(
        "/invitation/",
        data={
            "csrf_token": token,
            "password": password,
            "conf_password": password if confirmation is None else confirmation,
        },
    )


def test_invited_person_sets_password_and_second_factor_then_is_signed_in(
    app, login_as, smtp_server, caplog
):
    caplog.set_level(logging.DEBUG)
    admin = login_as("demo-admin")
    assert 'name="password"' not in admin.get("/users/add").get_data(as_text=True)
    name = _invite(app, admin, "Coordinator")
    (recipients, message), *_ = smtp_server.wait_for(1)
    assert recipients == [f"{name}@test.invalid"]
    link = _link(message)
    with app.app_context():
        user = _user(name)
        assert not user.active  # nobody can sign in to it before she chose her password
        assert user.role_names == {"Coordinator"}
        stored = db.session.scalar(
            select(StaffInvitation).where(StaffInvitation.user_id == user.id)
        )
        assert stored.token_hash == invitations.token_hash(_token(link))
        assert _token(link) not in stored.token_hash
    assert "/login" in login(app.test_client(), name, "!invited").headers["Location"]

    person = app.test_client()
    answer = _choose(person, link, PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login/enrol")
    page = person.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page  # the QR code, drawn by the server
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    token = csrf_token(person, "/login/enrol")
    codes = person.post(
        "/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    assert codes.status_code == 200  # the recovery codes, shown once
    assert person.get("/users/userinfo/").status_code == 200  # signed in

    with app.app_context():
        user = _user(name)
        assert user.active and user.totp_secret
        events = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action.in_(["invitation_sent", "invitation_accepted"]),
                AuditEvent.object_id == str(user.id),
            )
        ).all()
        assert {e.action for e in events} == {"invitation_sent", "invitation_accepted"}
        assert all(_token(link) not in str(e.details) for e in events)
    assert _token(link) not in caplog.text
    assert PASSWORD not in caplog.text

    # The link works once: the second time it says so, and changes nothing.
    again = app.test_client().get(link)
    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)
    signed = login(app.test_client(), name, PASSWORD)
    assert signed.headers["Location"].endswith("/login/code")  # her password, then her code


def test_sensitive_roles_of_an_invitation_wait_for_a_second_admin(app, login_as, smtp_server):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "SocialWorker")
    smtp_server.wait_for(1)
    with app.app_context():
        user = _user(name)
        assert user.role_names == set()
        pending = db.session.scalars(
            select(GrantRequest).where(GrantRequest.target_id == user.id)
        ).all()
        assert [g.after for g in pending] == [{"roles": ["SocialWorker"]}]


def test_an_expired_link_is_refused_in_french_and_changes_nothing(app, login_as, smtp_server):
    name = _invite(app, login_as("demo-admin"), "Outreach")
    (_, message), *_ = smtp_server.wait_for(1)
    link = _link(message)
    with app.app_context():
        user = _user(name)
        row = db.session.scalar(select(StaffInvitation).where(StaffInvitation.user_id == user.id))
        row.expires_at = dt.datetime(2020, 1, 1)
        db.session.commit()
    person = app.test_client()
    person.get("/lang/fr")
    page = person.get(link)
    assert page.status_code == 410
    assert "a expiré" in page.get_data(as_text=True)
    # A valid form post (the session's CSRF token) still meets the expired link.
    token = csrf_token(person, "/login/")
    posted = person.post(
        "/invitation/",
        data={"csrf_token": token, "password": PASSWORD, "conf_password": PASSWORD},
    )
    assert posted.status_code in (404, 410), posted.status_code
    with app.app_context():
        user = _user(name)
        assert not user.active and user.password == invitations.UNUSABLE_PASSWORD


def test_a_link_expires_after_the_configured_hours(app_context):
    app_context.config["INVITATION_HOURS"] = 5
    try:
        user = _user("demo-relay")
        invitation, _token_value = invitations.issue(user, None)
        assert invitation.expires_at - invitation.created_at == dt.timedelta(hours=5)
    finally:
        app_context.config["INVITATION_HOURS"] = 72


def test_weak_or_mismatched_passwords_are_refused_and_the_link_still_works(
    app, login_as, smtp_server
):
    name = _invite(app, login_as("demo-admin"), "Outreach")
    (_, message), *_ = smtp_server.wait_for(1)
    link = _link(message)
    person = app.test_client()
    weak = _choose(person, link, "Summer2024!!")
    assert weak.status_code == 400 and "too easy to guess" in weak.get_data(as_text=True)
    token = csrf_token(person, "/invitation/")
    other = person.post(
        "/invitation/",
        data={"csrf_token": token, "password": PASSWORD, "conf_password": PASSWORD + "x"},
    )
    assert "not the same" in other.get_data(as_text=True)
    with app.app_context():
        assert not _user(name).active
    assert _choose(app.test_client(), link, PASSWORD).status_code == 302


def test_revoked_and_replaced_links_stop_working(app, login_as, smtp_server):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    first = _link(smtp_server.wait_for(1)[0][1])
    with app.app_context():
        user_id = _user(name).id
    token = csrf_token(admin, "/users/list/")
    admin.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "send_link", "rowid": [str(user_id)]},
    )
    second = _link(smtp_server.wait_for(2)[1][1])
    assert first != second
    assert app.test_client().get(first).status_code == 410
    admin.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "revoke_link", "rowid": [str(user_id)]},
    )
    refused = app.test_client().get(second)
    assert refused.status_code == 410 and "withdrawn" in refused.get_data(as_text=True)
    assert app.test_client().get("/invitation/?token=not-a-token").status_code == 404


def test_a_locked_out_person_gets_a_reset_link_and_keeps_her_second_factor(
    app, login_as, smtp_server
):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    _choose(app.test_client(), _link(smtp_server.wait_for(1)[0][1]), PASSWORD)
    with app.app_context():
        user = _user(name)
        user.totp_secret = "sealed-secret-placeholder"
        db.session.commit()
        user_id = user.id
    token = csrf_token(admin, "/users/list/")
    admin.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "send_link", "rowid": [str(user_id)]},
    )
    (_, message) = smtp_server.wait_for(2)[1]
    assert "new password" in message["Subject"]
    new_password = "marble quiet orchard 93 lantern"
    answer = _choose(app.test_client(), _link(message), new_password)
    assert answer.headers["Location"].endswith("/login/code")
    with app.app_context():
        assert _user(name).totp_secret == "sealed-secret-placeholder"
    assert login(app.test_client(), name, new_password).headers["Location"].endswith("/login/code")


def test_admins_cannot_set_another_persons_password(app, login_as):
    admin = login_as("demo-admin")
    with app.app_context():
        target = _user("demo-outreach")
        target_id, before = target.id, target.password
    url = f"/resetpassword/form?pk={target_id}"
    token = csrf_token(admin, url)
    admin.post(url, data={"csrf_token": token, "password": PASSWORD, "conf_password": PASSWORD})
    with app.app_context():
        assert _user("demo-outreach").password == before
        assert not db.session.scalars(
            select(GrantRequest).where(
                GrantRequest.target_id == target_id, GrantRequest.kind == "password_reset"
            )
        ).all()


def test_the_roles_screen_speaks_in_words(app, login_as):
    admin = login_as("demo-admin")
    admin.get("/lang/fr")
    with app.app_context():
        moderator = app.appbuilder.sm.find_role("Moderator").id
    page = admin.get(f"/roles/show/{moderator}").get_data(as_text=True)
    assert "can this form get" not in page and " on UserInfoEditView" not in page
    assert "Mon compte" in page
    assert "Relire les signalements et publier les alertes" in page
    listing = admin.get("/roles/list/").get_data(as_text=True)
    assert "can list on" not in listing


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.usefixtures("app")  # the session's database, migrated, under a second app
def test_the_link_page_is_rate_limited_like_the_login(database_url, test_keyring, tmp_path, method):
    app = make_app(
        database_url, test_keyring, tmp_path, RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute"
    )
    client = app.test_client()
    data = {"csrf_token": csrf_token(client, "/login/"), "password": "x", "conf_password": "x"}
    statuses = [
        client.open(
            "/invitation/?token=guess" + str(i),
            method=method,
            data=data if method == "POST" else None,
        ).status_code
        for i in range(5)
    ]
    assert 429 not in statuses[:3]
    assert 429 in statuses[3:]


def test_every_permission_and_capability_has_words(app):
    """A new screen's permission or a new capability must get its label, or the roles
    screen would fall back to the code's words."""
    from backoffice import security
    from backoffice.views import role_labels

    assert set(security.CAPABILITY_DESCRIPTIONS) == set(security.CAPABILITIES)
    with app.test_request_context():
        declared = security.declared_access(app.appbuilder)
        for views in declared.values():
            for view, permissions in views.items():
                if view == security.CAPABILITY_MENU:
                    continue
                unnamed = permissions - {"menu_access"} - set(role_labels.PERMISSION_LABELS)
                assert not unnamed, f"{view}: no words for {sorted(unnamed)}"
                if permissions - {"menu_access"}:
                    _area, label = role_labels.screen_of(app.appbuilder, view)
                    assert not label.endswith("View"), view


def test_deactivating_an_account_withdraws_its_link(app, login_as, smtp_server):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    _choose(app.test_client(), _link(smtp_server.wait_for(1)[0][1]), PASSWORD)
    with app.app_context():
        user = _user(name)
        user_id = user.id
        form = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "email": user.email,
            "organisation": str(user.organisation_id),
            "roles": [str(role.id) for role in user.roles],
        }
    token = csrf_token(admin, "/users/list/")
    admin.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "send_link", "rowid": [str(user_id)]},
    )
    reset = _link(smtp_server.wait_for(2)[1][1])
    form["csrf_token"] = csrf_token(admin, f"/users/edit/{user_id}")  # "active" left unticked
    assert admin.post(f"/users/edit/{user_id}", data=form).status_code == 302
    assert app.test_client().get(reset).status_code == 410
    with app.app_context():
        assert not _user(name).active


def test_an_account_page_offers_a_sign_in_link_not_a_password_form(app, login_as, smtp_server):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    smtp_server.wait_for(1)
    with app.app_context():
        target_id = _user(name).id
    page = admin.get(f"/users/show/{target_id}").get_data(as_text=True)
    assert "resetpasswords" not in page
    assert "send_link" in page
    assert admin.get(f"/users/action/resetpasswords/{target_id}").status_code in (302, 404)
    token = csrf_token(admin, f"/users/show/{target_id}")
    sent = admin.post(f"/users/action/send_link/{target_id}", data={"csrf_token": token})
    assert sent.status_code == 302
    (recipients, _message) = smtp_server.wait_for(2)[1]
    assert recipients == [f"{name}@test.invalid"]


def test_correcting_an_invited_account_keeps_its_invitation(app, login_as, smtp_server):
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    link = _link(smtp_server.wait_for(1)[0][1])
    with app.app_context():
        user = _user(name)
        user_id = user.id
        form = {
            "first_name": "Inès-Marie",
            "last_name": user.last_name,
            "username": user.username,
            "email": user.email,
            "organisation": str(user.organisation_id),
            "roles": [str(role.id) for role in user.roles],
        }
    form["csrf_token"] = csrf_token(admin, f"/users/edit/{user_id}")
    assert admin.post(f"/users/edit/{user_id}", data=form).status_code == 302
    assert _choose(app.test_client(), link, PASSWORD).status_code == 302


def test_in_development_the_invitation_lands_in_the_outbox(app_context, tmp_path):
    saved = {key: app_context.config[key] for key in ("MAIL_BACKEND", "MESSAGE_OUTBOX_DIR")}
    app_context.config.update(MAIL_BACKEND="outbox", MESSAGE_OUTBOX_DIR=str(tmp_path))
    try:
        user = _user("demo-relay")
        invitation, token = invitations.issue(user, None)
        invitations.send(user, invitation, token)
    finally:
        app_context.config.update(saved)
    (written,) = tmp_path.glob("*-email-*.txt")
    text = written.read_text(encoding="utf-8")
    assert "To: " + user.email in text
    assert "/invitation/?token=" + token in text


def test_a_closed_account_is_not_reopened_by_a_sign_in_link(app, login_as, smtp_server):
    """The attack: an Admin closes an account in use, then sends it a sign-in link (or a link
    sent before is followed): following it must not set a password nor reopen the account."""
    admin = login_as("demo-admin")
    name = _invite(app, admin, "Outreach")
    _choose(app.test_client(), _link(smtp_server.wait_for(1)[0][1]), PASSWORD)
    with app.app_context():
        user = _user(name)
        user.active = False  # closed (as the edit form does, which also withdraws links)
        db.session.commit()
        user_id, closed_password = user.id, user.password
    token = csrf_token(admin, "/users/list/")
    admin.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "send_link", "rowid": [str(user_id)]},
    )
    assert len(smtp_server.messages) == 1  # no new link sent to a closed account
    with app.app_context():
        # A link issued anyway (by any path) is refused when followed.
        _invitation, link_token = invitations.issue(_user(name), None)
        db.session.commit()
    assert app.test_client().get(f"/invitation/?token={link_token}").status_code == 410
    with app.app_context():
        user = _user(name)
        assert not user.active and user.password == closed_password
