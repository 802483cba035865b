"""Issue 12, F8: a partner account cannot test whether a number belongs to a registered
worker. Registering a number that another association holds answers exactly like registering
a new one, on the form and in a CSV import, and never creates a second subscriber; the
worker herself is told (a "manage your subscription" SMS)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from backoffice.demo import ACCEPTESS
from backoffice.extensions import db
from backoffice.models.dispatch import Delivery
from backoffice.models.subscriber import Subscriber
from backoffice.services import subscribers
from tests.conftest import csrf_token
from tests.integration.dispatch_support import organisation, unique_mobile

_FLASHES = re.compile(r'class="alert[^"]*"[^>]*>(.*?)</div>', re.S)


def _held_by_acceptess(app) -> tuple[str, int]:
    phone = unique_mobile()
    with app.app_context():
        data = {"pseudonym": "Held", "phone": phone, "language": "bg", "departments": "93"}
        holder = subscribers.register(data, organisation(ACCEPTESS).id, validate_now=True)
        db.session.commit()
        return phone, holder.id


def _holders(app, phone: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(Subscriber)
            .where(Subscriber.phone_index == subscribers.phone_index(phone))
        )


def _register(client, phone: str, pseudonym: str):
    form = {
        "csrf_token": csrf_token(client, "/subscribers/new"),
        "pseudonym": pseudonym,
        "phone": phone,
        "language": "fr",
        "departments": "75",
    }
    posted = client.post("/subscribers/new", data=form)
    page = client.get(posted.headers.get("Location", "/subscribers/"))
    flashes = [" ".join(m.split()) for m in _FLASHES.findall(page.get_data(as_text=True))]
    return posted.status_code, posted.headers.get("Location"), flashes


def test_the_form_answers_the_same_for_a_number_held_elsewhere(app, login_as):
    held, holder_id = _held_by_acceptess(app)
    social_a = login_as("demo-social-a")  # AIDES tries a number Acceptess-T holds

    probe = _register(social_a, held.replace("+33", "0"), "Probe")
    fresh = _register(social_a, unique_mobile(), "Probe")

    assert probe == fresh  # status, redirect and message: nothing to tell them apart
    assert any("Registration recorded" in text for text in probe[2])
    assert _holders(app, held) == 1  # never a second subscriber
    with app.app_context():
        notices = db.session.scalars(
            select(Delivery.purpose).where(Delivery.subscriber_id == holder_id)
        ).all()
        assert "manage" in notices  # she is the one told


def test_a_csv_import_answers_the_same_for_numbers_held_elsewhere(app, login_as):
    held, _holder_id = _held_by_acceptess(app)
    fresh = unique_mobile()
    with app.app_context():
        content = f"pseudonym,phone,language,departments\nA,{held},fr,75\nB,{fresh},fr,75\n"
        report = subscribers.import_csv(content.encode(), organisation("AIDES").id)
        db.session.commit()
    assert report.created == 2 and report.rejected == []
    assert _holders(app, held) == 1 and _holders(app, fresh) == 1
