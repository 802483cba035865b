"""Alert texts in the ten alert languages: catalogues, rendering, SMS and outreach templates."""

from __future__ import annotations

import datetime
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from backoffice.services import alert_text
from backoffice.services.alert_text import (
    LANGUAGE_NAMES,
    AlertContent,
    MissingCatalogueError,
    render_alert,
    render_email,
    render_sms,
    render_subscription_sms,
    render_unsubscribed_sms,
    translations_for,
    untranslated_terms,
)
from backoffice.services.sms_encoding import is_gsm7, sms_parts, split_sms
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    IDENTIFIER_KINDS,
    SEVERITIES,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)
from backoffice.services.worker_texts import OUTREACH_MESSAGES, outreach_text, unsubscribe_page

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
NON_ENGLISH = [language for language in ALERT_LANGUAGES if language != "en"]
GSM7_LANGUAGES = ["fr", "en", "es", "pt", "ro"]
UCS2_LANGUAGES = ["bg", "zh", "ru", "uk", "ar"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
EXPECTED_PLURALS = {"fr": 2, "en": 2, "es": 2, "pt": 2, "ro": 3, "bg": 2, "zh": 1, "ru": 3}
EXPECTED_PLURALS |= {"uk": 3, "ar": 6}


def _compile(directory: Path) -> None:
    command = ["compile", "-d", str(directory), "-D", "alerts"]
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *command], check=True)


def _po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "alerts.po"


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogues() -> None:
    """Compile the ``alerts`` catalogues when a .mo is missing or older than its .po.

    The .mo files are git-ignored (``make translations`` builds them); tests must not depend
    on someone having run it.
    """
    stale = [
        language
        for language in ALERT_LANGUAGES
        if not _po_path(language).with_suffix(".mo").exists()
        or _po_path(language).with_suffix(".mo").stat().st_mtime
        < _po_path(language).stat().st_mtime
    ]
    if stale:
        _compile(TRANSLATIONS)
    translations_for.cache_clear()


def _read_po(language: str):
    with _po_path(language).open("rb") as handle:
        return read_po(handle)


def _sample(**changes) -> AlertContent:
    values = dict(
        reference="A-2026-000045",
        severity="dangerous",
        violence_types=("condom_removal", "theft", "rape"),
        departments=("75", "93"),
        incident_date=datetime.date(2026, 11, 20),
        date_precision="day",
        work_context="indoor_home",
        description={
            "gender": "man",
            "age_range": "36-45",
            "height": "tall",
            "build": "heavy",
            "hair": "bruns, courts",
            "distinctive_signs": "tatouage sur l'avant-bras gauche",
            "languages": ["fr", "ru"],
        },
        vehicle={"make": "Renault", "model": "Clio", "colour": "grise", "plate": "AB-123-CD"},
        identifiers=(("phone", "+33 6 12 34 56 78"), ("pseudonym", "Marc75")),
        summaries={
            "fr": "Il a retiré le préservatif pendant le rapport puis a repris l'argent.",
            "en": "He removed the condom during sex, then took the money back.",
        },
        reports_count=3,
        published_at=datetime.datetime(2026, 11, 21, 9, 12, tzinfo=datetime.UTC),
    )
    values.update(changes)
    return AlertContent(**values)


def _everything(rendered) -> str:
    rows = " ".join(
        f"{heading} {label} {value}"
        for heading, items in rendered.sections
        for label, value in items
    )
    return f"{rendered.title}\n{rendered.text}\n{rows}"


# --- Catalogues -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    assert untranslated_terms(language) == []


def test_untranslated_terms_reports_what_is_missing(tmp_path, monkeypatch) -> None:
    # A catalogue with one message only: every other message of the template is reported.
    target = tmp_path / "ro" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "alerts.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: ro\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        '\nmsgid "Rape"\nmsgstr "Viol"\n\nmsgctxt "sms"\nmsgid "Phone"\nmsgstr ""\n',
        encoding="utf-8",
    )
    _compile(tmp_path)
    monkeypatch.setattr(alert_text, "TRANSLATIONS_DIR", tmp_path)
    missing = untranslated_terms("ro")
    assert "Rape" not in missing
    assert "Theft" in missing
    assert "sms|Phone" in missing
    assert "%(count)d independent report" in missing


