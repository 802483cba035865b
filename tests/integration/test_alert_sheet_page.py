"""The printable alert sheet fits one A4 page in every language, even for the longest alert
the composer accepts, and prints the French emergency numbers and the public site.

Counted with poppler's ``pdfinfo`` and read with ``pdftotext``, as a partner's printer would.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import uuid

import pytest

from backoffice.schemas.reports import MAX_IDENTIFIERS
from backoffice.services.alert_text import AlertContent
from backoffice.services.alerts import SUMMARY_MAX_LENGTH
from backoffice.services.vocabulary import ALERT_LANGUAGES
from reports_pdf.alert_sheet import build_alert_sheet

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdfinfo"),
    reason="poppler-utils (pdftotext, pdfinfo) is not installed: make system-deps",
)

SITE = "https://jasmine.example/alertes"
# What each number is for, as the sheet says it in a few languages.
MEANINGS = {
    "fr": ("Police", "Enfance en danger", "Violences faites aux femmes"),
    "en": ("Police", "Children in danger", "Violence against women"),
    "zh": ("警察", "儿童处于危险中"),
    "ar": ("الشرطة", "أطفال في خطر"),
    "uk": ("Поліція", "Діти в небезпеці"),
}


# One sentence of a summary in each language's script: 2,000 Chinese characters take twice
# the lines of 2,000 French ones.
SUMMARY_SENTENCES = {
    "fr": "Il a retiré le préservatif, a menacé avec un couteau puis a repris l'argent. ",
    "en": "He removed the condom, threatened her with a knife and took the money back. ",
    "es": "Se quitó el preservativo, la amenazó con un cuchillo y recuperó el dinero. ",
    "pt": "Tirou o preservativo, ameaçou-a com uma faca e voltou a tirar o dinheiro. ",
    "ro": "Și-a scos prezervativul, a amenințat-o cu un cuțit și și-a luat banii înapoi. ",
    "bg": "Свали презерватива, заплаши я с нож и си взе парите обратно. ",
    "zh": "他摘掉了避孕套，用刀威胁她，然后把钱拿了回去。",
    "ru": "Снял презерватив, угрожал ей ножом и забрал деньги обратно. ",
    "uk": "Зняв презерватив, погрожував їй ножем і забрав гроші назад. ",
    "ar": "سحب الواقي الذكري ثم هددها بسكين واستعاد المال. ",
}


def _long_alert() -> AlertContent:
    """An alert at the composer's limits: the longest summary in every language, every
    identifier it takes, a full description and vehicle."""
    summaries = {
        language: (sentence * 200)[:SUMMARY_MAX_LENGTH]
        for language, sentence in SUMMARY_SENTENCES.items()
    }
    return AlertContent(
        reference="A-2026-000777",
        severity="dangerous",
        violence_types=("rape", "condom_removal", "theft", "threats", "physical_assault"),
        departments=("75", "92", "93", "94"),
        incident_date=datetime.date(2026, 11, 20),
        date_precision="day",
        work_context="indoor_home",
        description={
            "gender": "man",
            "age_range": "36-45",
            "height": "tall",
            "build": "heavy",
            "hair": "bruns, courts, rasés sur les côtés, barbe de trois jours",
            "distinctive_signs": "tatouage d'un serpent sur l'avant-bras gauche, cicatrice "
            "sur le sourcil droit, chevalière en or, parle très fort",
            "languages": ["fr", "ru", "ar", "es"],
        },
        vehicle={"make": "Renault", "model": "Clio", "colour": "grise", "plate": "AB-123-CD"},
        identifiers=(
            *(("phone", f"+33 6 12 34 {n:02d} 78") for n in range(MAX_IDENTIFIERS - 4)),
            ("pseudonym", "Marc75"),
            ("email", "marc.durand.75@example.com"),
            ("plate", "ZZ-999-ZZ"),
            ("pseudonym", "Le_Grand_Marc_du_93"),
        ),
        summaries=summaries,
        reports_count=7,
        published_at=datetime.datetime(2026, 11, 21, 9, 12, tzinfo=datetime.UTC),
    )


def _read(pdf: bytes, tmp_path) -> tuple[int, str]:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    return pages, text


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_the_longest_alert_fits_one_page(language, tmp_path):
    pdf = build_alert_sheet(
        [_long_alert()], language, check_url="https://jasmine.example/verifier", site_url=SITE
    )
    pages, text = _read(pdf, tmp_path)
    assert pages == 1, f"the {language} sheet takes {pages} pages"
    assert "A-2026-000777" in text
    assert "Le_Grand_Marc_du_93" in text, "the last identifier is still printed"
    for number in ("17", "112", "3919", "119"):
        assert re.search(rf"(?<!\d){number}(?!\d)", text), f"{number} missing ({language})"
    for meaning in MEANINGS.get(language, ()):
        assert meaning in text
    assert SITE in text, "the footer links to the public site"


def test_without_a_public_site_no_link_is_printed(tmp_path):
    pdf = build_alert_sheet([_long_alert()], "fr", site_url=None)
    _pages, text = _read(pdf, tmp_path)
    assert "associations partenaires :" not in text
    assert "3919" in text, "the emergency numbers are printed all the same"


def test_the_public_site_comes_from_the_setting(app_context, tmp_path):
    app_context.config["PUBLIC_SITE_URL"] = "https://site.example/jasmine"
    try:
        pdf = build_alert_sheet([_long_alert()], "es")
    finally:
        app_context.config["PUBLIC_SITE_URL"] = "https://jasmine.example"
    _pages, text = _read(pdf, tmp_path)
    assert "Alertas, ayuda y asociaciones colaboradoras: https://site.example/jasmine" in text
