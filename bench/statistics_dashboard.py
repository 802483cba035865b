"""Statistics at scale: the dashboard for one year over 1,000,000 reports, and the yearly PDF.

Creates its own PostgreSQL database on 127.0.0.1:5432 (schema from the migrations), fills it
in SQL with ``generate_series`` — 1,000,000 reports over 2024–2025 with a realistic spread of
departments, violence types, channels and statuses, their moderation history (claim,
decision, publication, expiry), one alert per published report, identifier checks, cases,
needs, referrals, subscribers and outreach rounds — then measures:

* ``dashboard_one_year_1m``: server time of ``GET /statistics/`` for 2025 as a Coordinator
  (median of three warm runs; the first, cold run is printed too);
* ``dashboard_one_year_1m_department``: the same dashboard for one department (median and
  p95 over eight departments, from Paris to Creuse and Guadeloupe, twice each; then Paris
  alone, five times). Target: under 500 ms. It reads the rollup's department rows;
* ``…_3_days_changed``: Paris and the programme again once reports of the last three days
  changed after the rollup's refresh (those days are then computed live);
* ``funder_report_yearly``: building the 2025 funder report PDF (French).

Before measuring, the statistics rollup is rebuilt as the nightly ``statistics_rebuild`` job
does (``statistics_rollup_rebuild_1m`` and the rollup's size are printed too).

The database is dropped at the end (``--keep`` keeps it and prints its URL; ``--reuse URL``
migrates an existing one to the head, rebuilds its rollup and measures it; with
``--measure-only``, measures it as it is).

    .venv/bin/python bench/statistics_dashboard.py [--reports 1000000] [--keep] [--reuse URL]
"""

# ruff: noqa: S608 - the bench's SQL is assembled from this file's own constants only
from __future__ import annotations

import argparse
import logging
import statistics
import time

import support
from sqlalchemy import text as sql_text

SETTINGS = {"WTF_CSRF_ENABLED": False}

# Weighted vocabularies (value, weight): Paris and the big cities dominate, as in the programme.
HEAVY_DEPARTMENTS = {
    "75": 30, "13": 8, "69": 6, "93": 6, "31": 4, "33": 4, "59": 4, "06": 4, "34": 3, "44": 3,
    "67": 3, "92": 3, "94": 3, "95": 2, "77": 2, "78": 2, "91": 2, "38": 2, "35": 2,
}  # fmt: skip
TYPE_COMBOS = [
    ('["theft"]', "risky", 14), ('["non_payment"]', "risky", 12),
    ('["condom_removal"]', "risky", 8), ('["rape"]', "dangerous", 7),
    ('["physical_assault"]', "dangerous", 6), ('["armed_robbery", "theft"]', "dangerous", 5),
    ('["harassment"]', "dangerous", 5), ('["cyber_harassment"]', "dangerous", 4),
    ('["threats"]', "dangerous", 4), ('["attempted_rape"]', "dangerous", 3),
    ('["rape", "physical_assault"]', "dangerous", 3), ('["condom_removal", "theft"]', "risky", 3),
    ('["sexual_assault"]', "dangerous", 3), ('["attempted_murder"]', "dangerous", 1),
    ('["outing", "threats"]', "dangerous", 1), ('["other"]', "nuisance", 6),
    ('["non_payment", "threats"]', "dangerous", 2),
]  # fmt: skip
STATUSES = {
    "published": 30, "archived": 20, "recorded": 20, "rejected": 7, "merged": 2,
    "approved": 2, "received": 8, "in_review": 3, "needs_info": 2,
}  # fmt: skip
CHANNELS = {"web": 40, "app": 35, "partner": 15, "phone": 5, "sms": 3, "email": 2}
LANGUAGES = {
    "fr": 45, "es": 15, "pt": 10, "ro": 8, "zh": 7, "bg": 5, "ru": 4, "uk": 3, "ar": 2,
    "en": 1, "": 5,
}  # fmt: skip
CONTEXTS = {
    "indoor_home": 35, "client_home": 20, "indoor_hotel": 15, "online": 10, "car": 8,
    "street": 7, "other": 2, "": 3,
}  # fmt: skip
RELATIONS = {"self": 75, "peer": 10, "partner": 15}


