"""Numbered pages of a query, for the back office's lists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from backoffice.extensions import db


@dataclass
class Page:
    items: list[Any]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def paginate(statement: Select, number: int, size: int, *, total: int | None = None) -> Page:
    """Page ``number`` (1-based) of ``statement``'s rows; a number past the end gives the last
    page, one below 1 the first. ``total``, when the caller already counted the rows, saves
    the count query."""
    if total is None:
        counted = statement.order_by(None).subquery()
        total = db.session.scalar(select(func.count()).select_from(counted)) or 0
    number = min(max(1, number), max(1, math.ceil(total / size)))
    items = db.session.scalars(statement.limit(size).offset((number - 1) * size)).all()
    return Page(items=list(items), total=total, number=number, size=size)
