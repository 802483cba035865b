"""CSV files for French spreadsheet users: ``;`` separators, a BOM so accents read right,
and cells that a spreadsheet cannot mistake for formulas (CSV injection)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator

from flask_babel import get_locale

# A cell starting with one of these is a formula to Excel and LibreOffice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """The cell's text, with a quote in front of anything a spreadsheet would evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_text(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """The whole file as text: BOM, ``;``, CRLF, every cell made safe."""
    return "".join(csv_pieces(header, rows))


def csv_pieces(
    header: Iterable[object], rows: Iterable[Iterable[object]], rows_per_piece: int = 1000
) -> Iterator[str]:
    """The same file in pieces of ``rows_per_piece`` rows, for a file too long to hold in
    memory (streamed to the browser as it is read)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(cell) for cell in row])
        if count % rows_per_piece == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def spreadsheet_date(day: dt.date | None) -> str:
    """A date as the reader's spreadsheet reads one: 07/12/2026 in French, ISO otherwise."""
    if day is None:
        return ""
    locale = get_locale()
    if locale is not None and locale.language == "fr":
        return day.strftime("%d/%m/%Y")
    return day.isoformat()
