"""Outreach batch check: 200 pasted numbers against 1,000,000 earlier contacts.

Creates its own PostgreSQL database on 127.0.0.1:5432 (``BENCH_POSTGRES_ADMIN_URL`` to
change it), migrates it, loads one million contacts of one organisation with COPY (blind
indexes computed with the run's own keys; display values left empty, as after a session is
closed), then times ``services.outreach.check_batch`` — the function the session page calls —
on a paste of 200 lines in mixed spellings (half already contacted), 20 runs, and drops the
database.

    .venv/bin/python bench/outreach_check.py [--contacts 1000000] [--runs 20]

Prints ``outreach_check_200_median: X ms`` and ``outreach_check_200_p95: X ms``.
Target: under 200 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
import uuid

import support

from backoffice.security import acting_for

SESSIONS = 500
BATCH = 200


def _national(number: int) -> str:
    """06 + 8 digits from an integer below 10**8 (06 10… to 06 38… are all valid)."""
    digits = f"06{10 + number // 10**6 % 29:02d}{number % 10**6:06d}"
    return digits


def _spell(digits: str, style: int) -> str:
    rest = digits[1:]
    if style == 0:
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    if style == 1:
        return "+33 " + rest[0] + " " + " ".join(rest[i : i + 2] for i in range(1, 9, 2))
    if style == 2:
        return "0033" + rest
    return ".".join(digits[i : i + 2] for i in range(0, 10, 2))


def _setup(app) -> tuple[int, int]:
    """One organisation and its sessions; returns (organisation id, first session id)."""
    from backoffice.extensions import db
    from backoffice.models.organisation import Organisation
    from backoffice.models.outreach import OutreachSession

    with app.app_context():
        organisation = Organisation(name="Bench association", kind="community", departments=["75"])
        db.session.add(organisation)
        db.session.flush()
        sessions = [
            OutreachSession(
                organisation_id=organisation.id,
                session_date=dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                department="75",
                status="closed",
            )
            for i in range(SESSIONS)
        ]
        db.session.add_all(sessions)
        db.session.commit()
        return organisation.id, sessions[0].id


def _load_contacts(app, url: str, organisation_id: int, first_session: int, count: int) -> float:
    from backoffice.services.outreach import blind_index

    started = time.perf_counter()
    now = dt.datetime(2026, 6, 1)
    columns = ["organisation_id", "session_id", "kind", "blind_index", "row_uid", "contacted_at"]
    rows = (
        (
            organisation_id,
            first_session + number % SESSIONS,
            "phone",
            blind_index("phone", "+33" + _national(number)[1:]),
            uuid.uuid4().hex,
            now,
        )
        for number in range(count)
    )
    with app.app_context(), support.connect(url) as connection:
        support.copy_rows(connection, "outreach_contacts", columns, rows)
        connection.execute("ANALYZE outreach_contacts")
        connection.commit()
    return time.perf_counter() - started


def _paste(count: int) -> str:
    rng = random.Random(7)
    known = [_national(n) for n in rng.sample(range(count), BATCH // 2)]
    new = [_national(count + n) for n in rng.sample(range(10**7), BATCH - BATCH // 2)]
    lines = [_spell(digits, i % 4) for i, digits in enumerate(known + new)]
    rng.shuffle(lines)
    return "\n".join(lines)


def _time_checks(app, organisation_id: int, paste: str, runs: int) -> list[float]:
    from backoffice.extensions import db
    from backoffice.services.outreach import check_batch

    with app.app_context():
        result = check_batch(paste, acting_for(organisation_id))  # warm-up: connection, caches
        counts = result.counts
        assert counts["known"] == BATCH // 2 and counts["new"] == BATCH - BATCH // 2, counts
        return support.measure(
            lambda: check_batch(paste, acting_for(organisation_id)),
            runs,
            after=lambda _result: db.session.rollback(),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with support.temporary_database("bench_outreach") as url:
        app = support.migrated_app(url, FAB_UPDATE_PERMS=False)
        organisation_id, first_session = _setup(app)
        load = _load_contacts(app, url, organisation_id, first_session, args.contacts)
        support.report("outreach_contacts_loaded", args.contacts, f"rows in {load:.1f} s")
        timings = _time_checks(app, organisation_id, _paste(args.contacts), args.runs)
        support.report_timings("outreach_check_200", timings)


if __name__ == "__main__":
    main()
