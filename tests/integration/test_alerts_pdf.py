"""The printable alert sheet: it opens, has the right glyphs and fonts, shows published alerts only.

Checked with poppler's ``pdftotext`` (the text a reader gets) and ``pdffonts`` (the fonts
embedded), as a partner's printer would see the file.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.services import alerts
from reports_pdf import RefusedURL, asset_path, html_to_pdf
from reports_pdf.alert_sheet import SheetError, published_sheet
from tests.integration.moderation_support import payload, report_in, unique_phone, user

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdffonts"),
    reason="poppler-utils (pdftotext, pdffonts) is not installed: make system-deps",
)


def _poppler(tool: str, pdf: bytes, tmp_path) -> str:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    arguments = [tool, str(path)] + (["-"] if tool == "pdftotext" else [])
    return subprocess.run(arguments, capture_output=True, text=True, check=True).stdout


def _published_alert(department: str = "13", **overrides) -> Alert:
    phone = unique_phone()
    incident = {**payload()["incident"], "department": department, "violence_types": ["rape"]}
    report = report_in(
        "published",
        incident=incident,
        aggressor={"identifiers": [{"kind": "phone", "value": phone}]},
        **overrides,
    )
    return db.session.scalar(
        select(Alert).join(AlertReport).where(AlertReport.report_id == report.id)
    )


@pytest.mark.parametrize(
    ("language", "words", "font"),
    [
        ("zh", ["强奸", "危险"], "Noto-Sans-CJK"),
        ("ar", ["اغتصاب", "خطير"], "Noto-Naskh-Arabic"),
        ("ru", ["Изнасилование", "Опасно"], "DejaVu-Sans"),
        ("uk", ["Зґвалтування"], "DejaVu-Sans"),
        ("bg", ["Изнасилване"], "DejaVu-Sans"),
        ("ro", ["Viol"], "DejaVu-Sans"),
    ],
)
def test_the_sheet_has_the_glyphs_of_each_script(app_context, tmp_path, language, words, font):
    alert = _published_alert()
    db.session.commit()
    pdf, count = published_sheet(language, reference=alert.reference)
    assert pdf.startswith(b"%PDF") and count == 1
    text = _poppler("pdftotext", pdf, tmp_path)
    assert alert.reference in text
    for word in words:
        assert word in text, f"{word!r} missing from the {language} sheet"
    fonts = _poppler("pdffonts", pdf, tmp_path)
    embedded = [line for line in fonts.splitlines()[2:] if font in line]
    assert embedded, fonts
    assert all(" yes " in line for line in embedded)  # embedded, not referenced


def test_phone_numbers_keep_their_order_in_arabic(app_context, tmp_path):
    alert = _published_alert()
    db.session.commit()
    shown = alerts.content_of(alert).identifiers[0][1]
    pdf, _count = published_sheet("ar", reference=alert.reference)
    assert shown in _poppler("pdftotext", pdf, tmp_path)


def test_the_week_sheet_holds_the_departments_published_alerts_only(app_context, tmp_path):
    live = _published_alert("05")
    retracted = _published_alert("05")
    alerts.retract(retracted, user("demo-moderator"), "Wrong")
    elsewhere = _published_alert("06")
    draft = alerts.compose(
        [report_in("approved", incident={**payload()["incident"], "department": "05"})],
        user("demo-moderator"),
    )
    db.session.commit()
    pdf, count = published_sheet("fr", department="05")
    text = _poppler("pdftotext", pdf, tmp_path)
    assert live.reference in text
    for absent in (retracted, elsewhere, draft):
        assert absent.reference not in text
    assert count >= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"language": "xx", "department": "75"}, "language"),
        ({"language": "fr"}, "either"),
        ({"language": "fr", "department": "999"}, "department"),
        ({"language": "fr", "reference": "A-1999-000001"}, "No published alert"),
    ],
)
def test_nothing_to_print_is_said_clearly(app_context, kwargs, message):
    language = kwargs.pop("language")
    with pytest.raises(SheetError, match=message):
        published_sheet(language, **kwargs)


def test_a_draft_alert_cannot_be_printed(app_context):
    draft = alerts.compose([report_in("approved")], user("demo-moderator"))
    db.session.commit()
    with pytest.raises(SheetError):
        published_sheet("fr", reference=draft.reference)


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "http://127.0.0.1/x.css", "asset:../__init__.py", "asset:nothing.css"],
)
def test_the_fetcher_serves_only_the_projects_assets(url):
    with pytest.raises(RefusedURL):
        asset_path(url)


def test_a_document_cannot_pull_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    url = f"file://{secret}"
    html = (
        f'<html><head><link rel="stylesheet" href="{url}"></head><body><p>x</p>'
        f'<object data="{url}"></object><img src="{url}"><iframe src="{url}"></iframe>'
        "</body></html>"
    )
    pdf = html_to_pdf(html)
    assert b"TOP-SECRET-CONTENT" not in pdf
    assert "TOP-SECRET" not in _poppler("pdftotext", pdf, tmp_path)


def test_the_command_writes_the_same_sheet(app, tmp_path):
    with app.app_context():
        reference = _published_alert("07").reference
    out = tmp_path / "sheet.pdf"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["alerts", "sheet", "--lang", "uk", "--reference", reference, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert reference in _poppler("pdftotext", out.read_bytes(), tmp_path)
    refused = runner.invoke(args=["alerts", "sheet", "--lang", "uk", "--out", str(out)])
    assert refused.exit_code != 0 and "either" in refused.output
    week = runner.invoke(
        args=["alerts", "sheet", "--lang", "ar", "--department", "07", "--out", str(out)]
    )
    assert week.exit_code == 0 and reference in _poppler("pdftotext", out.read_bytes(), tmp_path)
