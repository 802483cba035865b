"""What a worker reads about an alert, in each of the ten alert languages (the other texts
that reach workers, outreach messages and the unsubscribe page, are in ``worker_texts``,
through the same catalogues).

The structured parts of an alert (severity, violence types, context, aggressor description,
vehicle, identifiers, dates) are rendered from the ``alerts`` Babel domain shipped with the
project, so an alert reads in every language the moment it is published — SMS in English was
what made past tools useless. Only the hand-written summary may lag behind: the French
original is then shown with a note. Free text (hair, distinctive signs, a vehicle's make...)
is never translated: it is the victim's words and a wrong guess would mislead.

Messages are marked with ``A_`` / ``AN_`` / ``AP_`` instead of ``_`` / ``gettext`` so that
the extraction of the staff UI (``messages`` domain) never picks them up. After changing a
message, rebuild the template and merge it into the ten catalogues::

    pybabel extract --no-default-keywords -k A_ -k AN_:1,2 -k AP_:1c,2 -c NOTE: -s \\
        --add-location=file --project backoffice --version 0.1.0 \\
        -o translations/alerts.pot backoffice/services/alert_text.py \\
        backoffice/services/worker_texts.py
    pybabel update -i translations/alerts.pot -d translations -D alerts -w 100

then translate, and compile (``make translations``): ``pybabel compile -d translations -D
alerts``. ``untranslated_terms`` lists what a language still lacks.

Pure: no Flask application or request is needed.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.lists import format_list
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from backoffice.services import timezones
from backoffice.services.sms_encoding import sms_parts, to_gsm7
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    RIGHT_TO_LEFT_LANGUAGES,
    SEVERITY_RANK,
    VIOLENCE_SEVERITY,
    severity_for,
)

ALERT_DOMAIN = "alerts"
TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "translations"
TEMPLATE_PATH = TRANSLATIONS_DIR / f"{ALERT_DOMAIN}.pot"

# Babel locales for dates and lists. Arabic keeps Western digits: Babel formats the numbers
# of a date with ASCII digits, and phone numbers next to them stay readable.
BABEL_LOCALES: dict[str, str] = {
    "fr": "fr_FR",
    "en": "en_GB",  # day-month-year, as in France
    "es": "es",
    "pt": "pt",
    "ro": "ro",
    "bg": "bg",
    "zh": "zh_Hans_CN",
    "ru": "ru",
    "uk": "uk_UA",
    "ar": "ar",
}

# Latin-script languages whose SMS are transliterated to GSM-7 (160 characters a part, not
# 70): Romanian ș ț ă â î, Portuguese ã õ ç ê and French ç ê À lose their accents in SMS,
# as people already write them on phones. Website, email and PDF keep every diacritic.
GSM7_SMS_LANGUAGES: frozenset[str] = frozenset({"fr", "en", "es", "pt", "ro"})

# Each language's name in that language, for language pickers (never translated).
LANGUAGE_NAMES: dict[str, str] = {
    "fr": "Français",
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "ro": "Română",
    "bg": "Български",
    "zh": "中文",
    "ru": "Русский",
    "uk": "Українська",
    "ar": "العربية",
}


class MissingCatalogueError(FileNotFoundError):
    """A compiled ``alerts.mo`` is missing: the catalogues were not compiled."""


# --- Message markers -------------------------------------------------------------------------


def A_(msgid: str) -> str:
    """Mark a message of the alerts domain; it is translated later, per reader language."""
    return msgid


def AN_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with plural forms."""
    return singular, plural


def AP_(context: str, msgid: str) -> tuple[str, str]:
    """Mark a message with a context (``msgctxt``), e.g. the short forms used in SMS."""
    return context, msgid


# --- Controlled vocabularies (codes from vocabulary.py and API.md) ---------------------------

SEVERITY_LABELS: dict[str, str] = {
    # NOTE: Severity level, in the community's words (fr: Danger, À risque, Relou). Short.
    "dangerous": A_("Dangerous"),
    "risky": A_("Risky"),
    "nuisance": A_("Nuisance"),
}

