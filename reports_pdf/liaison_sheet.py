"""The emergency liaison sheet for a doctor: one A4 page, French on the front and the same in
her language on the back (Arabic right to left; fonts as for the alert sheet).

The context comes from ``services.cases.liaison.liaison_context``: primitive values only.
"""

from __future__ import annotations

from reports_pdf import render_pdf


def render_liaison_sheet(context: dict) -> bytes:
    return render_pdf("liaison_sheet.html", **context)
