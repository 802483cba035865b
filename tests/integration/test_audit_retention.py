"""Audit retention keeps the chain verifiable (issue 13, item 3).

A trail with old reads, old changes and recent reads is pruned: old reads become tombstones
(payload cleared, place and seal kept), the change of the same age stays whole, ``verify``
still passes, and deleting or altering a tombstone is still caught.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backoffice.cli import audit_prune, audit_verify  # noqa: F401 - registered commands
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.services import audit
from backoffice.transactions import unit_of_work
from tests.conftest import backend, make_app, own_database
from tests.integration.test_audit_chain import tamper, verify


@pytest.fixture
def aged_trail(tmp_path_factory, test_keyring, monkeypatch):
    """Fourteen-month-old reads (3 decrypts, 1 page view) and change (1), then 2 new reads."""
    with own_database(tmp_path_factory.mktemp("retention_db")) as url:
        app = make_app(
            url,
            test_keyring,
            tmp_path_factory.mktemp("retention_instance"),
            AUDIT_CHECKPOINT_DIR=str(tmp_path_factory.mktemp("checkpoints")),
        )
        with app.app_context():
            upgrade(revision="heads")
            old = utcnow() - dt.timedelta(days=430)
            monkeypatch.setattr(audit, "utcnow", lambda: old)
            with unit_of_work():
                audit.record_decryptions_of(
                    (SimpleNamespace(id=n, organisation_id=1), "contact") for n in range(3)
                )
                audit.record("report_viewed", object_type="Report", object_id="R-1")
                audit.record("staff_role_changed", object_type="StaffUser", object_id=7)
            monkeypatch.undo()
            with unit_of_work():
                audit.record_decryptions_of(
                    (SimpleNamespace(id=n, organisation_id=1), "notes") for n in range(2)
                )
            db.session.remove()
        yield app
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def prune(app, *options: str):
    return app.test_cli_runner().invoke(args=["audit", "prune", *options])


def events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.chain_index)))
        db.session.remove()
        return rows


def test_dry_run_prints_counts_and_changes_nothing(aged_trail):
    result = prune(aged_trail, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Read events would be pruned: 4; change events would be pruned: 0." in result.output
    assert all(event.pruned_at is None for event in events(aged_trail))


def test_old_reads_become_tombstones_and_the_chain_still_verifies(aged_trail):
    result = prune(aged_trail)
    assert result.exit_code == 0, result.output
    assert "Read events pruned: 4; change events pruned: 0." in result.output
    rows = events(aged_trail)
    tombstones = [event for event in rows if event.pruned_at is not None]
    assert [event.chain_index for event in tombstones] == [1, 2, 3, 4]
    assert all(e.object_id is None and list(e.details) == ["link"] for e in tombstones)
    change = next(event for event in rows if event.action == "staff_role_changed")
    assert change.pruned_at is None and change.object_id == "7"  # same age, kept whole
    assert rows[-1].action == "audit_pruned" and rows[-1].details == {"reads": 4, "changes": 0}
    assert list(_checkpoints(aged_trail))  # written before pruning
    checked = verify(aged_trail)
    assert checked.exit_code == 0, checked.output
    assert prune(aged_trail, "--dry-run").output.count(": 0") == 2  # idempotent


def _checkpoints(app):
    from pathlib import Path

    return Path(app.config["AUDIT_CHECKPOINT_DIR"]).glob("audit-checkpoint-*.json")


def test_a_deleted_tombstone_is_named(aged_trail):
    prune(aged_trail)
    tombstone = events(aged_trail)[1]
    tamper(aged_trail, "DELETE FROM audit_events WHERE id = :id", id=tombstone.id)
    result = verify(aged_trail)
    assert result.exit_code == 1
    assert f"expected chain position {tombstone.chain_index}" in result.output


def test_an_altered_tombstone_is_named(aged_trail):
    prune(aged_trail)
    tombstone = events(aged_trail)[2]
    tamper(aged_trail, "UPDATE audit_events SET seal = 'x' WHERE id = :id", id=tombstone.id)
    result = verify(aged_trail)
    assert result.exit_code == 1
    assert f"event {tombstone.id} (chain position {tombstone.chain_index})" in result.output


def test_a_recent_event_turned_into_a_tombstone_is_named(aged_trail):
    recent = events(aged_trail)[-1]
    tamper(
        aged_trail,
        "UPDATE audit_events SET pruned_at = :now, object_id = NULL WHERE id = :id",
        now=utcnow(),
        id=recent.id,
    )
    result = verify(aged_trail)
    assert result.exit_code == 1
    assert f"broken at event {recent.id}" in result.output


@pytest.mark.skipif(backend() != "postgresql", reason="the append-only trigger is PostgreSQL's")
def test_the_database_still_refuses_other_changes_to_a_tombstone(aged_trail):
    prune(aged_trail)
    tombstone = events(aged_trail)[0]
    for statement in (
        "UPDATE audit_events SET action = 'other' WHERE id = :id",
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with (
            aged_trail.app_context(),
            db.engine.begin() as connection,
            pytest.raises(DBAPIError, match="append-only"),
        ):
            connection.execute(text(statement), {"id": tombstone.id})
