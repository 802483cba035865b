"""Data migrations run on a database that holds data, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from backoffice.extensions import db
from backoffice.models.base import new_row_uid
from backoffice.models.outreach import MESSAGE_PURPOSES
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.services.worker_texts import outreach_text
from tests.conftest import make_app, own_database
from tests.integration.test_intake_storage import _database_bytes


def test_existing_organisations_get_their_missing_outreach_templates(
    tmp_path_factory, test_keyring
):
    with own_database(tmp_path_factory.mktemp("migration_db")) as url:
        instance = tmp_path_factory.mktemp("migration_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision="0010")
            now = dt.datetime(2026, 12, 1, 12, 0)
            with db.engine.begin() as connection:
                for name in ("Opened its templates", "Never opened them"):
                    connection.execute(
                        text(
                            "INSERT INTO organisations (name, kind, departments, active,"
                            " created_at, updated_at)"
                            " VALUES (:name, 'community', '[]', :yes, :now, :now)"
                        ),
                        {"name": name, "yes": True, "now": now},
                    )
                opened = connection.execute(
                    text("SELECT id FROM organisations WHERE name = 'Opened its templates'")
                ).scalar_one()
                # The team had opened its page once (seeded then) and its lead edited a text.
                connection.execute(
                    text(
                        "INSERT INTO outreach_templates (organisation_id, purpose, language,"
                        " text, updated_at) VALUES (:org, 'first_contact', 'fr', :text, :now)"
                    ),
                    {"org": opened, "text": "Notre texte à nous : {register_url}", "now": now},
                )
            upgrade(revision="heads")
            rows = db.session.execute(
                text(
                    "SELECT o.name, t.purpose, t.language, t.text FROM outreach_templates t"
                    " JOIN organisations o ON o.id = t.organisation_id"
                )
            ).all()
            db.session.remove()
            db.engine.dispose()
    texts = {(name, purpose, language): body for name, purpose, language, body in rows}
    every = {(p, lang) for p in MESSAGE_PURPOSES for lang in ALERT_LANGUAGES}
    for name in ("Opened its templates", "Never opened them"):
        assert {(p, lang) for n, p, lang in texts if n == name} == every
    assert texts[("Opened its templates", "first_contact", "fr")] == (
        "Notre texte à nous : {register_url}"
    )
    assert texts[("Never opened them", "first_contact", "fr")] == outreach_text(
        "first_contact", "fr"
    )
    assert texts[("Never opened them", "after_an_assault", "ar")] == outreach_text(
        "after_an_assault", "ar"
    )


def test_existing_structures_become_unverified_with_their_source(tmp_path_factory, test_keyring):
    with own_database(tmp_path_factory.mktemp("migration_db")) as url:
        instance = tmp_path_factory.mktemp("migration_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision="20261207_core_1")
            now = dt.datetime(2026, 12, 1, 12, 0)
            with db.engine.begin() as connection:
                for code, source in (
                    ("demo-one", "Demo data: town centre"),
                    ("typed-in", "Phone call with the team, 2025"),
                    ("no-source", None),
                ):
                    connection.execute(
                        text(
                            "INSERT INTO structures (code, name, category, city, department,"
                            " location_approximate, trained_on_sex_work, active, source,"
                            " search_key, created_at, updated_at) VALUES (:code, :code,"
                            " 'hospital', 'Paris', '75', :no, :yes, :yes, :source, :code,"
                            " :now, :now)"
                        ),
                        {"code": code, "source": source, "no": False, "yes": True, "now": now},
                    )
            upgrade(revision="heads")
            rows = db.session.execute(
                text("SELECT code, source_kind, source, verified_at FROM structures")
            ).all()
            db.session.remove()
            db.engine.dispose()
    found = {code: (kind, source, verified) for code, kind, source, verified in rows}
    assert found["demo-one"] == ("demo", "Demo data: town centre", None)
    assert found["typed-in"] == ("legacy", "Phone call with the team, 2025", None)
    assert found["no-source"] == ("legacy", "Entered before sources were recorded", None)


def test_starter_information_sheets_are_loaded_once(tmp_path_factory, test_keyring):
    with own_database(tmp_path_factory.mktemp("migration_db")) as url:
        instance = tmp_path_factory.mktemp("migration_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision="20261207_info_1")
            upgrade(revision="heads")
            rows = db.session.execute(
                text(
                    "SELECT s.slug, s.revision, v.language, v.review, v.published_revision"
                    " FROM info_sheets s JOIN info_sheet_versions v ON v.sheet_id = s.id"
                )
            ).all()
            db.session.remove()
            db.engine.dispose()
    slugs = {slug for slug, *_rest in rows}
    assert {"pep-48h", "filing-a-complaint", "digital-safety"} <= slugs
    assert all(revision == 1 and published == 1 for _s, revision, _l, _r, published in rows)
    reviews = {(slug, language): review for slug, _rev, language, review, _p in rows}
    assert reviews[("pep-48h", "fr")] == "reviewed"
    assert reviews[("pep-48h", "ro")] == "to_review"


def _insert_report(connection, number: int, narrative: str, data_key_id=None) -> None:
    now = dt.datetime(2026, 12, 1, 12, 0)
    connection.execute(
        text(
            "INSERT INTO reports (reference, status, version_id, channel, incident_date,"
            " date_precision, department, violence_types, severity, narrative,"
            " aggressor_description, vehicle, consent_publish_alert, consent_follow_up,"
            " consent_share_with_partner, consent_statistics, consent_police_or_lawyer,"
            " received_at, redaction_status, row_uid, data_key_id, created_at, updated_at)"
            " VALUES (:ref, 'received', 1, 'web', :day, 'day', '75', '[]', 'low', :narrative,"
            " '{}', '{}', :no, :no, :no, :no, :no, :now, 'pending', :uid, :key, :now, :now)"
        ),
        {
            "ref": f"J-2026-{number:06d}",
            "day": now.date(),
            "narrative": narrative,
            "no": False,
            "now": now,
            "uid": f"uid{number:029d}",
            "key": data_key_id,
        },
    )


def test_existing_narratives_are_sealed_in_batches(tmp_path_factory, test_keyring, caplog):
    """Issue 12, finding 1: clear narratives become sealed ones, with her data key."""
    from backoffice.models.report import Report

    words = {n: f"narrativeword{n}x{uuid.uuid4().hex[:8]}" for n in range(1, 8)}
    with own_database(tmp_path_factory.mktemp("seal_db")) as url:
        instance = tmp_path_factory.mktemp("seal_instance")
        app = make_app(url, test_keyring, instance, MIGRATION_BATCH_SIZE=3)
        with app.app_context():
            upgrade(revision="20261207_core_1")
            with db.engine.begin() as connection:
                # One report whose data was erased: a destroyed key (wrapped_key NULL).
                connection.execute(
                    text(
                        "INSERT INTO data_keys (purpose, wrapped_key, created_at)"
                        " VALUES ('reports', NULL, :now)"
                    ),
                    {"now": dt.datetime(2026, 12, 1)},
                )
                destroyed = connection.execute(text("SELECT max(id) FROM data_keys")).scalar()
                for number, word in words.items():
                    key = destroyed if number == 7 else None
                    _insert_report(connection, number, f"Elle a dit: {word}.", key)
            with caplog.at_level("INFO", logger="alembic.runtime.migration"):
                upgrade(revision="heads")
            reports = db.session.scalars(select(Report).order_by(Report.reference)).all()
            narratives = [r.narrative for r in reports]
            sealed = [r.narrative_sealed for r in reports]
            columns = {c["name"] for c in sa_inspect(db.engine).get_columns("reports")}
            db.session.remove()
            db.engine.dispose()
            dumped = _database_bytes(app)
    assert narratives[:6] == [f"Elle a dit: {words[n]}." for n in range(1, 7)]
    assert narratives[6] is None and sealed[6] is None  # erased with her key
    assert all(s.startswith("v1:d:") for s in sealed[:6])
    assert "narrative" not in columns
    for done in (3, 6, 7):  # three batches of at most three
        assert f"Sealed the narratives of {done} of 7 reports" in caplog.text
    for word in words.values():
        assert word.encode() not in dumped


def test_existing_audit_events_are_chained_and_an_altered_one_stays_named(
    tmp_path_factory, test_keyring
):
    """Issue 12, finding 4: rows sealed one by one become a chain; a row altered before the
    migration is left outside it, so verify keeps naming it."""
    import json

    from backoffice.services import audit

    def old_seal(values: dict) -> str:
        content = [
            values["occurred_at"].isoformat(timespec="microseconds"),
            None,
            "system",
            None,
            values["action"],
            "Thing",
            values["object_id"],
            "success",
            {},
        ]
        text_ = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return test_keyring.blind_index("audit-seal", text_)

    with own_database(tmp_path_factory.mktemp("chain_db")) as url:
        app = make_app(url, test_keyring, tmp_path_factory.mktemp("chain_instance"))
        with app.app_context():
            upgrade(revision="20261207_seal_1")
            with db.engine.begin() as connection:
                for n in range(5):
                    values = {
                        "occurred_at": dt.datetime(2026, 12, 1, 12, 0, n),
                        "action": "old_event",
                        "object_id": str(n),
                    }
                    seal = old_seal(values)
                    if n == 3:
                        values["action"] = "rewritten"  # altered after it was sealed
                    connection.execute(
                        text(
                            "INSERT INTO audit_events (occurred_at, actor_name, action,"
                            " object_type, object_id, outcome, details, seal) VALUES"
                            " (:occurred_at, 'system', :action, 'Thing', :object_id,"
                            " 'success', '{}', :seal)"
                        ),
                        {**values, "seal": seal},
                    )
            upgrade(revision="heads")
            rows = db.session.execute(
                text("SELECT action, chain_index FROM audit_events ORDER BY id")
            ).all()
            check = audit.verify_chain()
            db.session.remove()
            db.engine.dispose()
    assert [r.chain_index for r in rows] == [1, 2, 3, None, 4]
    assert not check.intact and "outside the chain" in check.reason
    assert check.broken_index is None and check.count == 5


def test_existing_subscriber_pseudonyms_are_sealed(tmp_path_factory, test_keyring, caplog):
    """Issue 12, finding 12: clear pseudonyms become sealed, readable through the model."""
    from backoffice.models.subscriber import Subscriber

    names = [f"Pseudo{uuid.uuid4().hex[:10]}" for _ in range(4)]
    with own_database(tmp_path_factory.mktemp("pseudonym_db")) as url:
        instance = tmp_path_factory.mktemp("pseudonym_instance")
        app = make_app(url, test_keyring, instance, MIGRATION_BATCH_SIZE=3)
        with app.app_context():
            upgrade(revision="20261207_seal_2")
            now = dt.datetime(2026, 12, 1, 12, 0)
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO organisations (name, kind, departments, active,"
                        " created_at, updated_at) VALUES ('Pseudo org', 'community', '[]',"
                        " :yes, :now, :now)"
                    ),
                    {"yes": True, "now": now},
                )
                org = connection.execute(text("SELECT max(id) FROM organisations")).scalar()
                for n, name in enumerate(names):
                    connection.execute(
                        text(
                            "INSERT INTO subscribers (pseudonym, language, all_departments,"
                            " status, unsubscribe_salt, unsubscribe_token_hash,"
                            " organisation_id, row_uid, created_at, updated_at) VALUES"
                            " (:name, 'fr', :no, 'active', 'salt', :hash, :org, :uid, :now, :now)"
                        ),
                        {
                            "name": name,
                            "no": False,
                            "hash": f"{n:064d}",
                            "org": org,
                            "uid": f"sub{n:029d}",
                            "now": now,
                        },
                    )
            with caplog.at_level("INFO", logger="alembic.runtime.migration"):
                upgrade(revision="heads")
            read = [
                s.pseudonym for s in db.session.scalars(select(Subscriber).order_by(Subscriber.id))
            ]
            db.session.remove()
            db.engine.dispose()
            dumped = _database_bytes(app)
    assert read == names
    assert "Sealed the pseudonyms of 3 of 4 subscribers" in caplog.text
    for name in names:
        assert name.encode() not in dumped


def _insert_clear_redactions(connection, words: dict[int, str], destroyed: int) -> None:
    """Reports as they stood before 20261207_seal2_1: redaction texts in clear JSON columns."""
    import sqlalchemy as sa

    reports = sa.table(
        "reports",
        sa.column("reference", sa.String),
        sa.column("data_key_id", sa.Integer),
        sa.column("redaction_proposal", sa.JSON),
        sa.column("redaction_reviewed", sa.JSON),
    )
    for number, word in words.items():
        _insert_report_row(connection, number)
        text_ = f"Elle a dit: {word}."
        span = {"start": 12, "end": 12 + len(word), "type": "name"}
        values = {"data_key_id": destroyed if number == 4 else None}
        if number != 3:  # report 3: the assistant never ran
            values["redaction_proposal"] = {"text": text_, "spans": [span]}
        if number == 1:
            values["redaction_reviewed"] = {"text": text_, "spans": [], "accepted_proposal": False}
        connection.execute(
            sa.update(reports).where(reports.c.reference == f"J-2026-{number:06d}").values(**values)
        )


def _insert_report_row(connection, number: int) -> None:
    now = dt.datetime(2026, 12, 1, 12, 0)
    connection.execute(
        text(
            "INSERT INTO reports (reference, status, version_id, channel, incident_date,"
            " date_precision, department, violence_types, severity,"
            " aggressor_description, vehicle, consent_publish_alert, consent_follow_up,"
            " consent_share_with_partner, consent_statistics, consent_police_or_lawyer,"
            " received_at, redaction_status, row_uid, created_at, updated_at)"
            " VALUES (:ref, 'received', 1, 'web', :day, 'day', '75', '[]', 'low',"
            " '{}', '{}', :no, :no, :no, :no, :no, :now, 'proposed', :uid, :now, :now)"
        ),
        {
            "ref": f"J-2026-{number:06d}",
            "day": now.date(),
            "no": False,
            "now": now,
            "uid": f"red{number:029d}",
        },
    )


def test_existing_redaction_texts_are_sealed_in_batches(tmp_path_factory, test_keyring, caplog):
    """Issue 12, finding 1: the assistant's proposal and the reviewed redaction quote the
    narrative; clear ones become sealed, readable through the model, gone with an erased key."""
    from backoffice.models.report import Report

    words = {n: f"redactionword{n}x{uuid.uuid4().hex[:8]}" for n in range(1, 5)}
    with own_database(tmp_path_factory.mktemp("redaction_db")) as url:
        instance = tmp_path_factory.mktemp("redaction_instance")
        app = make_app(url, test_keyring, instance, MIGRATION_BATCH_SIZE=2)
        with app.app_context():
            upgrade(revision="20261207_prod_2")
            with db.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO data_keys (purpose, wrapped_key, created_at)"
                        " VALUES ('reports', NULL, :now)"
                    ),
                    {"now": dt.datetime(2026, 12, 1)},
                )
                destroyed = connection.execute(text("SELECT max(id) FROM data_keys")).scalar()
                _insert_clear_redactions(connection, words, destroyed)
            with caplog.at_level("INFO", logger="alembic.runtime.migration"):
                upgrade(revision="heads")
            reports = db.session.scalars(select(Report).order_by(Report.reference)).all()
            proposals = [r.redaction_proposal for r in reports]
            reviewed = [r.redaction_reviewed for r in reports]
            sealed = [r.redaction_proposal_sealed for r in reports]
            columns = {c["name"] for c in sa_inspect(db.engine).get_columns("reports")}
            db.session.remove()
            db.engine.dispose()
            dumped = _database_bytes(app)
    assert [p["text"] for p in proposals[:2]] == [f"Elle a dit: {words[n]}." for n in (1, 2)]
    assert proposals[0]["spans"][0]["type"] == "name"
    assert reviewed[0] == {
        "text": f"Elle a dit: {words[1]}.",
        "spans": [],
        "accepted_proposal": False,
    }
    assert reviewed[1:] == [None, None, None]
    assert proposals[2] is None and sealed[2] is None  # the assistant never ran
    assert proposals[3] is None and sealed[3] is None  # erased with her key
    assert all(s.startswith("v1:d:") for s in sealed[:2])
    assert not {"redaction_proposal", "redaction_reviewed"} & columns
    for done in (2, 3):  # reports with a redaction text, two per batch
        assert f"Sealed the redactions of {done} of 3 reports" in caplog.text
    for word in words.values():
        assert word.encode() not in dumped


def test_existing_deliveries_carry_version_one_and_a_correction_may_follow_them(
    tmp_path_factory, test_keyring
):
    """20261207_versions_1: the unique (alert, recipient, channel) gains the version."""
    migrations = ScriptDirectory(str(Path(__file__).resolve().parents[2] / "migrations"))
    before = migrations.get_revision("20261207_versions_1").down_revision
    insert = text(
        "INSERT INTO deliveries (alert_id, purpose, recipient_key, channel, language, status,"
        " attempts, next_attempt_at, idempotency_key, created_at, updated_at{version})"
        " VALUES (4242, :purpose, 'o7', 'email', 'fr', 'sent', 1, :now, :key, :now, :now"
        "{value})"
    )
    now = dt.datetime(2026, 12, 1, 12, 0)
    with own_database(tmp_path_factory.mktemp("migration_db")) as url:
        instance = tmp_path_factory.mktemp("migration_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision=before)
            with db.engine.begin() as connection:
                statement = text(insert.text.format(version="", value=""))
                connection.execute(
                    statement, {"purpose": "alert", "now": now, "key": new_row_uid()}
                )
            upgrade(revision="heads")
            versioned = text(insert.text.format(version=", alert_version", value=", :version"))
            with db.engine.begin() as connection:
                kept = connection.execute(
                    text("SELECT alert_version FROM deliveries WHERE alert_id = 4242")
                ).scalar_one()
                connection.execute(
                    versioned,
                    {"purpose": "correction", "now": now, "key": new_row_uid(), "version": 2},
                )
            with pytest.raises(IntegrityError), db.engine.begin() as connection:
                connection.execute(
                    versioned,
                    {"purpose": "correction", "now": now, "key": new_row_uid(), "version": 2},
                )
            count = db.session.scalar(text("SELECT count(*) FROM deliveries"))
            db.session.remove()
            db.engine.dispose()
    assert kept == 1 and count == 2
