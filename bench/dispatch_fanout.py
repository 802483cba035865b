"""Benchmark of the alert fan-out: one alert to 100,000 active subscribers (PostgreSQL).

Run from the repository root: ``.venv/bin/python bench/dispatch_fanout.py``. Creates its own
database on 127.0.0.1:5432 (dropped at the end), migrates it, bulk-loads 100,000 active
subscribers as the application stores them (each with its own data key, number and — for
some — address sealed, blind indexes computed with the run's key; 10 % "all of France", the
others in one to three of the alert's departments; ten languages), then times
``outbox.enqueue_alert`` plus the commit, as publication would run it, for three alerts.

Prints ``name: value unit`` lines; the goal is an outbox written in under 5 s.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import statistics
import time
import uuid

import support

SUBSCRIBERS = 100_000
DEPARTMENTS = ["75", "93", "94", "92", "13", "69", "59", "31", "33", "67"]
LANGUAGES = ["fr", "en", "es", "pt", "ro", "bg", "zh", "ru", "uk", "ar"]
RUNS = 3
SEED = 5


def _rows(keyring, organisation_id: int, first_key_id: int):
    """(data key, subscriber, departments) rows, sealed and indexed as the app does."""
    from backoffice.services import subscribers as service
    from backoffice.services.crypto import associated_data, seal_with_data_key

    rng = random.Random(SEED)
    now = "2026-11-20 10:00:00"
    keys, people, departments = [], [], []
    for number in range(SUBSCRIBERS):
        subscriber_id, key_id = number + 1, first_key_id + number
        dek, wrapped = keyring.new_data_key()
        keys.append((key_id, "subscribers", wrapped, keyring.active_id, now))
        row_uid = uuid.UUID(int=rng.getrandbits(128)).hex
        phone = f"+336{number:08d}" if rng.random() < 0.8 else None
        email = f"w{number}@example.org" if phone is None or rng.random() < 0.3 else None

        def seal(field, value, row_uid=row_uid, dek=dek, key_id=key_id):
            aad = associated_data("subscribers", field, row_uid, organisation_id)
            return seal_with_data_key(dek, key_id, value, aad) if value else None

        salt = secrets.token_hex(16)
        token = keyring.blind_index(service.TOKEN_KIND, salt)
        everywhere = rng.random() < 0.1
        people.append(
            (
                subscriber_id,
                f"W{number}",
                seal("phone", phone),
                keyring.blind_index(service.PHONE_INDEX_KIND, phone) if phone else None,
                seal("email", email),
                keyring.blind_index(service.EMAIL_INDEX_KIND, email) if email else None,
                LANGUAGES[number % len(LANGUAGES)],
                everywhere,
                "active",
                salt,
                hashlib.sha256(token.encode()).hexdigest(),
                now,
                organisation_id,
                row_uid,
                key_id,
                now,
                now,
            )
        )
        if not everywhere:
            for code in rng.sample(DEPARTMENTS, rng.randint(1, 3)):
                departments.append((subscriber_id, code))
    return keys, people, departments


SUBSCRIBER_COLUMNS = [
    "id",
    "pseudonym",
    "phone_sealed",
    "phone_index",
    "email_sealed",
    "email_index",
    "language",
    "all_departments",
    "status",
    "unsubscribe_salt",
    "unsubscribe_token_hash",
    "validated_at",
    "organisation_id",
    "row_uid",
    "data_key_id",
    "created_at",
    "updated_at",
]


def _load(app, url: str) -> int:
    from sqlalchemy import func, select

    from backoffice.demo import AIDES, seed_base
    from backoffice.extensions import db
    from backoffice.models.keys import DataKey

    with app.app_context():
        context = seed_base()
        organisation_id = context.organisations[AIDES].id
        first_key_id = (db.session.scalar(select(func.max(DataKey.id))) or 0) + 1
        keys, people, departments = _rows(app.extensions["keyring"], organisation_id, first_key_id)
    with support.connect(url) as connection:
        key_columns = ["id", "purpose", "wrapped_key", "root_key_id", "created_at"]
        support.copy_rows(connection, "data_keys", key_columns, keys)
        support.copy_rows(connection, "subscribers", SUBSCRIBER_COLUMNS, people)
        support.copy_rows(
            connection, "subscriber_departments", ["subscriber_id", "department"], departments
        )
        for statement in (
            "SELECT setval(pg_get_serial_sequence('data_keys', 'id'), max(id)) FROM data_keys",
            "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), max(id)) FROM subscribers",
        ):
            connection.execute(statement)
        connection.commit()
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE")
    return len(people)


def _alert(number: int):
    from backoffice.extensions import db
    from backoffice.models.alert import Alert
    from backoffice.models.base import utcnow

    alert = Alert(
        reference=f"A-B{number:06d}",
        status="published",
        severity="dangerous",
        violence_types=["theft"],
        departments=DEPARTMENTS,
        aggressor_description={},
        vehicle={},
        reports_count=1,
        published_at=utcnow(),
        dispatch_requested_at=utcnow(),
    )
    db.session.add(alert)
    db.session.flush()
    return alert


def main() -> None:
    with support.temporary_database("bench_fanout") as url:
        app = support.migrated_app(url, FAB_UPDATE_PERMS=False)
        start = time.perf_counter()
        loaded = _load(app, url)
        support.report(
            "dispatch_fanout_load", time.perf_counter() - start, f"s ({loaded} subscribers)"
        )
        from backoffice.extensions import db
        from backoffice.services import outbox

        timings, written = [], 0
        with app.app_context():
            for number in range(RUNS):
                alert = _alert(number)  # not timed: publication has the alert already
                start = time.perf_counter()
                written = outbox.enqueue_alert(alert)
                db.session.commit()  # publication's commit: the outbox is durable here
                timings.append(time.perf_counter() - start)
        support.report("dispatch_fanout_rows", written, "deliveries")
        support.report("dispatch_fanout_100k_first", timings[0], "s", digits=2)
        support.report("dispatch_fanout_100k", statistics.median(timings), "s", digits=2)


if __name__ == "__main__":
    main()
