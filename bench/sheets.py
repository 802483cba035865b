"""Benchmark of the printable alert sheet: time to build one alert's PDF, a typical alert and
the longest the composer accepts (summary at 2,000 characters written in that language's
script, every identifier), in French, Chinese and Arabic; and the pages it takes (always 1).

Run from the repository root: ``.venv/bin/python bench/sheets.py``. Prints ``name: value
unit`` lines (median of a few builds after one warm-up, which loads the fonts).
"""

from __future__ import annotations

import statistics
import time

import support  # before the imports below: puts the repository root on sys.path

from reports_pdf import html_document, render_html
from reports_pdf.alert_sheet import build_alert_sheet, sheet_context
from tests.integration.test_alert_sheet_page import SITE, _long_alert
from tests.unit.test_alert_text import _sample

RUNS = 3
LANGUAGES = ("fr", "zh", "ar")


def main() -> None:
    build_alert_sheet([_sample()], "fr", site_url=SITE)  # warm-up: fonts
    for name, alert in (("typical", _sample()), ("longest", _long_alert())):
        for language in LANGUAGES:
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                pdf = build_alert_sheet([alert], language, site_url=SITE)
                times.append(time.perf_counter() - started)
            print(f"alert_sheet_{name}_{language}_median: {statistics.median(times) * 1000:.0f} ms")
            print(f"alert_sheet_{name}_{language}_bytes: {len(pdf)} B")
    # Pages at the default density, without the fitting steps: what the steps are for.
    context = sheet_context([_long_alert()], "zh", site_url=SITE)
    pages = len(html_document(render_html("alert_sheet.html", density=0, **context)).pages)
    print(f"alert_sheet_longest_zh_pages_without_fitting: {pages} pages")


if __name__ == "__main__":
    assert support
    main()
