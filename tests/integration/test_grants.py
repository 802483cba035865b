"""Four-eyes grants (issue 12, finding 2): no single Admin opens confidential data.

Each test replays the attack through the user screens (the test client posting FAB's
forms) and sees it held back as a pending request, until another Admin approves it.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.grant import GrantRequest
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser
from backoffice.services import cases
from tests.conftest import csrf_token, login
from tests.owned_rows import unique, unique_mobile

PASSWORD = "a long enough passphrase 42"
NEW_PASSWORD = "another long passphrase 77"


def _make_user(app, role: str, organisation: str = "Médecins du Monde – Jasmine") -> str:
    with app.app_context():
        sm = app.appbuilder.sm
        name = f"{role.lower()}-{uuid.uuid4().hex[:8]}"
        user = sm.add_user(
            username=name,
            first_name="Test",
            # A neutral name: an English role name as a last name would read as an English
            # word on French pages (test_french_stock_screens runs in the same database).
            last_name="Essai",
            email=f"{name}@test.invalid",
            role=sm.find_role(role),
            password=PASSWORD,
        )
        user.organisation_id = _organisation_id(organisation)
        db.session.commit()
        return name


def _organisation_id(name: str) -> int:
    return db.session.scalar(select(Organisation.id).where(Organisation.name == name))


def _signed_in(app, username: str, password: str = PASSWORD):
    client = app.test_client()
    response = login(client, username, password)
    assert response.status_code == 302 and "/login" not in response.headers["Location"]
    return client


def _user(app, username: str) -> StaffUser:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


def _role_id(app, name: str) -> int:
    return app.appbuilder.sm.find_role(name).id


def _edit_form(app, username: str, **changes) -> dict:
    """The edit form of an account as FAB would post it, with ``changes`` applied."""
    with app.app_context():
        user = _user(app, username)
        form = {
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "email": user.email,
            "active": "y",
            "organisation": str(user.organisation_id or ""),
            "roles": [str(role.id) for role in user.roles],
        }
    form.update(changes)
    return form


def _post_edit(app, client, username: str, **changes):
    with app.app_context():
        user_id = _user(app, username).id
    url = f"/users/edit/{user_id}"
    data = _edit_form(app, username, **changes)
    data["csrf_token"] = csrf_token(client, url)
    return client.post(url, data=data)


def _pending(app, username: str) -> list[GrantRequest]:
    with app.app_context():
        target = _user(app, username)
        return list(
            db.session.scalars(
                select(GrantRequest)
                .where(GrantRequest.target_id == target.id, GrantRequest.state == "pending")
                .order_by(GrantRequest.id)
            )
        )


def _decide(app, client, request_id: int, decision: str):
    token = csrf_token(client, "/access-requests/")
    return client.post(
        f"/access-requests/{request_id}/decide",
        data={"csrf_token": token, "decision": decision, "reason": "checked by phone"},
    )


def _state(app, request_id: int) -> str:
    with app.app_context():
        return db.session.get(GrantRequest, request_id).state


@pytest.fixture
def aides_note(app):
    """A case of AIDES with a note, whose text must not reach anyone outside AIDES."""
    with app.app_context():
        worker = _user(app, "demo-social-a")
        case = cases.open_direct(
            worker,
            cases.Contact(name=unique("Grantname"), phone=unique_mobile()),
            cases.CaseFacts(department="75", violence_types=["theft"]),
            assignee_id=worker.id,
            consent_follow_up=True,
        )
        db.session.flush()
        text = unique("Grant secret note ")
        cases.add_note(case, text, worker)
        db.session.commit()
        return case.id, text


def test_an_admin_cannot_give_himself_case_access(app, aides_note):
    """The attack of finding 2: edit one's own account to add SocialWorker and AIDES."""
    admin = _make_user(app, "Admin")
    client = _signed_in(app, admin)
    with app.app_context():
        aides, jasmine = _organisation_id("AIDES"), _organisation_id("Médecins du Monde – Jasmine")
        roles = [str(_role_id(app, "Admin")), str(_role_id(app, "SocialWorker"))]
    response = _post_edit(
        app, client, admin, roles=roles, organisation=str(aides), grant_reason="cover for Samia"
    )
    assert response.status_code == 302
    with app.app_context():
        user = _user(app, admin)
        assert user.role_names == {"Admin"} and user.organisation_id == jasmine
    case_id, text = aides_note
    for url in (f"/cases/{case_id}", "/cases/"):
        page = client.get(url)
        assert page.status_code in (302, 403, 404) and text not in page.get_data(as_text=True)
    requests = _pending(app, admin)
    assert {r.reason for r in requests} == {"cover for Samia"}
    assert [(r.kind, r.after) for r in requests] == [
        ("roles", {"roles": ["Admin", "SocialWorker"]}),
        ("organisation", {"organisation_id": aides, "organisation": "AIDES"}),
    ]
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "user_updated", AuditEvent.object_id == str(user.id))
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.details["before"]["organisation_id"] == jasmine
        assert event.details["after"]["organisation_id"] == jasmine
        assert event.details["pending"] == [r.id for r in requests]