def _array(weights: dict[str, int]) -> str:
    """A SQL text array where each value appears as often as its weight."""
    items = [value for value, weight in weights.items() for _ in range(weight)]
    return "ARRAY[" + ",".join(f"'{v}'" for v in items) + "]::text[]"


def _pick(weights: dict[str, int], seed: str) -> str:
    """A weighted choice driven by a per-row pseudo-random number ``seed`` in [0, 1)."""
    size = sum(weights.values())
    return f"({_array(weights)})[1 + floor({seed} * {size})::int]"


def _departments() -> dict[str, int]:
    from backoffice.services.vocabulary import DEPARTMENTS

    return {d: HEAVY_DEPARTMENTS.get(d, 1) for d in DEPARTMENTS}


def _rand(column: str, salt: int) -> str:
    """A deterministic pseudo-random number in [0, 1) from an integer column."""
    return f"((hashint4(({column} * {salt})::int4) & 2147483647)::float8 / 2147483648.0)"


def fill(connection, reports: int) -> None:
    combos = [(j, s) for j, s, w in TYPE_COMBOS for _ in range(w)]
    types = "ARRAY[" + ",".join(f"'{j}'" for j, _s in combos) + "]::text[]"
    severities = "ARRAY[" + ",".join(f"'{s}'" for _j, s in combos) + "]::text[]"
    n_combos = len(combos)
    orgs = [row[0] for row in connection.execute("SELECT id FROM organisations ORDER BY id")]
    org_array = "ARRAY[" + ",".join(str(o) for o in orgs) + "]::int[]"
    steps = [
        (
            "reports",
            f"""
        INSERT INTO reports (reference, status, version_id, channel, language, incident_date,
            date_precision, department, work_context, violence_types, severity, narrative_sealed,
            aggressor_description, vehicle, consent_publish_alert, consent_follow_up,
            consent_share_with_partner, consent_statistics, consent_police_or_lawyer,
            reporter_relation, filing_organisation_id, received_at, redaction_status, row_uid,
            created_at, updated_at, status_changed_at)
        SELECT 'J-B-' || g, {_pick(STATUSES, "r1")}, 1, {_pick(CHANNELS, "r2")},
            nullif({_pick(LANGUAGES, "r3")}, ''), (at - interval '2 days')::date, 'day',
            {_pick(_departments(), "r4")}, nullif({_pick(CONTEXTS, "r5")}, ''),
            ({types})[1 + floor(r6 * {n_combos})::int]::json,
            ({severities})[1 + floor(r6 * {n_combos})::int],
            NULL, '{{}}'::json, '{{}}'::json, r7 < 0.8, r7 < 0.15, false,
            r8 < 0.93, false, {_pick(RELATIONS, "r9")},
            CASE WHEN r9 > 0.85 THEN ({org_array})[1 + (g % {len(orgs)})] END,
            at, 'proposed', md5('r' || g), at, at, at
        FROM (
            SELECT g, random() r1, random() r2, random() r3, random() r4, random() r5,
                random() r6, random() r7, random() r8, random() r9,
                timestamp '2024-01-01' + sqrt(random()) * interval '730 days' AS at
            FROM generate_series(1, {reports}) g
        ) s""",
        ),
        (
            "claim events",
            f"""
        INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
            to_status, details)
        SELECT id, received_at + ({_rand("id", 3)} * 30) * interval '1 hour', 'bench', 'claim',
            'received', 'in_review', '{{}}'::json
        FROM reports WHERE status <> 'received'""",
        ),
        (
            "decision events",
            f"""
        INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
            to_status, details)
        SELECT id, received_at + ({_rand("id", 3)} * 30 + 1 + {_rand("id", 5)} * 40)
                * interval '1 hour', 'bench',
            CASE status WHEN 'recorded' THEN 'record_only' WHEN 'rejected' THEN 'reject'
                WHEN 'merged' THEN 'merge' ELSE 'approve' END,
            'in_review',
            CASE status WHEN 'recorded' THEN 'recorded' WHEN 'rejected' THEN 'rejected'
                WHEN 'merged' THEN 'merged' ELSE 'approved' END, '{{}}'::json
        FROM reports
        WHERE status IN ('approved', 'published', 'archived', 'recorded', 'rejected', 'merged')""",
        ),
        (
            "publication events",
            f"""
        INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
            to_status, details)
        SELECT id, received_at + ({_rand("id", 3)} * 30 + 2 + {_rand("id", 5)} * 40
                + {_rand("id", 7)} * 24) * interval '1 hour', 'bench', 'publish', 'approved',
            'published', '{{}}'::json
        FROM reports WHERE status IN ('published', 'archived')""",
        ),
        (
            "expiry events",
            f"""
        INSERT INTO report_events (report_id, occurred_at, actor_name, action, from_status,
            to_status, details)
        SELECT id, received_at + interval '90 days', 'system',
            CASE WHEN {_rand("id", 11)} < 0.15 THEN 'retract' ELSE 'expire' END, 'published',
            'archived', '{{}}'::json
        FROM reports WHERE status = 'archived'""",
        ),
        (
            "alerts",
            f"""
        INSERT INTO alerts (reference, status, version_id, severity, violence_types, departments,
            incident_date, date_precision, aggressor_description, vehicle, reports_count,
            published_at, expires_at, retracted_at, archived_at, created_at, updated_at)
        SELECT 'A-B-' || id,
            CASE WHEN status = 'published' THEN 'published'
                 WHEN {_rand("id", 11)} < 0.15 THEN 'retracted' ELSE 'archived' END,
            1, severity, violence_types, json_build_array(department), incident_date, 'day',
            '{{}}'::json, '{{}}'::json, 1, pub, pub + interval '90 days',
            CASE WHEN status = 'archived' AND {_rand("id", 11)} < 0.15
                 THEN received_at + interval '90 days' END,
            CASE WHEN status = 'archived' AND {_rand("id", 11)} >= 0.15
                 THEN received_at + interval '90 days' END,
            pub, pub
        FROM (SELECT *, received_at + ({_rand("id", 3)} * 30 + 2 + {_rand("id", 5)} * 40
                + {_rand("id", 7)} * 24) * interval '1 hour' AS pub
              FROM reports WHERE status IN ('published', 'archived')) r""",
        ),
        (
            "alert links",
            """
        INSERT INTO alert_reports (alert_id, report_id, added_at)
        SELECT a.id, r.id, a.created_at FROM alerts a
        JOIN reports r ON r.reference = 'J-B-' || substr(a.reference, 5)
        WHERE a.reference LIKE 'A-B-%'""",
        ),
        (
            "alert departments",
            """
        INSERT INTO alert_departments (alert_id, department)
        SELECT id, departments->>0 FROM alerts WHERE reference LIKE 'A-B-%'""",
        ),
        (
            "identifier checks",
            """
        INSERT INTO identifier_checks (month, kind, matched, source, api_client_id, count)
        SELECT m::date, k, x, s, 0, (200 + random() * 3000)::int * CASE WHEN x THEN 1 ELSE 9 END
        FROM generate_series(date '2024-01-01', date '2025-12-01', interval '1 month') m,
            unnest(ARRAY['phone', 'email', 'plate', 'pseudonym', 'url']) k,
            unnest(ARRAY[true, false]) x, unnest(ARRAY['api', 'backoffice']) s""",
        ),
        (
            "structures",
            f"""
        INSERT INTO structures (code, name, category, city, department, location_approximate,
            trained_on_sex_work, active, search_key, source_kind, created_at, updated_at)
        SELECT 'bench-' || g, 'Structure ' || g,
            (ARRAY['community','allied','cegidd','hospital','lawyer','shelter','police','other'])
                [1 + g % 8], 'Ville', {_pick(_departments(), "random()")}, false, g % 3 = 0,
            true, 'structure ' || g, 'form', now(), now()
        FROM generate_series(1, 400) g""",
        ),
        (
            "routed cases",
            f"""
        INSERT INTO cases (reference, status, source, report_id, opened_at, closed_at, outcome,
            department, violence_types, consent_follow_up, intake_consent_share, version_id,
            row_uid, organisation_id, created_at, updated_at)
        SELECT 'C-B-' || id, st, 'routed', id, opened,
            CASE WHEN st = 'closed' THEN opened + interval '30 days' END,
            CASE WHEN st = 'closed' THEN (ARRAY['needs_met','partially_met','person_declined',
                'lost_contact','moved_away'])[1 + (id % 5)] END,
            department, violence_types, true, false, 1, md5('c' || id),
            ({org_array})[1 + (id % {len(orgs)})], opened, opened
        FROM (SELECT *, received_at + ({_rand("id", 13)} * 72) * interval '1 hour' AS opened,
                (ARRAY['open','active','waiting','closed','closed','closed'])[1 + (id % 6)] st
              FROM reports WHERE consent_follow_up AND status NOT IN ('rejected', 'merged')) r""",
        ),
        (
            "case needs",
            """
        INSERT INTO case_needs (case_id, need, status, updated_at)
        SELECT c.id, n, 'identified', c.opened_at FROM cases c,
            unnest(ARRAY['health','legal','shelter','psychological','administrative','financial'])
                WITH ORDINALITY AS u(n, i)
        WHERE c.reference LIKE 'C-B-%' AND (hashint4(c.id * 17 + i::int) & 7) < 3""",
        ),
        (
            "referrals",
            f"""
        INSERT INTO referrals (case_id, structure_id, need, status, status_changed_at, row_uid,
            organisation_id, created_at, updated_at)
        SELECT c.id, (SELECT min(id) FROM structures WHERE code LIKE 'bench-%')
                + (hashint4(c.id) & 255) % 400,
            (ARRAY['health','legal','shelter','psychological'])[1 + (c.id % 4)],
            (ARRAY['proposed','accepted','appointment','done','done','declined'])[1 + (c.id % 6)],
            c.opened_at + interval '2 days', md5('f' || c.id), c.organisation_id,
            c.opened_at + interval '1 day', c.opened_at + interval '1 day'
        FROM cases c WHERE c.reference LIKE 'C-B-%' AND {_rand("c.id", 19)} < 0.8""",
        ),
        (
            "subscribers",
            f"""
        INSERT INTO subscribers (pseudonym_sealed, language, all_departments, status,
            unsubscribe_salt, unsubscribe_token_hash, validated_at, unsubscribed_at,
            organisation_id, row_uid, created_at, updated_at)
        SELECT 'bench-' || g, coalesce(nullif({_pick(LANGUAGES, "random()")}, ''), 'fr'),
            g % 10 = 0, CASE WHEN g % 11 = 0 THEN 'unsubscribed' ELSE 'active' END,
            md5('s' || g), md5('t' || g), at,
            CASE WHEN g % 11 = 0 THEN at + interval '120 days' END,
            ({org_array})[1 + (g % {len(orgs)})], md5('u' || g), at, at
        FROM (SELECT g, timestamp '2023-01-01' + sqrt(random()) * interval '1095 days' AS at
              FROM generate_series(1, 60000) g) s""",
        ),
        (
            "subscriber departments",
            f"""
        INSERT INTO subscriber_departments (subscriber_id, department)
        SELECT DISTINCT id, {_pick(_departments(), _rand("id * k", 23))}
        FROM subscribers, generate_series(1, 2) k
        WHERE pseudonym_sealed LIKE 'bench-%' AND NOT all_departments""",
        ),
        (
            "outreach rounds",
            f"""
        INSERT INTO outreach_sessions (session_date, department, status, organisation_id,
            row_uid, created_at, updated_at)
        SELECT date '2024-01-01' + (g % 730), {_pick(_departments(), "random()")}, 'closed',
            ({org_array})[1 + (g % {len(orgs)})], md5('o' || g), now(), now()
        FROM generate_series(1, 3000) g""",
        ),
        (
            "outreach outcomes",
            """
        INSERT INTO outreach_outcomes (session_id, kind, occurred_at, organisation_id,
            created_at, updated_at)
        SELECT s.id, (ARRAY['message_sent','message_sent','message_sent','reply','call',
                'registration','referral'])[1 + (k % 7)],
            s.session_date + interval '20 hours', s.organisation_id, now(), now()
        FROM outreach_sessions s, generate_series(1, 25) k
        WHERE (hashint4(s.id * 31 + k) & 3) < 3""",
        ),
    ]
    for name, sql in steps:
        started = time.perf_counter()
        connection.execute(sql)
        connection.commit()
        print(f"  filled {name} in {time.perf_counter() - started:.1f} s", flush=True)
    # Index-only scans need the visibility map; production has autovacuum for that.
    connection.autocommit = True
    connection.execute("VACUUM ANALYZE")


