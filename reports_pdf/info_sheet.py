"""The printable information sheet, in any alert language (Arabic right to left, Chinese,
Cyrillic: the fonts of ``make system-deps``, as for the alert sheet).

The context comes from ``services.information.printable``: primitive values only, the
body already turned from Markdown into HTML with raw HTML disabled.
"""

from __future__ import annotations

from reports_pdf import render_pdf


def build_info_sheet(context: dict) -> bytes:
    return render_pdf("info_sheet.html", **context)
