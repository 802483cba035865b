"""What every demo seeder builds on: the three organisations, one user per role, the demo
API client, and the ``DemoContext`` handed to each area's seeder. Tests use ``seed_base``
alone (the shared test database holds no other demo data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
from backoffice.models.organisation import Organisation
from backoffice.security import (
    ADMIN,
    COORDINATOR,
    DATA_PROTECTION,
    MODERATOR,
    OUTREACH,
    PARTNER_RELAY,
    SOCIAL_WORKER,
)
from backoffice.services import api_keys, organisations

JASMINE = "Médecins du Monde – Jasmine"
AIDES = "AIDES"
ACCEPTESS = "Acceptess-T"

ORGANISATIONS = [
    (
        JASMINE,
        "programme",
        ["75", "13", "69", "31", "33", "59", "67", "44", "34", "06"],
        "jasmine@medecinsdumonde.invalid",
    ),
    (AIDES, "health", ["75", "93", "94", "92", "13", "69", "59"], "alertes@aides.invalid"),
    (ACCEPTESS, "community", ["75", "93", "95"], "contact@acceptess-t.invalid"),
]

# username, first name, role, organisation
USERS = [
    ("demo-admin", "Alex", ADMIN, JASMINE),
    ("demo-moderator", "Morgane", MODERATOR, JASMINE),
    ("demo-social-a", "Samia", SOCIAL_WORKER, AIDES),
    ("demo-social-b", "Sacha", SOCIAL_WORKER, ACCEPTESS),
    ("demo-coordinator", "Camille", COORDINATOR, JASMINE),
    ("demo-outreach", "Olga", OUTREACH, JASMINE),
    ("demo-relay", "Rita", PARTNER_RELAY, AIDES),
    ("demo-dpo", "Dominique", DATA_PROTECTION, JASMINE),
]


class DemoRefused(RuntimeError):
    """Demo accounts (with their published password) are for development only."""


def demo_password() -> str:
    """The demo accounts' password; refused outside development, where it would hand an
    Admin account to anyone who read the README."""
    if current_app.config.get("BACKOFFICE_ENV") != "development":
        raise DemoRefused(
            "Demo data is for development only (BACKOFFICE_ENV=development); "
            "this instance runs as production."
        )
    password = current_app.config.get("DEMO_PASSWORD")
    if not password:
        raise DemoRefused("Set DEMO_PASSWORD to seed demo accounts.")
    return password


@dataclass
class DemoContext:
    organisations: dict[str, Organisation]
    users: dict[str, object]
    lines: list[str] = field(default_factory=list)


def seed_base() -> DemoContext:
    """The three organisations and one user per role (idempotent)."""
    password = demo_password()  # first: outside development, nothing is touched
    by_name = {
        name: _organisation(name, kind, deps, email) for name, kind, deps, email in ORGANISATIONS
    }
    users = {
        username: _user(username, first, role, by_name[org], password)
        for username, first, role, org in USERS
    }
    db.session.flush()
    return DemoContext(organisations=by_name, users=users)


def _organisation(name: str, kind: str, departments: list[str], email: str) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if organisation is None:
        organisation = Organisation(
            name=name, kind=kind, departments=departments, contact_email=email, active=True
        )
        db.session.add(organisation)
        db.session.flush()
        organisations.created(organisation)
    return organisation


def _user(username: str, first_name: str, role_name: str, organisation, password: str):
    sm = current_app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(
            username=username,
            first_name=first_name,
            last_name="Démo",
            email=f"{username}@demo.invalid",
            role=sm.find_role(role_name),
            password=password,
        )
    user.organisation_id = organisation.id
    return user


def api_client() -> str:
    """The demo website's API client with a fresh key, also written to the instance folder."""
    path = Path(current_app.instance_path) / "demo_api_key.txt"
    client = db.session.scalar(select(ApiClient).where(ApiClient.name == "demo-website"))
    if client is None:
        client, key = api_keys.create_client("demo-website", "The public website (demo)")
    else:
        key = api_keys.issue_key(client)
    db.session.flush()
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key
