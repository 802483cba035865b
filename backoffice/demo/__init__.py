"""Demo data, so that a newcomer sees a living back office after ``make run``.

``flask --app wsgi demo seed`` runs ``seed``: the organisations, users and API client of
``base``, then each area's seeder in ``SEEDERS`` order (later areas build on earlier ones:
moderation publishes the intake's reports, dispatch fans out the published alerts). Every
seeder goes through the real services, so demo data obeys the same rules as real data.

Only the command line and the tests import this package; no view or service does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from backoffice.demo import cases, directory, dispatch, intake, moderation, outreach
from backoffice.demo.base import (
    ACCEPTESS,
    AIDES,
    JASMINE,
    ORGANISATIONS,
    USERS,
    DemoContext,
    api_client,
    demo_password,
    seed_base,
)
from backoffice.extensions import db
from backoffice.models.organisation import Organisation
from backoffice.transactions import checkpoint

__all__ = ["ACCEPTESS", "AIDES", "JASMINE", "ORGANISATIONS", "USERS", "DemoContext"]
__all__ += ["SEEDERS", "seed", "seed_base"]

SEEDERS: list[Callable[[DemoContext], None]] = [
    directory.seed_directory,
    outreach.seed_outreach,
    intake.seed_reports,
    moderation.seed_moderation,
    cases.seed_cases,
    dispatch.seed_dispatch,
]


def seed(only_if_empty: bool = False) -> str | None:
    """Everything a newcomer needs: organisations, users, API client and area data.

    Each seeder's work is kept as it finishes (a long seed interrupted half-way keeps what
    was done; seeders skip what exists when run again).
    """
    demo_password()  # refuses outside development, before anything is read or written
    if only_if_empty and db.session.scalar(select(func.count(Organisation.id))):
        return None
    context = seed_base()
    key = api_client()
    checkpoint()
    for seeder in SEEDERS:
        seeder(context)
        checkpoint()
    lines = [
        f"Demo API key (client demo-website): {key}",
        f"  also written to {Path(current_app.instance_path) / 'demo_api_key.txt'}",
        *context.lines,
    ]
    return "\n".join(lines)