VIOLENCE_LABELS: dict[str, str] = {
    "rape": A_("Rape"),
    "attempted_rape": A_("Attempted rape"),
    "sexual_assault": A_("Sexual assault"),
    "condom_removal": A_("Non-consensual condom removal"),
    "theft": A_("Theft"),
    "armed_robbery": A_("Armed robbery"),
    "physical_assault": A_("Physical assault"),
    "harassment": A_("Harassment"),
    "cyber_harassment": A_("Cyber-harassment"),
    "threats": A_("Threats"),
    "attempted_murder": A_("Attempted murder"),
    "non_payment": A_("Non-payment"),
    # NOTE: Revealing that someone is a sex worker (to family, landlord...) without consent.
    "outing": A_("Outing"),
    "other": A_("Other violence"),
}

CONTEXT_LABELS: dict[str, str] = {
    "street": A_("Street"),
    "car": A_("Car"),
    # NOTE: "her place": the sex worker's own place, where she receives clients.
    "indoor_home": A_("Indoors, at her place"),
    "indoor_hotel": A_("Indoors, hotel"),
    "client_home": A_("At the client's place"),
    "online": A_("Online"),
    "other": A_("Other"),
}

IDENTIFIER_LABELS: dict[str, str] = {
    "phone": A_("Phone"),
    "email": A_("Email"),
    "plate": A_("Licence plate"),
    "pseudonym": A_("Pseudonym"),
    "url": A_("Profile URL"),
}

IDENTIFIER_SMS_LABELS: dict[str, tuple[str, str]] = {
    # NOTE: Short form written before an identifier in an SMS, where every character counts.
    "phone": AP_("sms", "Phone"),
    "email": AP_("sms", "Email"),
    "plate": AP_("sms", "Licence plate"),
    "pseudonym": AP_("sms", "Pseudonym"),
    "url": AP_("sms", "Profile URL"),
}

GENDER_LABELS: dict[str, str] = {
    "man": A_("Man"),
    "woman": A_("Woman"),
    "trans woman": A_("Trans woman"),
    "trans man": A_("Trans man"),
    "non-binary": A_("Non-binary"),
    "unknown": A_("Unknown"),
}

AGE_RANGE_LABELS: dict[str, str] = {
    "18-25": A_("18-25 years old"),
    "26-35": A_("26-35 years old"),
    "36-45": A_("36-45 years old"),
    "46-55": A_("46-55 years old"),
    "56-65": A_("56-65 years old"),
    "65+": A_("65 or older"),
}

HEIGHT_LABELS: dict[str, str] = {
    # NOTE: Value of "Height" (the aggressor's): agree with your word for height.
    "short": A_("Short"),
    "medium": A_("Average height"),
    "tall": A_("Tall"),
}

BUILD_LABELS: dict[str, str] = {
    # NOTE: Value of "Build" (the aggressor's): agree with your word for build.
    "slim": A_("Slim"),
    "medium": A_("Average build"),
    "heavy": A_("Heavy build"),
    "muscular": A_("Muscular"),
}

# Common vehicle colours, translated when the free-text colour is exactly one of them.
COLOUR_LABELS: dict[str, str] = {
    # NOTE: A vehicle's colour, shown after "Colour:"; lower case, masculine or neutral.
    "grey": A_("grey"),
    "black": A_("black"),
    "white": A_("white"),
    "blue": A_("blue"),
    "red": A_("red"),
    "silver": A_("silver"),
    "green": A_("green"),
    "yellow": A_("yellow"),
    "orange": A_("orange"),
    "brown": A_("brown"),
    "beige": A_("beige"),
    "navy blue": A_("navy blue"),
    "purple": A_("purple"),
    "gold": A_("gold"),
    "pink": A_("pink"),
    "burgundy": A_("burgundy"),
    "dark grey": A_("dark grey"),
}