def prepare(url: str, reports: int):
    """The migrated, seeded and filled database's application."""
    app = support.migrated_app(url, seed=True, **SETTINGS)
    started = time.perf_counter()
    with support.connect(url) as connection:
        fill(connection, reports)
    print(f"  data ready in {time.perf_counter() - started:.1f} s", flush=True)
    return app


def rebuild_rollup(app) -> None:
    from backoffice.extensions import db
    from backoffice.services.statistics import rebuild_rollup as rebuild
    from backoffice.transactions import unit_of_work

    with app.app_context():
        started = time.perf_counter()
        with unit_of_work():
            rebuild()
        elapsed = time.perf_counter() - started
        rows = db.session.execute(sql_text("SELECT count(*) FROM statistics_daily")).scalar()
    support.report("statistics_rollup_rebuild_1m", elapsed, "s")
    support.report("statistics_rollup_rows", rows, "rows")
    with support.connect(app.config["SQLALCHEMY_DATABASE_URI"]) as connection:
        connection.autocommit = True
        connection.execute("VACUUM ANALYZE statistics_daily")


DEPARTMENTS = ["75", "13", "93", "69", "59", "2A", "23", "971"]


def measure_pages(app) -> None:
    client = support.signed_in(app, "demo-coordinator")
    year = "/statistics/?start=2025-01-01&end=2025-12-31"
    timings = support.time_get(client, year, 4)
    support.report("dashboard_one_year_1m_cold", timings[0], "ms", digits=0)
    support.report("dashboard_one_year_1m", statistics.median(timings[1:]), "ms", digits=0)
    cold = support.time_get(client, f"{year}&department=75", 1)
    support.report("dashboard_one_year_1m_department_cold", cold[0], "ms", digits=0)
    timings = []
    for _round in range(2):
        for code in DEPARTMENTS:
            timings += support.time_get(client, f"{year}&department={code}", 1)
    support.report_timings("dashboard_one_year_1m_department", timings, digits=0)
    paris = support.time_get(client, f"{year}&department=75", 5)
    support.report_timings("dashboard_one_year_1m_department_75", paris, digits=0)

    measure_with_changes(app, client, year)

    from backoffice.services.statistics import Period
    from reports_pdf import funder_report

    with app.test_request_context():
        started = time.perf_counter()
        pdf = funder_report.render(Period.year(2025), "fr")
        elapsed = time.perf_counter() - started
    support.report("funder_report_yearly", elapsed, f"s ({len(pdf) // 1024} KiB)", digits=2)