@pytest.mark.parametrize(
    ("codes", "labels"),
    [
        (VIOLENCE_TYPES, alert_text.VIOLENCE_LABELS),
        (WORK_CONTEXTS, alert_text.CONTEXT_LABELS),
        (SEVERITIES, alert_text.SEVERITY_LABELS),
        (IDENTIFIER_KINDS, alert_text.IDENTIFIER_LABELS),
        (IDENTIFIER_KINDS, alert_text.IDENTIFIER_SMS_LABELS),
    ],
    ids=["violence", "context", "severity", "identifier", "identifier-sms"],
)
def test_every_controlled_code_has_a_catalogue_entry(codes, labels) -> None:
    assert set(labels) == set(codes)
    with (TRANSLATIONS / "alerts.pot").open("rb") as handle:
        template = read_po(handle)
    for msgid in labels.values():
        if isinstance(msgid, tuple):
            context, msgid = msgid
            assert template.get(msgid, context=context) is not None, msgid
        else:
            assert msgid in template, msgid


def test_api_description_values_have_catalogue_entries() -> None:
    genders = {"man", "woman", "trans woman", "trans man", "non-binary", "unknown"}
    assert set(alert_text.GENDER_LABELS) == genders
    assert set(alert_text.AGE_RANGE_LABELS) == {"18-25", "26-35", "36-45", "46-55", "56-65", "65+"}
    assert set(alert_text.HEIGHT_LABELS) == {"short", "medium", "tall"}
    assert set(alert_text.BUILD_LABELS) == {"slim", "medium", "heavy", "muscular"}
    assert len(alert_text.COLOUR_LABELS) >= 15
    assert set(alert_text.COLOUR_SYNONYMS.values()) <= set(alert_text.COLOUR_LABELS)


def test_template_matches_the_code() -> None:
    """alerts.pot holds exactly the messages marked in alert_text.py and worker_texts.py
    (re-extract otherwise)."""
    keywords = {"A_": None, "AN_": (1, 2), "AP_": ((1, "c"), 2)}
    sources = [
        ROOT / "backoffice" / "services" / name for name in ("alert_text.py", "worker_texts.py")
    ]
    in_code = {
        (context, msgid if isinstance(msgid, str) else msgid[0])
        for source in sources
        for _, msgid, _, context in extract_from_file("python", str(source), keywords=keywords)
    }
    with (TRANSLATIONS / "alerts.pot").open("rb") as handle:
        in_template = {
            (message.context, message.id if isinstance(message.id, str) else message.id[0])
            for message in read_po(handle)
            if message.id
        }
    assert in_code == in_template


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_po_header(language: str) -> None:
    catalog = _read_po(language)
    assert str(catalog.locale) == language
    assert catalog.charset == "utf-8"
    assert not catalog.fuzzy
    assert catalog.num_plurals == EXPECTED_PLURALS[language]


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_placeholders_match(language: str) -> None:
    for message in _read_po(language):
        if not message.id:
            continue
        if message.pluralizable:
            expected = Counter(PLACEHOLDER.findall(message.id[1]))
            forms = list(message.string)
        else:
            expected = Counter(PLACEHOLDER.findall(message.id))
            forms = [message.string]
        for form in forms:
            assert Counter(PLACEHOLDER.findall(form)) == expected, (message.id, form)
            # Any other "%" would break Python formatting at render time.
            values = {name: 1 for name in expected}
            if values:
                form % values


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_plural_forms_present(language: str) -> None:
    catalog = _read_po(language)
    plural_messages = [message for message in catalog if message.id and message.pluralizable]
    assert plural_messages
    for message in plural_messages:
        assert len(message.string) == EXPECTED_PLURALS[language]
        assert all(form.strip() for form in message.string)


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("fr", 1, "1 signalement indépendant"),
        ("fr", 2, "2 signalements indépendants"),
        ("ru", 1, "1 независимое сообщение"),
        ("ru", 3, "3 независимых сообщения"),
        ("ru", 5, "5 независимых сообщений"),
        ("ru", 21, "21 независимое сообщение"),
        ("uk", 2, "2 незалежні повідомлення"),
        ("ro", 2, "2 sesizări independente"),
        ("ro", 20, "20 de sesizări independente"),
        ("ar", 2, "2 بلاغان مستقلان"),
        ("ar", 5, "5 بلاغات مستقلة"),
        ("ar", 11, "11 بلاغًا مستقلًا"),
        ("zh", 4, "4条独立举报"),
    ],
)
def test_plural_rules_pick_the_right_form(language: str, count: int, expected: str) -> None:
    rendered = render_alert(_sample(reports_count=count), language)
    assert expected in dict(rendered.sections[0][1]).values()


