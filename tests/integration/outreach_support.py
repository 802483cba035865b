"""Helpers shared by the outreach tests: users of two organisations, sessions, fresh numbers.

Import ``outreach_users_fixture`` into a test module to get the ``outreach_users`` fixture.

The test database is shared by the whole session, so every number is fresh (random) and
every user name carries this run's suffix.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import select

from backoffice.demo import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import OutreachLead, OutreachSession
from backoffice.security import OUTREACH

PASSWORD = "demo-jasmine-2026"
RUN = uuid.uuid4().hex[:8]
_rng = random.Random()
_given: set[str] = set()


def fresh_mobile() -> str:
    """A French mobile number never used before in this test session, as "06 12 34 56 78"."""
    while True:
        # 06 10 to 06 38: every number there is a valid mobile number for phonenumbers.
        digits = f"06{_rng.randrange(10, 39)}{_rng.randrange(10**6):06d}"
        if digits not in _given:
            _given.add(digits)
            return " ".join(digits[i : i + 2] for i in range(0, 10, 2))


def spellings(national: str) -> list[str]:
    """The same number as volunteers paste it: national, international, 00 prefix."""
    digits = national.replace(" ", "")
    rest = digits[1:]
    return [
        national,
        "+33 " + rest[0] + " " + " ".join(rest[i : i + 2] for i in range(1, 9, 2)),
        "0033" + rest,
    ]


def organisation_id(name: str) -> int:
    return db.session.scalar(select(Organisation.id).where(Organisation.name == name))


def ensure_user(app, username: str, organisation: str, role: str = OUTREACH, lead=False):
    sm = app.appbuilder.sm
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(
            username=username,
            first_name=username.split("-")[1].capitalize(),
            last_name="Test",
            email=f"{username}@test.invalid",
            role=sm.find_role(role),
            password=PASSWORD,
        )
    user.organisation_id = organisation_id(organisation)
    if (
        lead
        and db.session.scalar(select(OutreachLead).where(OutreachLead.user_id == user.id)) is None
    ):
        db.session.add(OutreachLead(user_id=user.id))
    db.session.commit()
    return user


@pytest.fixture(scope="session", name="outreach_users")
def outreach_users_fixture(app) -> dict[str, str]:
    """usernames: volunteer (Jasmine), lead (Jasmine, lead marker), other (AIDES, Outreach)."""
    names = {
        "volunteer": "demo-outreach",
        "lead": f"olead-{RUN}",
        "other": f"oaides-{RUN}",
    }
    with app.app_context():
        ensure_user(app, names["lead"], JASMINE, lead=True)
        ensure_user(app, names["other"], AIDES)
        db.session.remove()
    return names


def make_session(
    organisation: str = JASMINE,
    *,
    username: str | None = "demo-outreach",
    day: dt.date | None = None,
    department: str = "75",
) -> OutreachSession:
    from flask import current_app

    team = []
    if username:
        team = [current_app.appbuilder.sm.find_user(username=username)]
    session = OutreachSession(
        organisation_id=organisation_id(organisation),
        session_date=day or dt.date.today(),
        start_time=dt.time(20, 0),
        duration_minutes=120,
        city="Paris",
        department=department,
        team=team,
    )
    db.session.add(session)
    db.session.commit()
    return session