def test_nobody_approves_their_own_request_in_the_ui_or_by_direct_post(app):
    admin = _make_user(app, "Admin")
    client = _signed_in(app, admin)
    with app.app_context():
        roles = [str(_role_id(app, "Admin")), str(_role_id(app, "SocialWorker"))]
    _post_edit(app, client, admin, roles=roles)
    (grant,) = _pending(app, admin)
    page = client.get("/access-requests/").get_data(as_text=True)
    assert f'id="request-{grant.id}"' in page
    assert 'value="approve"' not in page.split(f'id="request-{grant.id}"')[1].split("</tr>")[0]
    response = _decide(app, client, grant.id, "approve")
    assert response.status_code == 302
    assert _state(app, grant.id) == "pending"
    with app.app_context():
        assert _user(app, admin).role_names == {"Admin"}
        refused = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "grant_decision_refused",
                AuditEvent.object_id == str(grant.id),
            )
        ).all()
        assert refused and refused[-1].outcome == "denied"


def test_the_requester_cannot_approve_a_request_about_someone_else(app):
    admin, worker = _make_user(app, "Admin"), _make_user(app, "Outreach")
    client = _signed_in(app, admin)
    with app.app_context():
        roles = [str(_role_id(app, "Outreach")), str(_role_id(app, "Moderator"))]
    _post_edit(app, client, worker, roles=roles)
    (grant,) = _pending(app, worker)
    _decide(app, client, grant.id, "approve")
    assert _state(app, grant.id) == "pending"
    with app.app_context():
        assert _user(app, worker).role_names == {"Outreach"}


def test_a_second_admin_approves_and_the_change_applies(app):
    admin, second = _make_user(app, "Admin"), _make_user(app, "Admin")
    client = _signed_in(app, admin)
    with app.app_context():
        aides = _organisation_id("AIDES")
        roles = [str(_role_id(app, "Admin")), str(_role_id(app, "SocialWorker"))]
    _post_edit(app, client, admin, roles=roles, organisation=str(aides))
    approver = _signed_in(app, second)
    for grant in _pending(app, admin):
        assert _decide(app, approver, grant.id, "approve").status_code == 302
        assert _state(app, grant.id) == "approved"
    with app.app_context():
        user = _user(app, admin)
        assert user.role_names == {"Admin", "SocialWorker"} and user.organisation_id == aides
        approved = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "grant_approved")
        ).all()
        assert {e.actor_name for e in approved} >= {second}
    # The organisation change ended the account's sessions: it signs in again.
    assert client.get("/cases/").status_code == 302
    assert _signed_in(app, admin).get("/cases/").status_code == 200


