"""Information sheets: written in French, translated, reviewed by a second person, published,
served by the API (with the French fallback), printed in every script."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.information import InfoSheet
from backoffice.services import api_keys, information
from tests.conftest import csrf_token

FRENCH_BODY = "## Où ?\n\nAux **urgences**, dans les 48 heures.\n\n<script>alert(1)</script>"
ROMANIAN_BODY = "## Unde?\n\nLa **urgențe**, în 48 de ore."
ARABIC_BODY = "## أين؟\n\nفي **قسم الطوارئ** بأي مستشفى، خلال 48 ساعة."
SOURCES = "Sida Info Service | https://www.sida-info-service.org"


@pytest.fixture(scope="module")
def key(app) -> str:
    with app.app_context():
        _client, key = api_keys.create_client(f"pages-{uuid.uuid4().hex[:8]}")
        db.session.commit()
    return key


def _api(app, key, path: str):
    return app.test_client().get(f"/api/v1{path}", headers={"Authorization": f"Bearer {key}"})


def _post(client, url: str, page: str, **data):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def _sheet_id(slug: str) -> int:
    return db.session.scalar(select(InfoSheet.id).where(InfoSheet.slug == slug))


def test_written_translated_reviewed_published_served_printed_and_outdated(
    app, login_as, key, tmp_path
):
    slug = "tpe-" + uuid.uuid4().hex[:6]
    writer = login_as("demo-outreach")
    moderator = login_as("demo-moderator")
    coordinator = login_as("demo-coordinator")

    # 1. Written in French by Outreach; nobody sees it before a second person publishes it.
    answer = _post(
        writer,
        "/information/new",
        "/information/new",
        slug=slug,
        topic="health",
        title="Traitement post-exposition",
        body=FRENCH_BODY,
        sources=SOURCES,
    )
    assert answer.status_code == 302
    with app.app_context():
        sheet_id = _sheet_id(slug)
    show = f"/information/{sheet_id}"
    assert _api(app, key, f"/pages/{slug}?lang=ro").status_code == 404

    # 2. The author cannot publish their own text (Outreach may not publish at all), the
    # moderator reviews and publishes it.
    with app.app_context():
        sheet = db.session.get(InfoSheet, sheet_id)
        assert not information.may_publish(sheet.version("fr"))
    assert _post(moderator, f"{show}/fr/publish", show).status_code == 302
    french = _api(app, key, f"/pages/{slug}?lang=ro").get_json()
    assert french["fallback"] is True and french["language"] == "fr"
    assert french["sources"] == [
        {"title": "Sida Info Service", "url": "https://www.sida-info-service.org"}
    ]

    # 3. Translated into Romanian by the moderator, reviewed and published by the coordinator.
    _post(
        moderator,
        f"{show}/ro/edit",
        f"{show}/ro/edit",
        title="Tratament post-expunere",
        body=ROMANIAN_BODY,
    )
    assert _post(moderator, f"{show}/ro/publish", show).status_code == 302  # own text: refused
    assert _api(app, key, f"/pages/{slug}?lang=ro").get_json()["fallback"] is True
    _post(coordinator, f"{show}/ro/publish", show, native="1")
    romanian = _api(app, key, f"/pages/{slug}?lang=ro")
    assert romanian.status_code == 200
    body = romanian.get_json()
    assert (body["language"], body["fallback"], body["review"]) == ("ro", False, "reviewed")
    assert body["title"] == "Tratament post-expunere" and body["body"] == ROMANIAN_BODY
    listed = _api(app, key, "/pages?lang=ro").get_json()
    assert {"slug": slug, "language": "ro", "fallback": False}.items() <= next(
        p for p in listed["pages"] if p["slug"] == slug
    ).items()

    # 4. Arabic, translated and published (to be reviewed by a native speaker), as PDF.
    _post(moderator, f"{show}/ar/edit", f"{show}/ar/edit", title="العلاج الوقائي", body=ARABIC_BODY)
    _post(coordinator, f"{show}/ar/publish", show)
    assert _api(app, key, f"/pages/{slug}?lang=ar").get_json()["review"] == "to_review"
    pdf = writer.get(f"{show}/ar/sheet.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    if shutil.which("pdftotext") and shutil.which("pdffonts"):
        path = tmp_path / "sheet.pdf"
        path.write_bytes(pdf.data)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True)
        assert "الطوارئ" in text.stdout and "المصادر" in text.stdout
        assert "Noto-Naskh-Arabic" in fonts.stdout or "NotoNaskhArabic" in fonts.stdout

    # 5. Changing the French marks the Romanian outdated: the API falls back to French.
    _post(
        writer,
        f"{show}/fr/edit",
        f"{show}/fr/edit",
        title="Traitement post-exposition (TPE)",
        body=FRENCH_BODY + "\n\nNouveau : numéro vert.",
        sources=SOURCES,
    )
    _post(coordinator, f"{show}/fr/publish", show)
    with app.app_context():
        sheet = db.session.get(InfoSheet, sheet_id)
        assert sheet.state_of("ro") == "outdated" and sheet.state_of("fr") == "up_to_date"
        actions = set(
            db.session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.object_type == "InfoSheet", AuditEvent.object_id == str(sheet_id)
                )
            )
        )
        assert {"info_sheet_created", "info_sheet_draft_saved", "info_sheet_published"} <= actions
        assert "info_sheet_printed" in actions
    after = _api(app, key, f"/pages/{slug}?lang=ro").get_json()
    assert after["fallback"] is True and after["title"] == "Traitement post-exposition (TPE)"
    page = writer.get("/information/").get_data(as_text=True)
    row = page[page.index(slug) :]
    assert re.search(r'data-language="ro" data-state="outdated"', row)
    # The Markdown's raw HTML never reaches a page.
    assert "<script>alert(1)</script>" not in writer.get(show).get_data(as_text=True)


def test_starter_sheets_are_served_with_sources_and_marked_to_review(app, key):
    listed = _api(app, key, "/pages?lang=ro").get_json()
    slugs = {page["slug"] for page in listed["pages"]}
    assert {
        "pep-48h",
        "emergency-contraception",
        "testing",
        "filing-a-complaint",
        "keeping-evidence",
        "digital-safety",
    } <= slugs
    pep = _api(app, key, "/pages/pep-48h?lang=ro").get_json()
    assert (pep["language"], pep["review"], pep["fallback"]) == ("ro", "to_review", False)
    assert "48" in pep["body"] and pep["sources"]
    chinese = _api(app, key, "/pages/pep-48h?lang=zh").get_json()
    assert (chinese["language"], chinese["fallback"]) == ("fr", True)


def test_unknown_slug_is_404_and_bad_language_422(app, key):
    assert _api(app, key, "/pages/no-such-sheet").status_code == 404
    assert _api(app, key, "/pages?lang=xx").status_code == 422


def test_native_review_in_the_ui(app, login_as):
    coordinator = login_as("demo-coordinator")
    with app.app_context():
        sheet_id = _sheet_id("digital-safety")
    show = f"/information/{sheet_id}"
    _post(coordinator, f"{show}/en/reviewed", show)
    with app.app_context():
        assert db.session.get(InfoSheet, sheet_id).version("en").review == "reviewed"
