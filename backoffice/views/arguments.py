"""Reading query-string and form values that must be numbers: one rule for every view.

A value that is absent, not made of digits, or absurdly long gives the default; pages are
never below 1. Nothing here raises, so a hostile value never becomes a 500.
"""

from __future__ import annotations

import re

from flask import abort, current_app, request

_MAX_DIGITS = 9


def parse_int(value: str | None, default: int | None = None) -> int | None:
    """``value`` as a non-negative integer, or ``default``."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        return default
    return int(text)


def int_arg(name: str, default: int | None = None) -> int | None:
    """The query-string argument ``name`` as a non-negative integer, or ``default``."""
    return parse_int(request.args.get(name), default)


def form_int(name: str, default: int | None = None) -> int | None:
    """The posted form field ``name`` as a non-negative integer, or ``default``."""
    return parse_int(request.form.get(name), default)


def form_ints(name: str) -> set[int]:
    """Every value of the posted form field ``name`` that is a non-negative integer."""
    return {n for n in (parse_int(v) for v in request.form.getlist(name)) if n is not None}


def page_arg(name: str = "page") -> int:
    """The page number asked for (1-based; 1 when absent or malformed)."""
    return max(1, int_arg(name, 1) or 1)


# FAB's list views read these with a bare int() and an unchecked filter index.
_FAB_NUMBERS = re.compile(r"^(page|psize)_")
_FAB_FILTER = re.compile(r"^_flt_(\d)_(.*)$")
_LARGEST_PAGE_SIZE = 1000


def refuse_malformed_list_arguments() -> None:
    """Answer 400 to a FAB list parameter FAB would turn into a 500 (before_request hook).

    ``page_<view>`` and ``psize_<view>`` must be small numbers; ``_flt_<n>_<column>`` must
    name a filter the view has. FAB's own views (users, roles) are covered too.
    """
    # PostgreSQL refuses a NUL in any text it compares: FAB's filters and FAB's add and edit
    # forms would pass one straight to it (our own screens validate their fields).
    fab_form = (request.endpoint or "").endswith((".add", ".edit"))
    if fab_form and any("\x00" in value for value in request.form.values()):
        abort(400)
    for name, value in request.args.items(multi=True):
        if "\x00" in value and (_FAB_FILTER.match(name) or name.startswith(("_oc_", "_od_"))):
            abort(400)
        if _FAB_NUMBERS.match(name):
            number = parse_int(value)
            if number is None or (name.startswith("psize_") and number > _LARGEST_PAGE_SIZE):
                abort(400)
        match = _FAB_FILTER.match(name)
        if match and not _filter_exists(int(match.group(1)), match.group(2)):
            abort(400)
        if match and _is_boolean(match.group(2)) and value not in _BOOLEAN_VALUES:
            abort(400)  # PostgreSQL cannot compare a boolean with other text


_BOOLEAN_VALUES = frozenset({"y", "n", "1", "0", "true", "false", "True", "False", "on", "off"})


def _is_boolean(column: str) -> bool:
    view = _current_view()
    datamodel = getattr(view, "datamodel", None)
    if datamodel is None:
        return False
    try:
        return bool(datamodel.is_boolean(column))
    except Exception:  # not a column of the model (a relation): not a boolean
        return False


def _filter_exists(index: int, column: str) -> bool:
    view = _current_view()
    filters = getattr(view, "_filters", None)
    if filters is None:
        return True  # not a FAB list: the parameter is ignored
    search_filters = filters.get_search_filters()
    # A column FAB does not search on is ignored by FAB; an unknown index would raise.
    return column not in search_filters or index < len(search_filters[column])


def _current_view():
    endpoint = (request.endpoint or "").split(".")[0]
    for view in current_app.appbuilder.baseviews:
        if type(view).__name__ == endpoint:
            return view
    return None