def test_a_refused_request_changes_nothing(app):
    admin, second, worker = (_make_user(app, r) for r in ("Admin", "Admin", "Coordinator"))
    client = _signed_in(app, admin)
    with app.app_context():
        roles = [str(_role_id(app, "Coordinator")), str(_role_id(app, "DataProtection"))]
    _post_edit(app, client, worker, roles=roles)
    (grant,) = _pending(app, worker)
    _decide(app, _signed_in(app, second), grant.id, "refuse")
    assert _state(app, grant.id) == "refused"
    with app.app_context():
        assert _user(app, worker).role_names == {"Coordinator"}


def test_other_edits_apply_at_once(app):
    admin, worker = _make_user(app, "Admin"), _make_user(app, "Coordinator")
    client = _signed_in(app, admin)
    with app.app_context():
        roles = [str(_role_id(app, "Coordinator")), str(_role_id(app, "Outreach"))]
    _post_edit(app, client, worker, roles=roles, first_name="Renamed", email=f"{worker}@x.invalid")
    assert _pending(app, worker) == []
    with app.app_context():
        user = _user(app, worker)
        assert user.first_name == "Renamed" and user.role_names == {"Coordinator", "Outreach"}


def test_granting_the_admin_role_needs_a_second_admin_too(app):
    """Otherwise an Admin would make a puppet Admin and approve his own requests with it."""
    admin, worker = _make_user(app, "Admin"), _make_user(app, "Outreach")
    client = _signed_in(app, admin)
    with app.app_context():
        roles = [str(_role_id(app, "Outreach")), str(_role_id(app, "Admin"))]
    _post_edit(app, client, worker, roles=roles)
    assert [g.after for g in _pending(app, worker)] == [{"roles": ["Admin"]}]
    with app.app_context():
        assert _user(app, worker).role_names == {"Outreach"}


def test_a_new_account_gets_sensitive_roles_only_on_approval(app):
    admin = _make_user(app, "Admin")
    client = _signed_in(app, admin)
    name = f"new-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        data = {
            "first_name": "New",
            "last_name": "Worker",
            "username": name,
            "active": "y",
            "email": f"{name}@test.invalid",
            "organisation": str(_organisation_id("AIDES")),
            "roles": [str(_role_id(app, "SocialWorker"))],
            "password": PASSWORD,
            "conf_password": PASSWORD,
        }
    data["csrf_token"] = csrf_token(client, "/users/add")
    assert client.post("/users/add", data=data).status_code == 302
    with app.app_context():
        assert _user(app, name).role_names == set()
    assert [g.after for g in _pending(app, name)] == [{"roles": ["SocialWorker"]}]


