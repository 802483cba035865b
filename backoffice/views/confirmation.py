"""The confirmation step of the actions that cannot be undone (issue 18.1).

Publishing, retracting, rejecting, merging, unsubscribing and transferring first show a page
rendered by the server (it works without JavaScript) that says what will happen, with one
button that posts the same form again plus ``confirmed=1``. A POST without it does nothing
but show that page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import request
from flask_appbuilder import BaseView

TEMPLATE = "moderation/confirm.html"


def confirmed() -> bool:
    """The form comes from the confirmation page."""
    return request.form.get("confirmed") == "1"


def _pairs(hidden: Mapping | Iterable) -> list[tuple[str, str]]:
    items = hidden.items() if isinstance(hidden, Mapping) else hidden
    return [(str(name), "" if value is None else str(value)) for name, value in items]


def resent_form(*names: str) -> list[tuple[str, str]]:
    """The posted values of ``names`` (every value of a repeated field), to post again."""
    return [(name, value) for name in names for value in request.form.getlist(name)]


def page(view: BaseView, **context):
    """The confirmation page: ``title``, ``consequences`` (or ``blocking``), ``action``,
    ``hidden`` (a mapping or pairs), ``submit``, ``back``; optionally ``reason_label``."""
    context["hidden"] = _pairs(context.get("hidden") or {})
    context.setdefault("blocking", [])
    context.setdefault("reason_label", None)
    return view.render_template(TEMPLATE, **context)
