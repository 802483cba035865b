"""Data migrations run on a database that holds data, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt

from flask_migrate import upgrade
from sqlalchemy import text

from backoffice.extensions import db
from backoffice.models.outreach import MESSAGE_PURPOSES
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.services.worker_texts import outreach_text
from tests.conftest import make_app, own_database


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