def measure_with_changes(app, client, year: str) -> None:
    """Between two refreshes of the rollup: reports of the last three days changed since the
    last one (their days are computed live, the rest read from the rollup)."""
    with support.connect(app.config["SQLALCHEMY_DATABASE_URI"]) as connection:
        connection.execute(
            "UPDATE reports SET updated_at = now() AT TIME ZONE 'utc' WHERE id IN (SELECT id "
            "FROM reports WHERE received_at >= '2025-12-29' ORDER BY id LIMIT 300)"
        )
        connection.commit()
    paris = support.time_get(client, f"{year}&department=75", 5)
    support.report_timings("dashboard_one_year_1m_department_75_3_days_changed", paris, digits=0)
    programme = support.time_get(client, year, 5)
    support.report_timings("dashboard_one_year_1m_3_days_changed", programme, digits=0)


def main() -> None:
    # FAB logs every permission at the first start, before the roles exist: not our figures.
    logging.getLogger("flask_appbuilder").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", help="measure an existing database (URL)")
    parser.add_argument(
        "--measure-only", action="store_true", help="with --reuse: no migration, no rebuild"
    )
    arguments = parser.parse_args()
    if arguments.reuse:
        from flask_migrate import upgrade

        try:
            if not arguments.measure_only:
                app = support.bench_app(arguments.reuse, **SETTINGS)
                with app.app_context():
                    upgrade(revision="heads")
                rebuild_rollup(support.bench_app(arguments.reuse, **SETTINGS))
            measure_pages(support.bench_app(arguments.reuse, **SETTINGS))
        finally:
            print(f"database kept: {arguments.reuse}")
        return
    with support.temporary_database("bench_statistics", keep=arguments.keep) as url:
        try:
            keys = prepare(url, arguments.reports).config["BACKOFFICE_KEYS"]
            # A new application per step, as a restart would give (the first page is cold).
            rebuild_rollup(support.bench_app(url, keys, **SETTINGS))
            measure_pages(support.bench_app(url, keys, **SETTINGS))
        finally:
            if arguments.keep:
                print(f"database kept: {url}")


if __name__ == "__main__":
    main()
