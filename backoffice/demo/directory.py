"""Demo data for the directory: ``backoffice/data/structures.csv`` through the import.

Loading the demo file through the same import as users proves the file is in the import
format and keeps one set of rules. Re-running the seed updates in place (stable codes).
"""

from __future__ import annotations

from pathlib import Path

from backoffice.demo.base import DemoContext
from backoffice.services import directory

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "structures.csv"


def seed_directory(context: DemoContext) -> None:
    report = directory.import_csv(DEMO_FILE.read_bytes(), source_kind="demo")
    if report.error or report.rejected:
        problems = report.error or "; ".join(
            f"line {r.line}: {', '.join(r.reasons)}" for r in report.rejected[:5]
        )
        raise RuntimeError(f"The demo directory does not import cleanly: {problems}")
    context.lines.append(
        f"Directory: {report.created} structures created, {report.updated} updated, "
        f"{report.unchanged} unchanged."
    )