def test_missing_catalogue_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(alert_text, "TRANSLATIONS_DIR", tmp_path)
    translations_for.cache_clear()
    try:
        with pytest.raises(MissingCatalogueError, match="make translations"):
            translations_for("ro")
    finally:
        translations_for.cache_clear()


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="alert language"):
        render_alert(_sample(), "de")


def test_language_names_are_endonyms() -> None:
    assert set(LANGUAGE_NAMES) == set(ALERT_LANGUAGES)
    assert LANGUAGE_NAMES["ar"] == "العربية"
    assert LANGUAGE_NAMES["uk"] == "Українська"


# --- render_alert ---------------------------------------------------------------------------

# Words of the English rendering that must never leak into another language.
ENGLISH_WORDS = re.compile(
    r"\b(Rape|condom|Theft|Dangerous|Risky|Aggressor|Vehicle|Severity|Reports|Published|"
    r"Summary|Indoors|independent|Phone|Licence|Tall|Heavy|Gender|grey|Identifiers|Details|"
    r"Colour|Languages|Around|Check)\b"
)


@pytest.mark.parametrize("language", NON_ENGLISH)
def test_no_english_left_in_other_languages(language: str) -> None:
    rendered = render_alert(_sample(), language, check_url="https://example.org/check")
    assert ENGLISH_WORDS.findall(_everything(rendered)) == []


@pytest.mark.parametrize("language", NON_ENGLISH)
def test_every_controlled_label_is_translated(language: str) -> None:
    english = [
        translations_for("en").gettext(msgid)
        for labels in (
            alert_text.VIOLENCE_LABELS,
            alert_text.CONTEXT_LABELS,
            alert_text.SEVERITY_LABELS,
            alert_text.IDENTIFIER_LABELS,
        )
        for msgid in labels.values()
        if len(msgid) > 5  # "Car", "Other"... are words in some languages too
    ]
    for violence in VIOLENCE_TYPES:
        for context in WORK_CONTEXTS:
            content = _sample(violence_types=(violence,), work_context=context)
            text = _everything(render_alert(content, language))
            # Case-sensitive: Romanian says "hărțuire online", which is not the label "Online".
            leaked = [label for label in english if label in text]
            assert leaked == [], (violence, context)


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_direction(language: str) -> None:
    expected = "rtl" if language == "ar" else "ltr"
    assert render_alert(_sample(), language).direction == expected


def test_translated_summary_is_used() -> None:
    rendered = render_alert(_sample(), "en")
    assert rendered.summary.startswith("He removed the condom")
    assert not rendered.summary_is_fallback
    assert "Summary not translated yet" not in rendered.text


@pytest.mark.parametrize("language", ["ro", "zh", "ar"])
def test_summary_falls_back_to_french(language: str) -> None:
    rendered = render_alert(_sample(), language)
    assert rendered.summary == _sample().summaries["fr"]
    assert rendered.summary_is_fallback
    note = translations_for(language).gettext(alert_text.SUMMARY_FALLBACK)
    assert note in rendered.text
    assert rendered.text.index(note) < rendered.text.index(rendered.summary)


def test_french_summary_is_never_a_fallback() -> None:
    rendered = render_alert(_sample(), "fr")
    assert not rendered.summary_is_fallback
    assert "pas encore traduit" not in rendered.text


def test_no_summary_at_all() -> None:
    rendered = render_alert(_sample(summaries={}), "ru")
    assert rendered.summary == ""
    assert not rendered.summary_is_fallback


