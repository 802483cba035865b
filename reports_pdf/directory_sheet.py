"""The printable directory: the structures a filter selects, with their verification state,
for outreach rounds and for offices without a screen at hand. Every entry says whether it
was checked with the structure (and when), as every screen of the directory does."""

from __future__ import annotations

from reports_pdf import render_pdf


def build_directory_sheet(context: dict) -> bytes:
    """``context``: primitive values (see ``views/directory.DirectoryView.print_sheet``)."""
    return render_pdf("directory_sheet.html", **context)
