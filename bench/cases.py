"""Benchmark of the case pages on PostgreSQL: a case with 200 notes, and the case list.

Run from the repository root: ``.venv/bin/python bench/cases.py``. Creates its own database
on 127.0.0.1:5432 (``BENCH_POSTGRES_ADMIN_URL`` to change), fills it with 50,000 cases
across the three demo associations (each with its own data key and sealed contact details,
like real ones) and one case with 200 notes, then measures in-process with Flask's test
client — server time, no network: opening that case page (every note decrypted and audited)
and the first page of the case list, and counts each page's SQL statements (SQLAlchemy's
``before_cursor_execute`` event). Prints ``name: value unit`` lines, then drops the database.
Targets: the case page with 200 notes in at most 10 queries and p95 under 60 ms (its query
count is also asserted, whatever the notes, by ``tests/integration/test_cases_views.py``);
the list's first page under 200 ms.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import time
import uuid

import support

CASES = 50_000
NOTES = 200
RUNS = 30
WARM_UP = 3
BATCH = 5_000


def fill_cases(app) -> None:
    """50,000 cases spread over the associations, inserted in bulk with sealed contacts."""
    from sqlalchemy import insert, select, text

    from backoffice.extensions import db
    from backoffice.models.case import Case, CaseNeed
    from backoffice.models.keys import DataKey
    from backoffice.models.organisation import Organisation
    from backoffice.services.crypto import associated_data, seal_with_data_key

    rng = random.Random(2026)  # reproducible bench data
    with app.app_context():
        keyring = app.extensions["keyring"]
        organisations = db.session.scalars(select(Organisation.id)).all()
        now = dt.datetime(2026, 11, 20, 12, 0)
        for start in range(0, CASES, BATCH):
            keys, rows, needs = [], [], []
            for number in range(start + 1, min(start + BATCH, CASES) + 1):
                dek, wrapped = keyring.new_data_key()
                keys.append(
                    {
                        "id": number,
                        "purpose": "cases",
                        "wrapped_key": wrapped,
                        "root_key_id": keyring.active_id,
                        "created_at": now,
                    }
                )
                organisation = organisations[number % len(organisations)]
                row_uid = uuid.uuid4().hex

                def seal(field, value, dek=dek, key=number, row_uid=row_uid, org=organisation):
                    return seal_with_data_key(
                        dek, key, value, associated_data("cases", field, row_uid, org)
                    )

                opened = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 700))
                rows.append(
                    {
                        "id": number,
                        "reference": f"C-2025-{number:06d}",
                        "row_uid": row_uid,
                        "data_key_id": number,
                        "organisation_id": organisation,
                        "status": rng.choice(["open", "active", "active", "waiting", "closed"]),
                        "source": "direct",
                        "opened_at": opened,
                        "violence_types": ["theft"],
                        "department": "75",
                        "consent_follow_up": True,
                        "intake_consent_share": False,
                        "victim_name_sealed": seal("victim_name", f"Personne {number}"),
                        "victim_phone_sealed": seal("victim_phone", f"+3361{number:07d}"),
                        "version_id": 1,
                        "created_at": opened,
                        "updated_at": opened,
                    }
                )
                for need in rng.sample(["health", "legal", "shelter", "financial"], 2):
                    needs.append(
                        {
                            "case_id": number,
                            "need": need,
                            "status": "identified",
                            "updated_at": opened,
                        }
                    )
            db.session.execute(insert(DataKey.__table__), keys)
            db.session.execute(insert(Case.__table__), rows)
            db.session.execute(insert(CaseNeed.__table__), needs)
            db.session.commit()
        for table in ("data_keys", "cases"):
            db.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
            )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def case_with_notes(app) -> int:
    from backoffice.extensions import db
    from backoffice.models.base import utcnow
    from backoffice.services import cases
    from tests.integration.cases_support import user

    with app.app_context():
        worker = user("demo-social-a")
        case = cases.open_direct(
            worker,
            cases.Contact(name="Lila", phone="06 12 34 56 78", preferred_language="pt"),
            cases.CaseFacts(department="75", violence_types=["theft"]),
            ["health", "legal"],
            worker.id,
            True,
        )
        for number in range(NOTES):
            cases.add_note(
                case, f"Note de suivi {number} : " + "entretien, orientation. " * 12, worker
            )
        start = utcnow() - dt.timedelta(days=60)
        for index, note in enumerate(case_notes(case.id)):
            note.created_at = start + dt.timedelta(hours=index)
        db.session.commit()
        return case.id


def case_notes(case_id: int):
    from sqlalchemy import select

    from backoffice.extensions import db
    from backoffice.models.case import CaseNote

    return db.session.scalars(select(CaseNote).where(CaseNote.case_id == case_id)).all()


def count_queries(app, client, url: str) -> int:
    from sqlalchemy import event

    from backoffice.extensions import db

    with app.app_context():
        engine = db.engine
    statements = []

    def listener(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def main() -> None:
    with support.temporary_database("bench_cases") as url:
        run(url)


def run(database_url: str) -> None:
    start = time.perf_counter()
    app = support.migrated_app(database_url, seed=True, WTF_CSRF_ENABLED=False)
    fill_cases(app)
    case_id = case_with_notes(app)
    support.report("cases_bench_setup", time.perf_counter() - start, f"s ({CASES} cases)")

    client = support.signed_in(app, "demo-social-a")
    page = support.time_get(
        client, f"/cases/{case_id}", RUNS, warm_up=WARM_UP, contains="Note de suivi 199"
    )
    support.report_timings("case_page_200_notes", page)
    support.report("case_page_200_notes_queries", count_queries(app, client, f"/cases/{case_id}"))

    listing = support.time_get(client, "/cases/", RUNS, warm_up=WARM_UP, contains="C-20")
    support.report_timings("case_list_first_page", listing)
    support.report("case_list_first_page_queries", count_queries(app, client, "/cases/"))
    search = support.time_get(
        client,
        "/cases/?need=legal&status=all&reference=2025-0001",
        RUNS,
        warm_up=WARM_UP,
        contains="C-20",
    )
    support.report("case_search_need_reference_median", statistics.median(search), "ms")


if __name__ == "__main__":
    main()