@pytest.mark.parametrize(
    ("language", "day"),
    [
        ("fr", "20 novembre 2026"),
        ("en", "20 November 2026"),
        ("es", "20 de noviembre de 2026"),
        ("pt", "20 de novembro de 2026"),
        ("ro", "20 noiembrie 2026"),
        ("bg", "20 ноември 2026"),
        ("zh", "2026年11月20日"),
        ("ru", "20 ноября 2026"),
        ("uk", "20 листопада 2026"),
        ("ar", "20 نوفمبر 2026"),
    ],
)
def test_dates_are_localised(language: str, day: str) -> None:
    assert day in render_alert(_sample(), language).text


@pytest.mark.parametrize(
    ("language", "precision", "expected"),
    [
        ("fr", "week", "Vers le 20 novembre 2026"),
        ("fr", "month", "En novembre 2026"),
        ("en", "week", "Around 20 November 2026"),
        ("en", "month", "In November 2026"),
        ("ru", "month", "ноябрь 2026"),
        ("bg", "month", "През ноември 2026"),
        ("ar", "month", "في نوفمبر 2026"),
    ],
)
def test_date_precision(language: str, precision: str, expected: str) -> None:
    rendered = render_alert(_sample(date_precision=precision), language)
    assert expected in rendered.text
    date = next(value for _, value in rendered.sections[0][1] if expected in value)
    if precision == "month":
        assert not re.search(r"\b20\b", date)  # no day shown


def test_published_date_is_the_french_calendar_day() -> None:
    late = datetime.datetime(2026, 11, 21, 23, 30, tzinfo=datetime.UTC)  # 00:30 in Paris
    facts = dict(render_alert(_sample(published_at=late), "en").sections[0][1])
    assert facts["Published"] == "22 November 2026"


def test_arabic_keeps_western_digits_and_isolates_identifiers() -> None:
    rendered = render_alert(_sample(), "ar")
    assert "2026" in rendered.text
    assert not re.search("[\u0660-\u0669\u06f0-\u06f9]", rendered.text)
    # Left-to-right isolate, so that the digit groups are not shown reversed.
    assert "\u2066+33 6 12 34 56 78\u2069" in rendered.text
    # Sections stay clean for HTML, which isolates with <bdi>.
    identifiers = rendered.sections[-1][1]
    assert ("الهاتف", "+33 6 12 34 56 78") in identifiers


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_free_text_passes_unchanged_and_controlled_values_are_translated(language: str) -> None:
    rendered = render_alert(_sample(), language)
    assert "tatouage sur l'avant-bras gauche" in rendered.text
    assert "bruns, courts" in rendered.text
    assert "Renault" in rendered.text
    aggressor = dict(rendered.sections[1][1])
    t = translations_for(language)
    assert t.gettext("Tall") in aggressor.values()
    assert t.gettext("36-45 years old") in aggressor.values()


@pytest.mark.parametrize(
    ("colour", "language", "expected"),
    [
        ("grise", "en", "grey"),
        ("Gris", "ru", "серый"),
        ("grey", "fr", "gris"),
        ("Bleu marine", "zh", "深蓝色"),
        ("argentée", "es", "plateado"),
        ("vert pomme", "uk", "vert pomme"),  # free text: unchanged
    ],
)
def test_vehicle_colour(colour: str, language: str, expected: str) -> None:
    rendered = render_alert(_sample(vehicle={"colour": colour}), language)
    vehicle = dict(rendered.sections[2][1])
    assert vehicle[translations_for(language).gettext("Colour")] == expected


def test_spoken_languages_are_named_in_the_reader_language() -> None:
    aggressor = dict(render_alert(_sample(), "fr").sections[1][1])
    assert aggressor["Langues parlées"] == "français et russe"


def test_title_and_facts() -> None:
    rendered = render_alert(_sample(), "fr")
    # Most serious violence first; lists joined the French way.
    assert rendered.title == (
        "Alerte : Danger – Viol, retrait du préservatif sans consentement et vol – 75 et 93"
    )
    facts = dict(rendered.sections[0][1])
    assert facts["Contexte"] == "En intérieur, chez elle"
    assert facts["Signalements"] == "3 signalements indépendants"
    assert facts["Référence"] == "A-2026-000045"
    assert facts["Départements"] == "75 et 93"
    assert "Département" in dict(render_alert(_sample(departments=("75",)), "fr").sections[0][1])


