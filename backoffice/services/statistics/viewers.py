"""Who sees which figures: the scope of a computation and what a user's statistics are made of.

Programme-wide figures (every organisation, aggregated, suppressed) for whoever may
``read_all_statistics``; her own organisation's figures (as they are on screen, suppressed in
exports) for whoever may ``read_own_statistics``. Rows are limited to an organisation by the
project's one scoping rule (``security.scope_condition``), in ``sources``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from backoffice import security
from backoffice.services import suppression
from backoffice.services.statistics.periods import Period, PeriodError
from backoffice.services.vocabulary import DEPARTMENTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    period: Period
    department: str | None = None
    organisation_id: int | None = None  # None: every organisation

    def __post_init__(self) -> None:
        if self.department is not None and self.department not in DEPARTMENTS:
            raise PeriodError(_l("Unknown department."))


@dataclass(frozen=True)
class Viewer:
    """What a user's statistics are made of."""

    organisation_id: int | None
    screen_threshold: int | None  # None: figures shown as they are
    export_threshold: int

    @property
    def programme_wide(self) -> bool:
        return self.organisation_id is None


def threshold() -> int:
    """The small-cell threshold k; a setting too low to protect anyone is raised, loudly."""
    configured = suppression.DEFAULT_THRESHOLD
    if has_app_context():
        configured = current_app.config.get("STATS_SUPPRESSION_THRESHOLD", configured)
    try:
        return suppression.check_threshold(configured)
    except (TypeError, ValueError):
        log.error(
            "STATS_SUPPRESSION_THRESHOLD=%r cannot protect small counts; using %d",
            configured,
            suppression.DEFAULT_THRESHOLD,
        )
        return suppression.DEFAULT_THRESHOLD


def viewer_for(user) -> Viewer | None:
    """None when the user may not see statistics (or may see her own organisation's and has
    none)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    k = threshold()
    if security.can("read_all_statistics", user):
        return Viewer(organisation_id=None, screen_threshold=k, export_threshold=k)
    organisation_id = security.organisation_of(user)
    if security.can("read_own_statistics", user) and organisation_id is not None:
        return Viewer(organisation_id=organisation_id, screen_threshold=None, export_threshold=k)
    return None
