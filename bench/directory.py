"""Benchmark of the directory of structures on PostgreSQL: import, list, map feed and export.

Run from the repository root: ``.venv/bin/python bench/directory.py``. Creates its own
database on 127.0.0.1:5432 (``BENCH_POSTGRES_ADMIN_URL`` to change), imports the demo
directory, then grows it to 20,000 structures through four 5,000-line imports (the largest
file the import page accepts) and measures in-process with Flask's test client — server
time, no network — the list's first page (unfiltered, filtered, text search), the map's
marker feed for the whole of France, and the CSV export of everything. Prints
``name: value unit`` lines, then drops the database.
"""

from __future__ import annotations

import csv
import io
import time

import support

TARGET = 20_000
FILE_LINES = 5_000
RUNS = 20


def timed_import(raw: bytes) -> tuple[float, object]:
    from backoffice.extensions import db
    from backoffice.services.directory import import_csv

    start = time.perf_counter()
    report = import_csv(raw)
    db.session.commit()
    return time.perf_counter() - start, report


def scaled_files(demo: bytes, total: int) -> list[bytes]:
    """Copies of the demo lines with new codes and names, in files of FILE_LINES lines."""
    text = demo.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    columns = list(rows[0])
    files, lines = [], []
    copy = 0
    while len(lines) < total:
        lines.extend(
            {**row, "code": f"{row['code'][:70]}-c{copy}", "name": f"{row['name']} #{copy}"}
            for row in rows
        )
        copy += 1
    lines = lines[:total]
    for start in range(0, len(lines), FILE_LINES):
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=";")
        writer.writeheader()
        writer.writerows(lines[start : start + FILE_LINES])
        files.append(buffer.getvalue().encode("utf-8"))
    return files


def main() -> None:
    from backoffice.demo.directory import DEMO_FILE

    with support.temporary_database("bench_directory") as url:
        run(support.migrated_app(url, seed=True, WTF_CSRF_ENABLED=False), DEMO_FILE.read_bytes())


def run(app, demo: bytes) -> None:
    with app.app_context():
        seconds, report = timed_import(demo)
        support.report(
            f"directory_import_demo_{report.created}_lines", seconds * 1000, "ms", digits=0
        )
        seconds, report = timed_import(demo)
        support.report("directory_reimport_demo_unchanged", seconds * 1000, "ms", digits=0)
        slowest = 0.0
        for raw in scaled_files(demo, TARGET - report.unchanged):
            seconds, _report = timed_import(raw)
            slowest = max(slowest, seconds)
        support.report(f"directory_import_{FILE_LINES}_lines_slowest", slowest, "s", digits=2)
    client = support.signed_in(app, "demo-social-a")
    pages = {
        "list_first_page": "/directory/",
        "list_filtered_75_pep": "/directory/?department=75&service=pep",
        "list_text_search": "/directory/?q=saint+denis",
        "map_markers_all": "/directory/map/markers.json",
        "map_page": "/directory/map",
        "export_all": "/directory/export.csv",
    }
    support.report("directory_structures", TARGET, "rows")
    for label, url in pages.items():
        timings = support.time_get(client, url, RUNS, warm_up=3)
        support.report_timings(f"directory_{label}", timings)


if __name__ == "__main__":
    main()