def test_empty_parts_are_left_out() -> None:
    content = _sample(
        description={}, vehicle={}, identifiers=(), work_context=None, incident_date=None
    )
    rendered = render_alert(content, "en")
    assert [heading for heading, _ in rendered.sections] == ["Alert"]
    assert "Context" not in rendered.text
    assert "Date:" not in rendered.text


def test_check_url_ends_the_text() -> None:
    text = render_alert(_sample(), "es", check_url="https://example.org/v").text
    assert text.endswith("Verifica un número antes de ver a un cliente: https://example.org/v")


def test_email() -> None:
    subject, body = render_email(_sample(), "pt", "https://example.org/u/abc", "Jasmine")
    assert subject == render_alert(_sample(), "pt").title
    assert body.startswith(subject)
    signature = body.split("\n-- \n")[1]
    assert "Jasmine" in signature
    assert signature.endswith("https://example.org/u/abc")


# --- SMS --------------------------------------------------------------------------------------


def _short_sample() -> AlertContent:
    return _sample(
        severity="risky", violence_types=("theft",), identifiers=(("phone", "+33 6 12 34 56 78"),)
    )


@pytest.mark.parametrize("language", GSM7_LANGUAGES)
def test_sms_latin_languages_are_gsm7(language: str) -> None:
    sms = render_sms(_sample(), language)
    assert is_gsm7(sms), [char for char in sms if not is_gsm7(char)]
    assert sms_parts(render_sms(_short_sample(), language))[:2] == ("GSM-7", 1)


@pytest.mark.parametrize("language", UCS2_LANGUAGES)
def test_sms_other_scripts_are_ucs2(language: str) -> None:
    assert sms_parts(render_sms(_sample(), language))[0] == "UCS-2"


def test_sms_romanian_and_portuguese_are_transliterated() -> None:
    ro = render_sms(_sample(), "ro")
    assert not set("șțăâîȘȚĂÂÎ") & set(ro)
    assert "Raspunde STOP" in ro
    pt = render_sms(_sample(), "pt")
    assert not set("ãõçêáíóúâ") & set(pt)
    # Accents GSM-7 has are kept.
    assert "désabonner" in render_sms(_sample(), "fr")


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_sms_ends_with_the_stop_hint(language: str) -> None:
    sms = render_sms(_sample(), language)
    hint = translations_for(language).gettext(alert_text.SMS_STOP_HINT)
    if language in GSM7_LANGUAGES:
        hint = alert_text.to_gsm7(hint)
    assert sms.endswith(hint)
    assert "STOP" in hint
    assert "STOP" not in render_sms(_sample(), language, stop_hint=False)


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_sms_keeps_every_identifier(language: str) -> None:
    many = tuple(("phone", f"+33 6 12 34 56 {n:02d}") for n in range(6))
    sms = render_sms(_sample(identifiers=many), language)
    for _, value in many:
        assert value in sms
    assert "".join(split_sms(sms)) == sms


def test_sms_drops_identifier_labels_only_when_it_saves_a_segment() -> None:
    short = render_sms(_short_sample(), "en")
    assert "Tel +33 6 12 34 56 78" in short
    assert sms_parts(short)[1] == 1
    # Fits one segment only without the labels.
    crowded = (
        *_short_sample().identifiers,
        ("pseudonym", "Marc75"),
        ("email", "marc.du.75@example.org"),
        ("plate", "AB-123-CD"),
        ("url", "https://ads.example/p/123"),
    )
    sms = render_sms(
        _sample(severity="risky", violence_types=("theft",), identifiers=crowded), "en"
    )
    assert sms_parts(sms)[1] == 1
    assert "Alias" not in sms and "Marc75" in sms


