"""The audit trail is a chain that cannot be cut silently (issue 12, finding 4).

Each test writes a short trail on a database of its own, tampers with it as someone with
SQL access would (the PostgreSQL append-only trigger switched off, as its owner can), then
runs ``flask audit verify``: it must exit non-zero and name the first broken row.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import event, select, text

from backoffice.cli import audit_checkpoint, audit_verify  # noqa: F401 - registered commands
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import audit
from backoffice.transactions import unit_of_work
from tests.conftest import backend, make_app, own_database


@pytest.fixture
def trail(tmp_path_factory, test_keyring):
    """An application on its own database holding a trail of ten events (ids in order)."""
    with own_database(tmp_path_factory.mktemp("chain_db")) as url:
        checkpoints = tmp_path_factory.mktemp("checkpoints")
        app = make_app(
            url,
            test_keyring,
            tmp_path_factory.mktemp("chain_instance"),
            AUDIT_CHECKPOINT_DIR=str(checkpoints),
        )
        with app.app_context():
            upgrade(revision="heads")
            with unit_of_work():
                for n in range(6):
                    audit.record("test_event", object_type="Thing", object_id=n)
            with unit_of_work():  # a second transaction continues the chain
                audit.record_decryptions_of(
                    (type("Note", (), {"id": n, "organisation_id": 1})(), "body") for n in range(4)
                )
            app.ids = list(
                db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.chain_index))
            )
            db.session.remove()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def tamper(app, *statements: str, **params) -> None:
    with app.app_context(), db.engine.begin() as connection:
        if backend() == "postgresql":
            connection.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
            )
        for statement in statements:
            connection.execute(text(statement), params)
        if backend() == "postgresql":
            connection.execute(
                text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
            )


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_an_untouched_trail_verifies(trail):
    result = verify(trail)
    assert result.exit_code == 0, result.output
    assert "intact: 10 events" in result.output


def test_a_deleted_row_is_named(trail):
    tamper(trail, "DELETE FROM audit_events WHERE id = :id", id=trail.ids[4])
    result = verify(trail)
    assert result.exit_code == 1
    assert f"broken at event {trail.ids[5]}" in result.output  # the row after the gap


def test_an_inserted_row_is_named(trail):
    with trail.app_context():
        row = db.session.get(AuditEvent, trail.ids[3])
        forged_seal = row.seal  # a seal copied from another row: the attacker has no key
        db.session.remove()
    # Make room at position 4 (through negative values: the index is unique).
    tamper(
        trail,
        "UPDATE audit_events SET chain_index = -chain_index - 1 WHERE chain_index >= 4",
        "UPDATE audit_events SET chain_index = -chain_index WHERE chain_index < 0",
    )
    tamper(
        trail,
        "INSERT INTO audit_events (occurred_at, actor_name, action, outcome, details, seal,"
        " chain_index) VALUES ('2026-12-07 10:00:00', 'system', 'forged', 'success', '{}',"
        " :seal, 4)",
        seal=forged_seal,
    )
    result = verify(trail)
    assert result.exit_code == 1
    with trail.app_context():
        forged = db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "forged"))
    assert f"broken at event {forged}" in result.output


def test_a_row_inserted_outside_the_chain_is_named(trail):
    tamper(
        trail,
        "INSERT INTO audit_events (occurred_at, actor_name, action, outcome, details)"
        " VALUES ('2026-12-07 10:00:00', 'system', 'forged', 'success', '{}')",
    )
    result = verify(trail)
    assert result.exit_code == 1 and "outside the chain" in result.output


def test_swapped_rows_are_named(trail):
    a, b = trail.ids[2], trail.ids[3]
    tamper(
        trail,
        "UPDATE audit_events SET chain_index = -3 WHERE id = :a",
        "UPDATE audit_events SET chain_index = 3 WHERE id = :b",
        "UPDATE audit_events SET chain_index = 4 WHERE id = :a",
        a=a,
        b=b,
    )
    result = verify(trail)
    assert result.exit_code == 1
    assert f"broken at event {b}" in result.output


def test_an_unsealed_row_is_named(trail):
    tamper(trail, "UPDATE audit_events SET seal = NULL WHERE id = :id", id=trail.ids[7])
    result = verify(trail)
    assert result.exit_code == 1
    assert f"broken at event {trail.ids[7]}" in result.output and "unsealed" in result.output


def test_an_altered_row_is_named(trail):
    tamper(trail, "UPDATE audit_events SET actor_name = 'nobody' WHERE id = :id", id=trail.ids[1])
    result = verify(trail)
    assert result.exit_code == 1 and f"broken at event {trail.ids[1]}" in result.output


def test_a_cut_tail_is_caught_by_the_checkpoint(trail):
    result = trail.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert "Checkpoint written" in result.output
    folder = Path(trail.config["AUDIT_CHECKPOINT_DIR"])
    point = json.loads(next(folder.glob("audit-checkpoint-*.json")).read_text())
    assert point["chain_index"] == 10 and point["event_id"] == trail.ids[-1]
    tamper(trail, "DELETE FROM audit_events WHERE id IN (:a, :b)", a=trail.ids[-1], b=trail.ids[-2])
    result = verify(trail)
    assert result.exit_code == 1
    assert f"broken at event {trail.ids[-1]}" in result.output and "tail cut" in result.output


def test_a_forged_checkpoint_is_ignored(trail):
    folder = Path(trail.config["AUDIT_CHECKPOINT_DIR"])
    forged = {"event_id": 999, "chain_index": 999, "seal": "x", "count": 999, "time": "now"}
    (folder / "audit-checkpoint-forged.json").write_text(json.dumps({**forged, "signature": "0"}))
    assert verify(trail).exit_code == 0


@pytest.mark.postgres_only
def test_two_transactions_appending_at_once_do_not_fork_the_chain(trail):
    """The first append of a transaction locks the head: the second waits, then follows."""
    started, release = threading.Event(), threading.Event()

    def first() -> None:
        with trail.app_context(), unit_of_work():
            audit.record("first_writer", object_type="Thing", object_id=1)
            db.session.flush()
            started.set()
            release.wait(10)  # holds the lock while the second one tries

    def second() -> None:
        started.wait(10)
        with trail.app_context(), unit_of_work():
            audit.record("second_writer", object_type="Thing", object_id=2)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    threads[1].join(1)
    assert threads[1].is_alive()  # blocked on the head's lock
    release.set()
    for thread in threads:
        thread.join(20)
    result = verify(trail)
    assert result.exit_code == 0, result.output
    assert "intact: 12 events" in result.output


def test_a_decryption_whose_audit_cannot_be_saved_is_not_served(app, tmp_path_factory):
    """Fail closed: the audit insert fails, so the page with her name is not served."""
    from backoffice.services import cases
    from tests.conftest import login
    from tests.integration.cases_support import AIDES_WORKER, open_case, unique, user

    failing = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"],
        app.extensions["keyring"],
        tmp_path_factory.mktemp("fail_closed"),
        PROPAGATE_EXCEPTIONS=False,  # the generic error page, as in production
    )
    name, note_text = unique("Lila"), unique("Confidence")
    with failing.app_context():
        case = open_case(contact=cases.Contact(name=name, phone=None, preferred_language="fr"))
        cases.add_note(case, note_text, user(AIDES_WORKER))
        db.session.commit()
        case_id = case.id
        engine = db.engine
        db.session.remove()
    client = failing.test_client()
    assert login(client, AIDES_WORKER).status_code == 302
    assert name in client.get(f"/cases/{case_id}").get_data(as_text=True)  # served when audited

    def refuse_audit(_conn, _cursor, statement, *_args) -> None:
        if "INSERT INTO audit_events" in statement:
            raise RuntimeError("the audit trail's disk is full")

    event.listen(engine, "before_cursor_execute", refuse_audit)
    try:
        response = client.get(f"/cases/{case_id}")
    finally:
        event.remove(engine, "before_cursor_execute", refuse_audit)
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert name not in body and note_text not in body and "disk is full" not in body