def test_an_admin_cannot_choose_a_social_workers_password(app):
    """Admins never type someone else's password (issue 15): the form changes nothing and
    opens no request; the person gets a sign-in link by email instead."""
    admin = _make_user(app, "Admin")
    worker = _make_user(app, "SocialWorker", "AIDES")
    client = _signed_in(app, admin)
    with app.app_context():
        worker_id = _user(app, worker).id
    url = f"/resetpassword/form?pk={worker_id}"
    token = csrf_token(client, url)
    response = client.post(
        url, data={"csrf_token": token, "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert _pending(app, worker) == []
    assert "/login" in login(app.test_client(), worker, NEW_PASSWORD).headers["Location"]
    _signed_in(app, worker, PASSWORD)


def test_resetting_a_second_factor_waits_for_approval(app):
    admin, second = _make_user(app, "Admin"), _make_user(app, "Admin")
    worker = _make_user(app, "SocialWorker", "AIDES")
    with app.app_context():
        user = _user(app, worker)
        user.totp_secret = "sealed-secret-placeholder"
        db.session.commit()
        worker_id = user.id
    client = _signed_in(app, admin)
    token = csrf_token(client, "/users/list/")
    response = client.post(
        "/users/action_post",
        data={"csrf_token": token, "action": "reset_second_factor", "rowid": [str(worker_id)]},
    )
    assert response.status_code == 302
    (grant,) = _pending(app, worker)
    assert grant.kind == "second_factor_reset"
    with app.app_context():
        assert _user(app, worker).totp_secret == "sealed-secret-placeholder"
    # FAB refuses an action by GET (a link from anywhere would change something).
    assert client.get(f"/users/action/reset_second_factor/{worker_id}").status_code == 302
    assert len(_pending(app, worker)) == 1
    _decide(app, _signed_in(app, second), grant.id, "approve")
    with app.app_context():
        assert _user(app, worker).totp_secret is None


def test_an_admin_cannot_decide_a_request_about_himself(app):
    requester, target = _make_user(app, "Admin"), _make_user(app, "Admin")
    with app.app_context():
        roles = [str(_role_id(app, "Admin")), str(_role_id(app, "Moderator"))]
    _post_edit(app, _signed_in(app, requester), target, roles=roles)
    (grant,) = _pending(app, target)
    target_client = _signed_in(app, target)
    for decision in ("approve", "refuse"):
        _decide(app, target_client, grant.id, decision)
        assert _state(app, grant.id) == "pending"


def test_a_stale_request_is_not_applied(app):
    admin, second = _make_user(app, "Admin"), _make_user(app, "Admin")
    worker = _make_user(app, "Outreach")
    with app.app_context():
        roles = [str(_role_id(app, "Outreach")), str(_role_id(app, "Moderator"))]
    _post_edit(app, _signed_in(app, admin), worker, roles=roles)
    (grant,) = _pending(app, worker)
    with app.app_context():  # the account changed meanwhile (by an earlier approval)
        user = _user(app, worker)
        user.roles.append(app.appbuilder.sm.find_role("SocialWorker"))
        db.session.commit()
    _decide(app, _signed_in(app, second), grant.id, "approve")
    assert _state(app, grant.id) == "pending"
    with app.app_context():
        assert "Moderator" not in _user(app, worker).role_names


def test_the_command_line_opens_requests_too(app):
    admin, worker = _make_user(app, "Admin"), _make_user(app, "Outreach", "AIDES")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "request", worker, "--by", admin, "--add-role", "SocialWorker"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=["users", "request", worker, "--by", admin, "--organisation", "Acceptess-T"]
    )
    assert result.exit_code == 0, result.output
    assert [g.kind for g in _pending(app, worker)] == ["roles", "organisation"]
    with app.app_context():
        assert _user(app, worker).role_names == {"Outreach"}
    listing = runner.invoke(args=["users", "requests"])
    assert worker in listing.output
    refused = runner.invoke(args=["users", "request", worker, "--by", worker, "--add-role", "X"])
    assert refused.exit_code != 0


@pytest.mark.parametrize("command", ["create-admin", "create-user", "reset-password"])
def test_fab_commands_that_would_skip_the_second_admin_are_refused(app, command):
    """Run as an operator would, in a new process: Flask resolves FAB's commands before it
    loads the application, so a patch of the command group made at start-up would not do."""
    import os
    import subprocess
    import sys

    victim = _make_user(app, "SocialWorker", "AIDES")
    name = f"fab-{uuid.uuid4().hex[:8]}"
    args = {
        "create-admin": ["--username", name, "--firstname", "a", "--lastname", "b"],
        "create-user": ["--username", name, "--firstname", "a", "--lastname", "b"],
        "reset-password": ["--username", victim],
    }[command]
    if command != "reset-password":
        args += ["--email", f"{name}@test.invalid"]
    if command == "create-user":
        args += ["--role", "SocialWorker"]
    args += ["--password", NEW_PASSWORD]
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "BACKOFFICE_KEYS": app.config["BACKOFFICE_KEYS"],
        "BACKOFFICE_INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "BACKOFFICE_ENV": "development",
        "FAB_UPDATE_PERMS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "fab", command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0 and "disabled" in result.stderr, result.stdout + result.stderr
    with app.app_context():
        assert _user(app, name) is None
    assert "/login" in login(app.test_client(), victim, NEW_PASSWORD).headers["Location"]


def test_once_two_admins_exist_a_new_account_waits_for_its_sensitive_roles(app):
    """The shared database has demo-admin and the Admins of the other tests: no bootstrap."""
    admin = _make_user(app, "Admin")
    _make_user(app, "Admin")
    name = f"cli-{uuid.uuid4().hex[:8]}"
    args = ["users", "create", name, "--email", f"{name}@test.invalid", "--first-name", "C"]
    args += ["--last-name", "L", "--organisation", "AIDES", "--role", "SocialWorker"]
    runner = app.test_cli_runner()
    refused = runner.invoke(args=args, input=f"{PASSWORD}\n{PASSWORD}\n")
    assert refused.exit_code != 0 and "--by" in refused.output
    result = runner.invoke(args=[*args, "--by", admin], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert _user(app, name).role_names == set()
    assert [g.after for g in _pending(app, name)] == [{"roles": ["SocialWorker"]}]


def test_a_non_admin_cannot_decide_a_request(app):
    admin, worker = _make_user(app, "Admin"), _make_user(app, "Outreach")
    with app.app_context():
        roles = [str(_role_id(app, "Outreach")), str(_role_id(app, "Moderator"))]
    _post_edit(app, _signed_in(app, admin), worker, roles=roles)
    (grant,) = _pending(app, worker)
    for role in ("Moderator", "Coordinator", "DataProtection"):
        client = _signed_in(app, _make_user(app, role))
        token = csrf_token(client, "/users/userinfo/")
        client.post(
            f"/access-requests/{grant.id}/decide",
            data={"csrf_token": token, "decision": "approve"},
        )
        assert _state(app, grant.id) == "pending"


def test_the_first_two_admins_are_created_from_the_command_line(tmp_path_factory, test_keyring):
    """Bootstrap: on an empty database nobody could approve the first Admins."""
    from flask_migrate import upgrade

    from tests.conftest import make_app, own_database

    with own_database(tmp_path_factory.mktemp("bootstrap_db")) as url:
        instance = tmp_path_factory.mktemp("bootstrap_instance")
        fresh = make_app(url, test_keyring, instance)
        with fresh.app_context():
            upgrade(revision="heads")
        fresh = make_app(url, test_keyring, instance)  # syncs the roles, as a deployment
        runner = fresh.test_cli_runner()
        for name in ("first-admin", "second-admin", "third-admin"):
            args = ["users", "create", name, "--email", f"{name}@test.invalid"]
            args += ["--first-name", "F", "--last-name", "A", "--role", "Admin"]
            by = ["--by", "first-admin"] if name == "third-admin" else []
            result = runner.invoke(args=args + by, input=f"{PASSWORD}\n{PASSWORD}\n")
            assert result.exit_code == 0, result.output
        with fresh.app_context():
            assert _user(fresh, "first-admin").role_names == {"Admin"}
            assert _user(fresh, "second-admin").role_names == {"Admin"}
            assert _user(fresh, "third-admin").role_names == set()
            assert db.session.scalar(select(GrantRequest.kind)) == "roles"
            db.session.remove()


def test_hostile_ids_are_404_not_500(app, login_as):
    admin = login_as("demo-admin")
    token = csrf_token(admin, "/access-requests/")
    for raw in ("99999999999999999999", "-1", "x"):
        decided = admin.post(f"/access-requests/{raw}/decide", data={"csrf_token": token})
        assert decided.status_code == 404
        assert admin.get(f"/api-clients/rotate/{raw}").status_code == 404
        reset = admin.post(
            f"/resetpassword/form?pk={raw}",
            data={"csrf_token": token, "password": NEW_PASSWORD, "conf_password": NEW_PASSWORD},
        )
        assert reset.status_code == 404
