"""The schema comes from the migrations, and they agree with the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import inspect, text

from backoffice.extensions import db


def test_migrations_and_models_agree(app_context):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Model.metadata)
    assert differences == [], f"models and migrations differ: {differences}"


def test_every_model_table_exists(app_context):
    tables = set(inspect(db.engine).get_table_names())
    assert set(Model.metadata.tables) <= tables


@pytest.mark.postgres_only  # the trigger is PostgreSQL's; SQLite relies on the ORM guard
def test_audit_trail_refuses_update_and_delete_at_database_level(app_context):
    from backoffice.services import audit

    event = audit.record("test_event", object_type="Test", object_id="1")
    db.session.commit()
    with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_events SET action = 'x' WHERE id = :id"), {"id": event.id}
        )


def test_orm_refuses_to_change_audit_events(app_context):
    from backoffice.services import audit

    event = audit.record("test_event", object_type="Test", object_id="2")
    db.session.commit()
    event.action = "changed"
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(type(event), event.id))
    with pytest.raises(PermissionError):
        db.session.commit()
    db.session.rollback()