def test_sms_example() -> None:
    assert render_sms(_short_sample(), "fr") == (
        "ALERTE 75 et 93 (A risque) : vol. Tél +33 6 12 34 56 78. "
        "Répondez STOP pour vous désabonner"
    )
    assert render_sms(_short_sample(), "zh") == (
        "【预警】75和93（有风险）：盗窃。电话 +33 6 12 34 56 78。回复STOP退订"
    )


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_subscription_messages(language: str) -> None:
    confirmation = render_subscription_sms(["75", "93"], language)
    assert "STOP" in confirmation
    assert "75" in confirmation and "93" in confirmation
    goodbye = render_unsubscribed_sms(language)
    assert goodbye
    if language in GSM7_LANGUAGES:
        assert is_gsm7(confirmation) and is_gsm7(goodbye)


# --- Outreach templates -----------------------------------------------------------------------

PURPOSES = [
    "first_contact",
    "who_we_are",
    "how_to_register",
    "health_information",
    "violence_prevention_tools",
    "after_an_assault",
]
SAMPLE_VALUES = {
    "programme": "Jasmine",
    "register_url": "https://jasmine.example.org/inscription",
    "check_url": "https://jasmine.example.org/verifier",
}


def _templates() -> dict[str, dict[str, str]]:
    """The programme's outreach texts, from the alerts catalogues: {purpose: {language: text}}."""
    return {
        purpose: {language: outreach_text(purpose, language) for language in ALERT_LANGUAGES}
        for purpose in OUTREACH_MESSAGES
    }


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_outreach_templates_cover_every_purpose_and_language() -> None:
    templates = _templates()
    assert list(templates) == PURPOSES
    for purpose, texts in templates.items():
        assert all(text.strip() for text in texts.values()), purpose
        # Translated for real: only English may read like the English message id.
        english = texts["en"]
        assert [lang for lang, text in texts.items() if text == english] == ["en"], purpose


@pytest.mark.parametrize("purpose", PURPOSES)
def test_outreach_placeholders_are_the_same_in_every_language(purpose: str) -> None:
    texts = _templates()[purpose]
    expected = _fields(texts["fr"])
    assert expected <= set(SAMPLE_VALUES)
    for language, text in texts.items():
        assert _fields(text) == expected, language
        text.format(**SAMPLE_VALUES)


def test_outreach_first_contact_is_short_and_invites_to_register() -> None:
    for language, text in _templates()["first_contact"].items():
        message = text.format(**SAMPLE_VALUES)
        assert len(message) <= 300, (language, len(message))
        assert SAMPLE_VALUES["register_url"] in message
        assert "Jasmine" in message


def test_outreach_after_an_assault_says_what_matters() -> None:
    for language, text in _templates()["after_an_assault"].items():
        assert "48" in text, language
        assert "PEP" in text, language
        assert "CeGIDD" in text, language
        assert "{programme}" in text, language


def test_outreach_never_uses_stigmatising_words() -> None:
    words = re.compile(
        r"prostitu|проститу|шлюх|повія|повії|妓女|卖淫|عاهر|دعار|بغاء|curv|putain|\bputa", re.I
    )
    for purpose, texts in _templates().items():
        for language, text in texts.items():
            assert not words.search(text), (purpose, language)


# --- The unsubscribe page ---------------------------------------------------------------------


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_the_unsubscribe_page_speaks_her_language(language: str) -> None:
    page = unsubscribe_page(language)
    english = unsubscribe_page("en")
    sentences = (page.question, page.button, page.invalid, page.how_to)
    assert all(sentence.strip() for sentence in sentences)
    assert "STOP" in page.invalid and "STOP" in page.how_to
    if language != "en":
        assert page.question != english.question and page.how_to != english.how_to


def test_the_publication_day_is_the_departments_local_day() -> None:
    # 22:30 UTC is still the 21st in Paris, already the 22nd on Réunion (UTC+4).
    late = datetime.datetime(2026, 11, 21, 22, 30)
    paris = _everything(render_alert(_sample(published_at=late, departments=("75",)), "en"))
    reunion = _everything(render_alert(_sample(published_at=late, departments=("974",)), "en"))
    assert "21 November 2026" in paris and "22 November 2026" not in paris
    assert "22 November 2026" in reunion
