"""Reading query-string and form values that must be numbers: one rule for every view.

A value that is absent, not made of digits, or absurdly long gives the default; pages are
never below 1. Nothing here raises, so a hostile value never becomes a 500.
"""

from __future__ import annotations

from flask import request

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
