"""An organisation's outreach message templates exist from its creation; no page writes them.

They used to be written the first time a team opened its template page (a GET that wrote).
Now the organisation gets them when it is created, and older organisations from a migration
(``tests/integration/test_migrations_with_data.py``)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import MESSAGE_PURPOSES, MessageTemplate
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.services.worker_texts import outreach_text
from tests.conftest import csrf_token
from tests.integration.outreach_support import ensure_user, make_session

EVERY_TEMPLATE = len(MESSAGE_PURPOSES) * len(ALERT_LANGUAGES)


def _templates_of(name: str) -> dict[tuple[str, str], str]:
    rows = db.session.execute(
        select(MessageTemplate.purpose, MessageTemplate.language, MessageTemplate.text)
        .join(Organisation, Organisation.id == MessageTemplate.organisation_id)
        .where(Organisation.name == name)
    ).all()
    return {(purpose, language): text for purpose, language, text in rows}


def test_an_organisation_an_admin_creates_has_every_template(app, login_as):
    admin = login_as("demo-admin")
    name = f"Association {uuid.uuid4().hex[:8]}"
    response = admin.post(
        "/organisations/add",
        data={
            "csrf_token": csrf_token(admin, "/organisations/add"),
            "name": name,
            "kind": "community",
            "departments": ["974"],
            "active": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        templates = _templates_of(name)
        assert len(templates) == EVERY_TEMPLATE
        assert templates[("after_an_assault", "uk")] == outreach_text("after_an_assault", "uk")


def test_opening_the_template_pages_writes_nothing(app, login_as):
    """An organisation without templates (made before templates were seeded at creation,
    and not migrated): its pages open, and still nothing is written."""
    name = f"Older association {uuid.uuid4().hex[:8]}"
    username = f"older-{uuid.uuid4().hex[:8]}"
    with app.app_context():
        db.session.add(Organisation(name=name, kind="community", departments=["13"]))
        db.session.commit()
        ensure_user(app, username, name)
        round_id = make_session(name, username=username, department="13").id
        before = db.session.scalar(select(func.count(MessageTemplate.id)))
    volunteer = login_as(username)
    assert volunteer.get("/outreach/templates/").status_code == 200
    assert volunteer.get("/outreach/templates/?lang=ar").status_code == 200
    assert volunteer.get(f"/outreach/sessions/show/{round_id}").status_code == 200
    with app.app_context():
        assert _templates_of(name) == {}
        assert db.session.scalar(select(func.count(MessageTemplate.id))) == before
