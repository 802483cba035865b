"""The backup pair of docs/operations.md, restored as a drill: ``pg_dump -Fc`` of the
database and the key file kept elsewhere.

The dump holds ciphertext only; restored without keys, nothing reads (and nothing claims to
be erased: the missing key is named); with the key file, everything reads; with a key file
older than a rotation, the application names the key that is missing.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
from flask_migrate import upgrade
from sqlalchemy import select

from backoffice.demo import seed_base
from backoffice.extensions import db
from backoffice.models.subscriber import Subscriber
from backoffice.services import subscribers
from backoffice.services.crypto import Keyring, UnknownKeyError
from backoffice.services.key_rotation import keys_still_used, rotate
from backoffice.transactions import unit_of_work
from tests.conftest import make_app, own_database
from tests.integration.dispatch_support import organisation

pytestmark = pytest.mark.postgres_only


def _app(url: str, key_file, folder):
    folder.mkdir(exist_ok=True)
    return make_app(
        url, Keyring.generate(), folder, BACKOFFICE_KEYS=None, BACKOFFICE_KEY_FILE=str(key_file)
    )


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _email_of(app, subscriber_id: int) -> str:
    with app.app_context():
        person = db.session.get(Subscriber, subscriber_id)
        try:
            return subscribers.contact_for_dispatch(person, "email")
        finally:
            db.session.remove()


def test_restore_drill(tmp_path):
    from backoffice.demo import AIDES

    email = f"drill-{uuid.uuid4().hex[:10]}@example.org"
    old_keys, keys = tmp_path / "keys-before-rotation.json", tmp_path / "keys.json"
    keys.write_text(Keyring.generate().to_json())
    with own_database(tmp_path / "live") as live_url:
        live = _app(live_url, keys, tmp_path / "a")
        with live.app_context():
            upgrade(revision="heads")
        live = _app(live_url, keys, tmp_path / "b")
        with live.app_context(), unit_of_work():
            seed_base()
            person = subscribers.register(
                {"pseudonym": "Drill", "email": email, "language": "fr", "departments": "35"},
                organisation(AIDES).id,
                validate_now=True,
            )
            db.session.flush()
            subscriber_id = person.id
        # A rotation; the key file from before it is kept, as an operator might by mistake.
        old_keys.write_text(keys.read_text())
        with live.app_context():
            new = live.extensions["keyring"].with_new_active_key()
            keys.write_text(new.to_json())
            live.extensions["keyring"] = new
            rotate(new, settle_seconds=0)
            db.session.commit()
            db.session.remove()
        dump = tmp_path / "backoffice.dump"
        subprocess.run(["pg_dump", "-Fc", "-f", str(dump), _plain(live_url)], check=True)
    assert email.encode() not in dump.read_bytes()  # the dump holds ciphertext only

    with own_database(tmp_path / "restored") as restored_url:
        subprocess.run(
            ["pg_restore", "--no-owner", "-d", _plain(restored_url), str(dump)], check=True
        )
        # Without the keys (a fresh key file): ciphertext, and the missing key is named.
        stranger = tmp_path / "other-keys.json"
        stranger.write_text(Keyring.generate().to_json())
        without = _app(restored_url, stranger, tmp_path / "c")
        with without.app_context():
            token = db.session.scalar(
                select(Subscriber.email_sealed).where(Subscriber.id == subscriber_id)
            )
            assert token.startswith("v1:") and email not in token
        with pytest.raises(UnknownKeyError) as missing:
            _email_of(without, subscriber_id)
        assert missing.value.key_id == new.active_id

        # With the key file: everything reads.
        assert _email_of(_app(restored_url, keys, tmp_path / "d"), subscriber_id) == email

        # With a key file older than the rotation: the key the data needs is named.
        older = _app(restored_url, old_keys, tmp_path / "e")
        with pytest.raises(UnknownKeyError) as missing:
            _email_of(older, subscriber_id)
        assert missing.value.key_id == new.active_id
        assert new.active_id in str(missing.value)
        with older.app_context():
            used = keys_still_used()
            assert (
                new.active_id in used and new.active_id not in older.extensions["keyring"].root_keys
            )
            db.session.remove()