# How moderators and the intake forms write those colours, in English and French (accents and
# case are ignored when matching; feminine forms because "une voiture grise").
COLOUR_SYNONYMS: dict[str, str] = {
    **{name: name for name in COLOUR_LABELS},
    "gray": "grey",
    "dark gray": "dark grey",
    "navy": "navy blue",
    "dark blue": "navy blue",
    "violet": "purple",
    "golden": "gold",
    "maroon": "burgundy",
    "gris": "grey",
    "grise": "grey",
    "noir": "black",
    "noire": "black",
    "blanc": "white",
    "blanche": "white",
    "bleu": "blue",
    "bleue": "blue",
    "rouge": "red",
    "argent": "silver",
    "argente": "silver",
    "argentee": "silver",
    "gris argent": "silver",
    "gris metallise": "silver",
    "vert": "green",
    "verte": "green",
    "jaune": "yellow",
    "marron": "brown",
    "brun": "brown",
    "brune": "brown",
    "bleu marine": "navy blue",
    "marine": "navy blue",
    "bleu fonce": "navy blue",
    "violette": "purple",
    "dore": "gold",
    "doree": "gold",
    "or": "gold",
    "rose": "pink",
    "bordeaux": "burgundy",
    "gris fonce": "dark grey",
    "anthracite": "dark grey",
}

# --- Sentences and labels ----------------------------------------------------------------------

# NOTE: Title of an alert, e.g. "Alert: Dangerous – Rape and theft – 75 and 93".
TITLE = A_("Alert: %(severity)s – %(violence)s – %(departments)s")
# NOTE: How a label and its value are written on one line ("Context: Street").
LABEL_VALUE = A_("%(label)s: %(value)s")

HEADING_ALERT = A_("Alert")
HEADING_AGGRESSOR = A_("Aggressor")
HEADING_VEHICLE = A_("Vehicle")
HEADING_IDENTIFIERS = A_("Identifiers")
HEADING_SUMMARY = A_("Summary")

LABEL_SEVERITY = A_("Severity")
LABEL_VIOLENCE = A_("Violence")
LABEL_DATE = A_("Date")
# NOTE: French administrative departments, given by their number (75, 93...).
LABEL_DEPARTMENT = A_("Department")
LABEL_DEPARTMENTS = A_("Departments")
LABEL_CONTEXT = A_("Context")
LABEL_REPORTS = A_("Reports")
LABEL_REFERENCE = A_("Reference")
# NOTE: Label of the date the alert was published.
LABEL_PUBLISHED = A_("Published")
LABEL_GENDER = A_("Gender")
LABEL_AGE = A_("Age")
LABEL_HEIGHT = A_("Height")
LABEL_BUILD = A_("Build")
LABEL_HAIR = A_("Hair")
LABEL_SIGNS = A_("Distinctive signs")
LABEL_LANGUAGES = A_("Languages spoken")
# NOTE: A vehicle's make (brand), e.g. Renault.
LABEL_MAKE = A_("Make")
LABEL_MODEL = A_("Model")
LABEL_COLOUR = A_("Colour")
LABEL_PLATE = IDENTIFIER_LABELS["plate"]

# NOTE: Number of reports from different people that back the alert.
REPORTS_COUNT = AN_("%(count)d independent report", "%(count)d independent reports")
# NOTE: The incident date is known to within a week.
AROUND_DATE = A_("Around %(date)s")
# NOTE: The incident date is known to within a month; month is e.g. "November 2026".
IN_MONTH = A_("In %(month)s")
SUMMARY_FALLBACK = A_("Summary not translated yet, original in French:")
CHECK_HINT = A_("Check a number before meeting a client: %(url)s")

