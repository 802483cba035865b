"""Key rotation while serving: two application instances share a database and a key file;
one rotates, the other keeps reading and sending without a restart.

The other instance learns the new key from the file (an unknown key id makes it read the
file again); nothing it reads shows as erased; root-sealed identifiers move to the new key
too, so ``keys_still_used`` names only the new key; a process that truly lacks a key puts
deliveries back in the queue instead of failing them.
"""

from __future__ import annotations

import datetime as dt

from flask_migrate import upgrade
from sqlalchemy import select

from backoffice.demo import AIDES, seed_base
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.models.keys import DataKey
from backoffice.models.report import Report
from backoffice.services import dispatch, intake, outbox, subscribers
from backoffice.services.crypto import Keyring, parse_token
from backoffice.services.key_rotation import keys_still_used, rotate
from backoffice.transactions import unit_of_work
from tests.conftest import make_app, own_database
from tests.integration.dispatch_support import (
    SmtpServer,
    make_alert,
    organisation,
    unique_email,
)
from tests.integration.test_intake_api import EXAMPLE, URL, auth, new_client


def _instance(url: str, key_file, folder, **settings):
    folder.mkdir(exist_ok=True)
    return make_app(
        url,
        Keyring.generate(),  # replaced by the key file below
        folder,
        BACKOFFICE_KEYS=None,
        BACKOFFICE_KEY_FILE=str(key_file),
        **settings,
    )


def _register(count: int) -> list[int]:
    aides = organisation(AIDES)
    people = [
        subscribers.register(
            {
                "pseudonym": f"Rot {n}",
                "email": unique_email("rot"),
                "language": "fr",
                "departments": "29",
            },
            aides.id,
            validate_now=True,
        )
        for n in range(count)
    ]
    db.session.commit()
    return [p.id for p in people]


def _contacts(ids: list[int]) -> dict[int, str]:
    db.session.expire_all()
    found = {}
    for subscriber_id in ids:
        person = db.session.get(subscribers.Subscriber, subscriber_id)
        found[subscriber_id] = subscribers.contact_for_dispatch(person, "email")
    return found


def test_rotation_in_one_instance_while_another_serves(tmp_path):
    with own_database(tmp_path) as url:
        key_file = tmp_path / "keys.json"
        key_file.write_text(Keyring.generate().to_json())
        rotating = _instance(url, key_file, tmp_path / "a")
        with rotating.app_context():
            upgrade(revision="heads")
        serving = _instance(url, key_file, tmp_path / "b")
        with serving.app_context(), unit_of_work():
            seed_base()
        server = SmtpServer()
        server.start()
        serving.config["SMTP_PORT"] = server.port
        try:
            _rotate_while_serving(rotating, serving, key_file, server)
        finally:
            server.stop()
            with rotating.app_context():
                db.session.remove()


def _rotate_while_serving(rotating, serving, key_file, server) -> None:
    _client_id, key = new_client(serving)
    answer = serving.test_client().post(URL, json=EXAMPLE, headers=auth(key))
    assert answer.status_code == 201
    with serving.app_context():
        old_id = serving.extensions["keyring"].active_id
        people = _register(3)
        before = _contacts(people)
        alert = make_alert(["29"])
        outbox.enqueue_alert(alert)
        db.session.commit()
        alert_id = alert.id

    with rotating.app_context():  # `keys rotate`, in the other instance
        new = rotating.extensions["keyring"].with_new_active_key()
        key_file.write_text(new.to_json())
        rotating.extensions["keyring"] = new
        moved = rotate(new, settle_seconds=0.2)
        db.session.commit()
        assert moved >= 3 + 3  # data keys, and the report's root-sealed identifiers
        assert keys_still_used(new) == {new.active_id: keys_still_used(new)[new.active_id]}
        assert old_id not in keys_still_used(new)

    with serving.app_context():  # the serving instance was never told
        assert serving.extensions["keyring"].active_id == old_id
        assert _contacts(people) == before  # read through keys wrapped by the new key
        assert serving.extensions["keyring"].active_id == new.active_id  # learnt from the file
        report = db.session.scalar(
            select(Report).where(Report.reference == answer.get_json()["reference"])
        )
        values = sorted(intake.identifier_value(row) for row in report.identifiers)
        assert values == ["+33612345678", "AB-123-CD", "marc75", "someone@example.org"]
        later = _register(1)
        wrapped = db.session.get(subscribers.Subscriber, later[0]).data_key.wrapped_key
        assert parse_token(wrapped)[1] == new.active_id

        # A process whose keys lack the new one (BACKOFFICE_KEYS not updated): deliveries
        # wait in the queue, none fails, nothing shows as erased.
        stale = Keyring(
            root_keys={old_id: new.root_keys[old_id]}, active_id=old_id, index_key=new.index_key
        )
        serving.extensions["keyring"] = stale
        dispatch.dispatch_due(now=utcnow())
        db.session.expire_all()
        states = {
            d.status
            for d in db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }
        assert "failed" not in states and "sent" not in states, states
        codes = {
            d.error_code
            for d in db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        }
        assert codes == {"key_unavailable"}, codes

        serving.extensions["keyring"] = new
        dispatch.dispatch_due(now=utcnow() + dt.timedelta(hours=1))
        db.session.expire_all()
        states = [
            d.status
            for d in db.session.scalars(select(Delivery).where(Delivery.alert_id == alert_id))
        ]
        assert states and set(states) == {"sent"}, states
        assert len(server.recorder.received) == len(states)
        assert db.session.scalar(select(DataKey.id).where(DataKey.root_key_id == old_id)) is None
