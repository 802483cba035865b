"""The funder report of the demo year is fit to hand to a funder: read back as a funder reads
it, with ``pdftotext`` and as page images (``pdftoppm``, measured with Pillow).

* no table is cut: every table's total row is there whole, every column header is printed,
  and nothing is drawn in the right margin (a table wider than the page would be);
* no near-empty page: each page's content reaches at least a quarter of its height, except
  the last page of a section (the cover, the page before the methodology, the last page);
* one number, one text: a key figure and the total of its table agree;
* the cover names the programme and its partner associations, with French dates.

The demo seed runs once, on a database of its own, as ``make run`` does (``flask demo seed``).
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from types import SimpleNamespace

import pytest
from flask_babel import force_locale
from flask_migrate import upgrade
from PIL import Image

from backoffice.demo import ACCEPTESS, AIDES
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.services import statistics
from backoffice.services.statistics import Period, Scope
from reports_pdf import funder_report
from tests.conftest import make_app, own_database

A4_MM = (210, 297)
MARGINS_MM = {"top": 18, "right": 16, "bottom": 20, "left": 16}  # funder_report.css
QUARTER = 0.25


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory, test_keyring):
    """The demo year's report (the last 365 days, which the demo fills), in French."""
    with own_database(tmp_path_factory.mktemp("report_db")) as url:
        instance = tmp_path_factory.mktemp("report_instance")
        app = make_app(url, test_keyring, instance)
        with app.app_context():
            upgrade(revision="heads")
        app = make_app(url, test_keyring, instance)
        seeded = app.test_cli_runner().invoke(args=["demo", "seed", "--if-empty"])
        assert seeded.exit_code == 0, seeded.output
        today = utcnow().date()
        period = Period(today - dt.timedelta(days=364), today)
        with app.test_request_context(), force_locale("fr"):
            pdf = funder_report.render(period, "fr")
            presented = statistics.for_funder_report(Scope(period))
            context = funder_report.document_context(presented, utcnow())
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        yield SimpleNamespace(pdf=pdf, context=context, pages=_pages_text(pdf), period=period)


def _pages_text(pdf: bytes) -> list[str]:
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    text = result.stdout.decode("utf-8").replace("\u202f", " ").replace("\xa0", " ")
    return text.split("\f")[:-1]


def _images(pdf: bytes, folder, dpi: int = 30) -> list[Image.Image]:
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", "-", str(folder / "page")], input=pdf, check=True
    )
    return [Image.open(path).convert("L") for path in sorted(folder.glob("page-*.png"))]


def _ink(image: Image.Image, box_mm: tuple[float, float, float, float]):
    """The bounding box of what is drawn (darker than near-white) in a region given in mm."""
    width, height = image.size
    left, top, right, bottom = box_mm
    region = image.crop(
        (
            round(width * left / A4_MM[0]),
            round(height * top / A4_MM[1]),
            round(width * right / A4_MM[0]),
            round(height * bottom / A4_MM[1]),
        )
    )
    return region.point(lambda v: 255 if v < 235 else 0).getbbox(), region.size


def test_every_table_is_printed_whole(demo_report):
    text = "\n".join(demo_report.pages)
    tables = [t for s in demo_report.context["sections"] for t in s["tables"]]
    assert len(tables) > 15
    for table in tables:
        assert table["title"] in text, table["title"]
        if table["withheld"]:
            continue
        for header in table["headers"]:  # wrapped headers: every word printed
            for word in header.split():
                assert word in text, (table["key"], header)
        if table["total"]:
            cells = [re.escape(c) for c in table["total"] if c]
            assert re.search(r"^\s*" + r"\s+".join(cells) + r"\s*$", text, re.M), (
                table["key"],
                table["total"],
            )


def test_nothing_is_cut_at_the_page_edge_and_no_page_is_nearly_empty(demo_report, tmp_path):
    images = _images(demo_report.pdf, tmp_path)
    pages = demo_report.pages
    assert len(images) == len(pages) > 5
    methodology = next(i for i, page in enumerate(pages) if page.lstrip().startswith("Méthod"))
    # the last page of a section: the cover, the end of the figures, the end of the report
    may_be_short = {0, methodology - 1, len(pages) - 1}
    top, bottom = MARGINS_MM["top"], A4_MM[1] - MARGINS_MM["bottom"]
    for number, image in enumerate(images):
        beyond, _size = _ink(image, (A4_MM[0] - MARGINS_MM["right"] + 1, 0, A4_MM[0], A4_MM[1]))
        assert beyond is None, f"page {number + 1}: something drawn in the right margin"
        box, (_width, height) = _ink(image, (0, top, A4_MM[0], bottom))
        filled = (box[3] if box else 0) / height
        if number not in may_be_short:
            assert filled >= QUARTER, f"page {number + 1} is {filled:.0%} full"


def test_a_key_figure_and_its_table_say_the_same(demo_report):
    text = "\n".join(demo_report.pages)
    figures = {f["code"]: f["text"] for f in demo_report.context["key_figures"]}
    tables = {t["key"]: t for s in demo_report.context["sections"] for t in s["tables"]}
    assert figures["cases"] == tables["cases_by_status"]["total"][-1]
    assert figures["referrals"] == tables["referrals_by_structure"]["total"][-1]
    assert figures["subscribers"] == tables["subscribers_by_language"]["total"][-1]
    assert figures["alerts_published"] == tables["alerts_by_month"]["total"][1]
    for key in ("reports_by_month", "reports_by_violence_type", "reports_by_channel"):
        assert tables[key]["total"][-1] == figures["reports"], key
    for figure in demo_report.context["key_figures"]:
        assert re.search(
            rf"^\s*{re.escape(figure['label'])}\s+{re.escape(figure['text'])}\s*$", text, re.M
        ), figure


def test_the_cover_names_the_programme_and_its_partners_in_french(demo_report):
    cover = demo_report.pages[0]
    assert "PROGRAMMEJASMINE" in cover.replace(" ", "")  # letter-spaced capitals
    assert "Associations partenaires" in cover
    assert AIDES in cover and ACCEPTESS in cover
    months = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
    start = demo_report.period.start
    assert f"{start.day} {months.split()[start.month - 1]} {start.year}" in cover
    assert not re.search(r"\d{4}-\d{2}-\d{2}", cover), "dates are written in French"
    assert "UTC" not in cover and re.search(r"\b(CET|CEST)\b", cover)