# NOTE: SMS alert: as short as possible (one SMS = 160 Latin or 70 other characters).
SMS_ALERT = A_("ALERT %(departments)s (%(severity)s): %(violence)s. %(identifiers)s.")
SMS_ALERT_NO_IDENTIFIERS = A_("ALERT %(departments)s (%(severity)s): %(violence)s.")
# NOTE: First sentence of the notice sent when a published alert was corrected (a wrong digit
# in a number or a plate...): the alert's corrected text follows. Keep %(reference)s.
REVISION_CORRECTION = A_("Correction to alert %(reference)s: this replaces the previous message.")
# NOTE: First sentence of the notice sent when another report about the same man was added to
# a published alert; the updated alert follows. Keep %(reference)s and %(count)d.
REVISION_UPDATE = AN_(
    "Update on alert %(reference)s: reported %(count)d time.",
    "Update on alert %(reference)s: reported %(count)d times.",
)
# NOTE: Subject of the email of a corrected alert; %(title)s is the alert's title.
REVISION_CORRECTION_SUBJECT = A_("Correction: %(title)s")
# NOTE: Subject of the email of an alert updated with another report; %(title)s is its title.
REVISION_UPDATE_SUBJECT = A_("Update: %(title)s")
# NOTE: "STOP" is the keyword the SMS gateway understands: never translate it.
SMS_STOP_HINT = A_("Reply STOP to unsubscribe")
SMS_SUBSCRIBED = A_("You are registered for alerts in %(departments)s. Reply STOP at any time.")
SMS_UNSUBSCRIBED = A_("You will no longer receive alerts.")
EMAIL_FOOTER = A_(
    "You receive this alert because you registered with %(programme)s. "
    "To stop receiving alerts: %(link)s"
)

# Aggressor description fields of API.md, in display order, with their controlled values.
_DESCRIPTION_FIELDS: tuple[tuple[str, str, Mapping[str, str] | None], ...] = (
    ("gender", LABEL_GENDER, GENDER_LABELS),
    ("age_range", LABEL_AGE, AGE_RANGE_LABELS),
    ("height", LABEL_HEIGHT, HEIGHT_LABELS),
    ("build", LABEL_BUILD, BUILD_LABELS),
    ("hair", LABEL_HAIR, None),
    ("distinctive_signs", LABEL_SIGNS, None),
)

_LRI, _PDI = "\u2066", "\u2069"  # left-to-right isolate, pop directional isolate


# --- Data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertContent:
    """The public fields of a published alert, as the renderers need them."""

    reference: str
    severity: str
    violence_types: tuple[str, ...]
    departments: tuple[str, ...]
    incident_date: datetime.date | None
    date_precision: str  # "day" | "week" | "month"
    work_context: str | None
    description: dict  # API.md aggressor.description
    vehicle: dict
    identifiers: tuple[tuple[str, str], ...]  # (kind, display value)
    summaries: dict[str, str]  # language -> hand-written summary; "fr" is the original
    reports_count: int
    published_at: datetime.datetime | None


@dataclass(frozen=True)
class RenderedAlert:
    """An alert in one language.

    ``sections`` feed HTML and PDF: (heading, [(label, value)]). Values are plain text; in
    right-to-left pages put them in ``<bdi>`` (phone numbers and plates are left-to-right).
    The first section holds the key facts, shown right under the title.
    """

    language: str
    direction: str  # "ltr" | "rtl"
    title: str
    text: str
    summary: str
    summary_is_fallback: bool
    sections: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


# --- Catalogues --------------------------------------------------------------------------------


def _check_language(language: str) -> None:
    if language not in ALERT_LANGUAGES:
        raise ValueError(f"{language!r} is not an alert language ({', '.join(ALERT_LANGUAGES)})")


def _compiled_path(language: str) -> Path:
    return TRANSLATIONS_DIR / language / "LC_MESSAGES" / f"{ALERT_DOMAIN}.mo"


def _require_compiled(language: str) -> Path:
    _check_language(language)
    path = _compiled_path(language)
    if not path.is_file():
        raise MissingCatalogueError(
            f"No compiled alert catalogue for {language!r} at {path}: run `make translations`"
            f" (pybabel compile -d translations -D {ALERT_DOMAIN})."
        )
    return path


@functools.cache
def translations_for(language: str) -> Translations:
    """The compiled ``alerts`` catalogue of one alert language (loaded once per process).

    Raises ``MissingCatalogueError`` rather than silently falling back to English, which is
    what ``Translations.load`` would do.
    """
    with _require_compiled(language).open("rb") as handle:
        return Translations(handle, domain=ALERT_DOMAIN)


@functools.cache
def _template() -> Catalog:
    with TEMPLATE_PATH.open("rb") as handle:
        return read_po(handle)


def _is_translated(message: Message | None, plurals: int) -> bool:
    if message is None:
        return False
    if isinstance(message.string, list | tuple):
        return len(message.string) == plurals and all(message.string)
    return bool(message.string)


def _singular(msgid: str | list | tuple) -> str:
    return msgid[0] if isinstance(msgid, list | tuple) else msgid


def _text_of(value: str | bytes | None) -> str | None:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _describe(message: Message) -> str:
    msgid = _singular(message.id)
    return f"{message.context}|{msgid}" if message.context else msgid


def untranslated_terms(language: str) -> list[str]:
    """Messages of the template (``alerts.pot``) with no complete translation in ``language``.

    Reads the compiled catalogue, i.e. what workers would actually get: an entry left empty
    or fuzzy in the ``.po`` is not compiled and is reported. Context messages are returned
    as ``"context|msgid"``, plural ones by their singular.
    """
    with _require_compiled(language).open("rb") as handle:
        compiled = read_mo(handle)
    # read_mo leaves contexts as bytes: key the compiled messages by decoded context instead
    # of relying on Catalog.get.
    found = {(_text_of(message.context), _singular(message.id)): message for message in compiled}
    return [
        _describe(message)
        for message in _template()
        if message.id
        and not _is_translated(
            found.get((message.context, _singular(message.id))), compiled.num_plurals
        )
    ]


# --- Rendering helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    """One language's catalogue and Babel locale, with the formatting the renderers share."""

    language: str
    catalogue: Translations
    locale: str

    @property
    def rtl(self) -> bool:
        return self.language in RIGHT_TO_LEFT_LANGUAGES

    def text(self, msgid: str, **values: object) -> str:
        translated = self.catalogue.gettext(msgid)
        return translated % values if values else translated

    def plural(self, msgids: tuple[str, str], count: int) -> str:
        return self.catalogue.ngettext(msgids[0], msgids[1], count) % {"count": count}

    def short(self, msgid: tuple[str, str]) -> str:
        return self.catalogue.pgettext(*msgid)

    def join(self, items: Iterable[str]) -> str:
        items = [item for item in items if item]
        return format_list(items, locale=self.locale) if items else ""

    def date(self, value: datetime.date) -> str:
        return format_date(value, "long", locale=self.locale)

    def isolate(self, value: str) -> str:
        """Keep a phone number in order inside Arabic text.

        In a right-to-left line the bidi algorithm shows "+33 6 12 34 56 78" with its digit
        groups reversed, because nothing in it is strongly left-to-right. Values with a Latin
        or Arabic letter (plate, pseudonym, URL, date) already display correctly and are left
        alone: invisible marks inside a URL could break the link.
        """
        if self.rtl and _needs_isolate(value):
            return f"{_LRI}{value}{_PDI}"
        return value

    def line(self, label: str, value: str) -> str:
        return self.text(LABEL_VALUE, label=label, value=self.isolate(value))


def _reader(language: str) -> _Reader:
    return _Reader(language, translations_for(language), BABEL_LOCALES[language])


def _needs_isolate(value: str) -> bool:
    strong = any(unicodedata.bidirectional(char) in ("L", "R", "AL") for char in value)
    return not strong and any(char.isdigit() for char in value)


def _lower_first(label: str) -> str:
    """ "Viol" → "viol" inside a list or a sentence; acronyms ("PEP") are left alone."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def _free_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value if item)
    return str(value).strip() if value is not None else ""


def _controlled(reader: _Reader, labels: Mapping[str, str] | None, value: object) -> str:
    """A controlled value's translation; anything else is free text and passes unchanged."""
    if labels is not None and isinstance(value, str) and value in labels:
        return reader.text(labels[value])
    return _free_text(value)


def _normalise_colour(value: str) -> str:
    decomposed = unicodedata.normalize("NFD", value.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[\s\-]+", " ", plain).strip()


def colour_label(reader_language: str, value: str) -> str:
    """A vehicle colour in the reader's language when it is a common one, else unchanged."""
    key = COLOUR_SYNONYMS.get(_normalise_colour(value))
    if key is None:
        return value
    return _reader(reader_language).text(COLOUR_LABELS[key])


def _violence_order(violence_types: Iterable[str]) -> list[str]:
    """Distinct codes, most serious first ("rape" before "theft"), "other" last."""
    codes = [code if code in VIOLENCE_LABELS else "other" for code in violence_types]
    codes = list(dict.fromkeys(codes)) or ["other"]
    rank = {code: SEVERITY_RANK[VIOLENCE_SEVERITY.get(code, "nuisance")] for code in codes}
    return sorted(codes, key=lambda code: (code == "other", -rank[code]))


def _violence(reader: _Reader, content: AlertContent, *, lower: bool = False) -> str:
    labels = [
        reader.text(VIOLENCE_LABELS[code]) for code in _violence_order(content.violence_types)
    ]
    # Only a title or a row starts with a capital: "Viol, vol et menaces".
    return reader.join(
        _lower_first(label) if lower or index else label for index, label in enumerate(labels)
    )


def _severity(reader: _Reader, content: AlertContent) -> str:
    code = content.severity
    if code not in SEVERITY_LABELS:
        code = severity_for(content.violence_types)
    return reader.text(SEVERITY_LABELS[code])


def _incident_date(reader: _Reader, content: AlertContent) -> str:
    day = content.incident_date
    if day is None:
        return ""
    if content.date_precision == "month":
        return reader.text(IN_MONTH, month=format_skeleton("yMMMM", day, locale=reader.locale))
    if content.date_precision == "week":
        return reader.text(AROUND_DATE, date=reader.date(day))
    return reader.date(day)


def _published(reader: _Reader, content: AlertContent) -> str:
    moment = content.published_at
    if moment is None:
        return ""
    # The calendar day where the alert applies (overseas departments have their own).
    local = timezones.to_local(moment, timezones.zone_for_departments(content.departments))
    return reader.date(local.date())


def _spoken_languages(reader: _Reader, value: object) -> str:
    if not isinstance(value, list | tuple):
        return _free_text(value)
    names = []
    for code in value:
        try:
            names.append(Locale.parse(str(code), sep="-").get_display_name(reader.locale))
        except (ValueError, UnknownLocaleError):
            names.append(str(code))
    return reader.join(names)


# --- Sections ----------------------------------------------------------------------------------


def _rows(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(label, value) for label, value in pairs if value]


def _facts(reader: _Reader, content: AlertContent) -> list[tuple[str, str]]:
    departments = LABEL_DEPARTMENT if len(content.departments) == 1 else LABEL_DEPARTMENTS
    context = CONTEXT_LABELS.get(content.work_context or "")
    count = content.reports_count
    return _rows(
        [
            (reader.text(LABEL_SEVERITY), _severity(reader, content)),
            (reader.text(LABEL_VIOLENCE), _violence(reader, content)),
            (reader.text(LABEL_DATE), _incident_date(reader, content)),
            (reader.text(departments), reader.join(content.departments)),
            (reader.text(LABEL_CONTEXT), reader.text(context) if context else ""),
            (reader.text(LABEL_REPORTS), reader.plural(REPORTS_COUNT, count) if count else ""),
            (reader.text(LABEL_REFERENCE), content.reference),
            (reader.text(LABEL_PUBLISHED), _published(reader, content)),
        ]
    )


def _aggressor(reader: _Reader, description: Mapping) -> list[tuple[str, str]]:
    rows = [
        (reader.text(label), _controlled(reader, labels, description.get(key)))
        for key, label, labels in _DESCRIPTION_FIELDS
    ]
    rows.append(
        (reader.text(LABEL_LANGUAGES), _spoken_languages(reader, description.get("languages")))
    )
    return _rows(rows)


def _vehicle(reader: _Reader, vehicle: Mapping) -> list[tuple[str, str]]:
    colour = _free_text(vehicle.get("colour") or vehicle.get("color"))
    return _rows(
        [
            (reader.text(LABEL_MAKE), _free_text(vehicle.get("make"))),
            (reader.text(LABEL_MODEL), _free_text(vehicle.get("model"))),
            (reader.text(LABEL_COLOUR), colour_label(reader.language, colour) if colour else ""),
            (reader.text(LABEL_PLATE), _free_text(vehicle.get("plate"))),
        ]
    )


def _identifiers(reader: _Reader, content: AlertContent) -> list[tuple[str, str]]:
    return _rows(
        (reader.text(IDENTIFIER_LABELS.get(kind, CONTEXT_LABELS["other"])), value)
        for kind, value in content.identifiers
    )


def _sections(reader: _Reader, content: AlertContent) -> list[tuple[str, list[tuple[str, str]]]]:
    sections = [
        (reader.text(HEADING_ALERT), _facts(reader, content)),
        (reader.text(HEADING_AGGRESSOR), _aggressor(reader, content.description or {})),
        (reader.text(HEADING_VEHICLE), _vehicle(reader, content.vehicle or {})),
        (reader.text(HEADING_IDENTIFIERS), _identifiers(reader, content)),
    ]
    return [(heading, rows) for heading, rows in sections if rows]


def _summary(content: AlertContent, language: str) -> tuple[str, bool]:
    own = (content.summaries.get(language) or "").strip()
    if own:
        return own, False
    original = (content.summaries.get("fr") or "").strip()
    return original, bool(original)


# --- Public renderers --------------------------------------------------------------------------


def render_alert(
    content: AlertContent, language: str, *, check_url: str | None = None
) -> RenderedAlert:
    """The alert in one language: title, plain text (web, app, email body) and sections.

    ``check_url``, when given, ends the text with the invitation to check a number.
    """
    reader = _reader(language)
    title = reader.text(
        TITLE,
        severity=_severity(reader, content),
        violence=_violence(reader, content),
        departments=reader.join(content.departments),
    )
    summary, fallback = _summary(content, language)
    sections = _sections(reader, content)
    return RenderedAlert(
        language=language,
        direction="rtl" if reader.rtl else "ltr",
        title=title,
        text=_text(reader, title, summary, fallback, sections, check_url),
        summary=summary,
        summary_is_fallback=fallback,
        sections=sections,
    )


def _text(
    reader: _Reader,
    title: str,
    summary: str,
    fallback: bool,
    sections: list[tuple[str, list[tuple[str, str]]]],
    check_url: str | None,
) -> str:
    # The key facts go right under the title, without a heading that would repeat "Alert".
    facts, *details = sections
    lines = [title, "", *(reader.line(label, value) for label, value in facts[1])]
    if summary:
        lines += ["", reader.text(HEADING_SUMMARY)]
        if fallback:
            lines.append(reader.text(SUMMARY_FALLBACK))
        lines.append(summary)
    for heading, rows in details:
        lines += ["", heading, *(reader.line(label, value) for label, value in rows)]
    if check_url:
        lines += ["", reader.text(CHECK_HINT, url=reader.isolate(check_url))]
    return "\n".join(lines)


def _sms_identifiers(reader: _Reader, content: AlertContent, *, labelled: bool) -> str:
    parts = []
    for kind, value in content.identifiers:
        shown = reader.isolate(value)
        if labelled and kind in IDENTIFIER_SMS_LABELS:
            shown = f"{reader.short(IDENTIFIER_SMS_LABELS[kind])} {shown}"
        parts.append(shown)
    separator = {"zh": "，", "ar": "، "}.get(reader.language, ", ")
    return separator.join(parts)


def _sms_body(reader: _Reader, content: AlertContent, *, labelled: bool) -> str:
    values = {
        "departments": reader.join(content.departments),
        "severity": _severity(reader, content),
        "violence": _violence(reader, content, lower=True),
    }
    identifiers = _sms_identifiers(reader, content, labelled=labelled)
    if identifiers:
        return reader.text(SMS_ALERT, identifiers=identifiers, **values)
    return reader.text(SMS_ALERT_NO_IDENTIFIERS, **values)


def _sms_ready(language: str, text: str) -> str:
    return to_gsm7(text) if language in GSM7_SMS_LANGUAGES else text


def render_sms(content: AlertContent, language: str, stop_hint: bool = True) -> str:
    """The alert as one compact SMS line, ending with the STOP hint when ``stop_hint``.

    Tries to fit one SMS segment: identifiers first come with a short label ("Tel ..."),
    which is dropped when that saves a segment. Identifiers themselves are never dropped —
    they are what a worker checks — so a long alert may take several segments. Latin-script
    languages are transliterated to GSM-7 (see ``GSM7_SMS_LANGUAGES``).
    """
    reader = _reader(language)
    stop = reader.text(SMS_STOP_HINT) if stop_hint else ""
    candidates = []
    for labelled in (True, False):
        body = _sms_body(reader, content, labelled=labelled)
        # Chinese punctuation (。) already separates sentences; other scripts need a space.
        separator = "" if language == "zh" else " "
        candidates.append(_sms_ready(language, f"{body}{separator}{stop}" if stop else body))
    # Fewest segments wins; on a tie the labelled version (listed first) is clearer.
    return min(candidates, key=lambda text: sms_parts(text)[1])


def render_email(
    content: AlertContent,
    language: str,
    unsubscribe_link: str,
    programme: str,
    *,
    check_url: str | None = None,
) -> tuple[str, str]:
    """(subject, plain-text body): the alert text, then a signature with the way out."""
    reader = _reader(language)
    rendered = render_alert(content, language, check_url=check_url)
    footer = reader.text(EMAIL_FOOTER, programme=programme, link=reader.isolate(unsubscribe_link))
    return rendered.title, f"{rendered.text}\n\n-- \n{footer}"


def render_subscription_sms(departments: Iterable[str], language: str) -> str:
    """The SMS confirming a registration for the alerts of some departments."""
    reader = _reader(language)
    return _sms_ready(language, reader.text(SMS_SUBSCRIBED, departments=reader.join(departments)))


def render_unsubscribed_sms(language: str) -> str:
    """The SMS answering STOP."""
    return _sms_ready(language, _reader(language).text(SMS_UNSUBSCRIBED))


# --- corrections and updates of a published alert (issue 18.6) -------------------------------


def _revision_notice(reader: _Reader, content: AlertContent, purpose: str) -> str:
    reference = reader.isolate(content.reference)
    if purpose == "update":
        count = max(content.reports_count, 1)
        translated = reader.catalogue.ngettext(*REVISION_UPDATE, count)
        return translated % {"reference": reference, "count": count}
    return reader.text(REVISION_CORRECTION, reference=reference)


def render_revision_sms(content: AlertContent, language: str, purpose: str) -> str:
    """The notice of a corrected (``correction``) or strengthened (``update``) alert: one
    sentence saying so, then the alert as it now reads (its identifiers included, which is
    what a worker checks), then the STOP hint."""
    reader = _reader(language)
    separator = "" if language == "zh" else " "
    parts = [
        _revision_notice(reader, content, purpose),
        _sms_body(reader, content, labelled=True),
        reader.text(SMS_STOP_HINT),
    ]
    return _sms_ready(language, separator.join(parts))


def render_revision_email(
    content: AlertContent, language: str, purpose: str, subject: str, body: str
) -> tuple[str, str]:
    """(subject, body) of the notice: the alert's email (``render_email``) introduced by the
    sentence saying it was corrected or updated."""
    reader = _reader(language)
    prefix = REVISION_UPDATE_SUBJECT if purpose == "update" else REVISION_CORRECTION_SUBJECT
    return (
        reader.text(prefix, title=subject),
        f"{_revision_notice(reader, content, purpose)}\n\n{body}",
    )
