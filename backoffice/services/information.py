"""Information sheets: writing, translating, reviewing, publishing, and serving them.

* Anyone with the screen writes a draft (the French source, or a translation, which records
  the French revision it translates).
* A second person holding ``publish_information`` publishes a draft: never its author.
  Publishing the French raises the sheet's revision, which makes every translation made
  from an older revision ``outdated``.
* A translation is published ``to_review`` (to be reviewed by a native speaker) unless its
  publisher says they reviewed it as one; ``mark_reviewed`` records that review later.
* The API and the PDF serve a language's published text when it is up to date, otherwise
  the French with ``fallback``: an outdated translation may say something the French no
  longer says (a delay, a phone number), so it is not served.

Everything is audited; sheets hold no personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy import select

from backoffice import security
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.information import (
    SHEET_TOPICS,
    SOURCE_LANGUAGE,
    InfoSheet,
    InfoSheetVersion,
)
from backoffice.services import audit
from backoffice.services.vocabulary import ALERT_LANGUAGES, RIGHT_TO_LEFT_LANGUAGES

PUBLISH_CAPABILITY = "publish_information"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,79}$")
TITLE_MAX = 200
BODY_MAX = 20_000
SOURCES_MAX = 12
# Raw HTML is off: a sheet's Markdown can never carry a script into a page or a PDF.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False})


class InformationError(ValueError):
    """A refused change, with a sentence for the user."""


@dataclass(frozen=True)
class Served:
    """What a reader gets for a sheet in a language: that language or the French."""

    sheet: InfoSheet
    version: InfoSheetVersion
    fallback: bool


def render_markdown(text: str) -> Markup:
    return Markup(_MARKDOWN.render(text or ""))  # noqa: S704 -- raw HTML is off: escaped


# -- reading --------------------------------------------------------------------------------
def all_sheets() -> list[InfoSheet]:
    return list(db.session.scalars(select(InfoSheet).order_by(InfoSheet.topic, InfoSheet.slug)))


def get_sheet(sheet_id: int) -> InfoSheet | None:
    return db.session.get(InfoSheet, sheet_id)


def served(sheet: InfoSheet, language: str) -> Served | None:
    """The published text a reader of ``language`` gets (None: nothing published)."""
    if sheet.state_of(language) == "up_to_date":
        return Served(sheet, sheet.version(language), False)
    french = sheet.version(SOURCE_LANGUAGE)
    if french is None or french.published_body is None:
        return None
    return Served(sheet, french, language != SOURCE_LANGUAGE)


def published(language: str) -> list[Served]:
    found = (served(sheet, language) for sheet in all_sheets())
    return [item for item in found if item is not None]


def published_by_slug(slug: str, language: str) -> Served | None:
    sheet = db.session.scalar(select(InfoSheet).where(InfoSheet.slug == slug))
    return served(sheet, language) if sheet is not None else None


def page_item(item: Served, *, full: bool = False) -> dict:
    """A sheet as the API answers it (shared/API.md "GET /api/v1/pages")."""
    version = item.version
    data = {
        "slug": item.sheet.slug,
        "topic": item.sheet.topic,
        "title": version.published_title,
        "language": version.language,
        "fallback": item.fallback,
        "review": version.review,
        "updated_at": version.published_at.isoformat(timespec="seconds") + "Z",
    }
    if full:
        french = item.sheet.version(SOURCE_LANGUAGE)
        data["body"] = version.published_body
        data["sources"] = list((french.published_sources if french else None) or [])
    return data


# -- writing --------------------------------------------------------------------------------
def _clean_text(title: str | None, body: str | None) -> tuple[str, str]:
    title = " ".join((title or "").split())
    body = (body or "").replace("\r\n", "\n").strip()
    if not title or len(title) > TITLE_MAX:
        raise InformationError(_("Give a title of at most %(max)d characters.", max=TITLE_MAX))
    if not body or len(body) > BODY_MAX:
        raise InformationError(_("Write the text (at most %(max)d characters).", max=BODY_MAX))
    return title, body


def parse_sources(text: str | None) -> list[dict]:
    """One source a line, ``Title | https://address``."""
    sources = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        title, _sep, url = (part.strip() for part in line.rpartition("|"))
        parts = urlsplit(url)
        if not title or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InformationError(
                _(
                    "Each source on its own line: Title | https://address (line “%(line)s”).",
                    line=line.strip()[:60],
                )
            )
        sources.append({"title": title[:200], "url": url[:500]})
    if not sources or len(sources) > SOURCES_MAX:
        raise InformationError(
            _("Give between 1 and %(max)d sources for the French text.", max=SOURCES_MAX)
        )
    return sources


def sources_as_text(sources: list[dict] | None) -> str:
    return "\n".join(f"{s['title']} | {s['url']}" for s in sources or [])


def create_sheet(slug: str, topic: str, actor=None) -> InfoSheet:
    slug = (slug or "").strip().lower()
    if not SLUG_RE.match(slug):
        raise InformationError(_("The address name: lower-case letters, digits and hyphens."))
    if topic not in SHEET_TOPICS:
        raise InformationError(_("Choose a topic."))
    if db.session.scalar(select(InfoSheet.id).where(InfoSheet.slug == slug)) is not None:
        raise InformationError(_("A sheet already has this address name."))
    sheet = InfoSheet(slug=slug, topic=topic, revision=0)
    db.session.add(sheet)
    db.session.flush()
    audit.record("info_sheet_created", sheet, actor=actor, details={"slug": slug})
    return sheet


def save_draft(
    sheet: InfoSheet,
    language: str,
    title: str | None,
    body: str | None,
    sources: str | None = None,
    actor=None,
) -> InfoSheetVersion:
    """Write (or rewrite) the draft of one language; it waits for a second person."""
    actor = actor if actor is not None else security.current_user_or_none()
    if language not in ALERT_LANGUAGES:
        raise InformationError(_("Unknown language."))
    title, body = _clean_text(title, body)
    if language != SOURCE_LANGUAGE and sheet.revision == 0:
        raise InformationError(_("Publish the French text before translating it."))
    version = sheet.version(language)
    if version is None:
        version = InfoSheetVersion(language=language, review="to_review")
        sheet.versions.append(version)
    version.draft_title, version.draft_body = title, body
    if language == SOURCE_LANGUAGE:
        version.draft_sources = parse_sources(sources)
    else:
        version.draft_revision = sheet.revision
    version.draft_by_id = getattr(actor, "id", None)
    version.draft_at = utcnow()
    db.session.flush()
    audit.record(
        "info_sheet_draft_saved",
        sheet,
        actor=actor,
        details={"language": language, "revision": sheet.revision},
    )
    return version


def may_publish(version: InfoSheetVersion, actor=None) -> bool:
    actor = actor if actor is not None else security.current_user_or_none()
    return (
        version.draft_body is not None
        and security.can(PUBLISH_CAPABILITY, actor)
        and getattr(actor, "id", None) != version.draft_by_id
    )


def publish(sheet: InfoSheet, language: str, *, native_review: bool = False, actor=None) -> None:
    """A second person publishes the draft of ``language``."""
    actor = actor if actor is not None else security.current_user_or_none()
    version = sheet.version(language)
    if version is None or version.draft_body is None:
        raise InformationError(_("There is no draft to publish."))
    if not security.can(PUBLISH_CAPABILITY, actor):
        raise InformationError(_("You may not publish sheets."))
    if getattr(actor, "id", None) == version.draft_by_id:
        raise InformationError(_("A second person must review and publish what you wrote."))
    if language == SOURCE_LANGUAGE:
        sheet.revision += 1
        version.published_revision = sheet.revision
        version.published_sources = version.draft_sources
        version.review = "reviewed"
    else:
        version.published_revision = version.draft_revision
        version.review = "reviewed" if native_review else "to_review"
    version.published_title, version.published_body = version.draft_title, version.draft_body
    version.written_by_id, version.published_by_id = version.draft_by_id, getattr(actor, "id", None)
    version.published_at = utcnow()
    version.draft_title = version.draft_body = version.draft_sources = None
    version.draft_revision = version.draft_by_id = version.draft_at = None
    sheet.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "info_sheet_published",
        sheet,
        actor=actor,
        details={"language": language, "revision": sheet.revision, "review": version.review},
    )


def mark_reviewed(sheet: InfoSheet, language: str, actor=None) -> None:
    """A native speaker checked the published translation."""
    actor = actor if actor is not None else security.current_user_or_none()
    version = sheet.version(language)
    if version is None or version.published_body is None:
        raise InformationError(_("Nothing is published in this language."))
    if not security.can(PUBLISH_CAPABILITY, actor):
        raise InformationError(_("You may not review sheets."))
    version.review = "reviewed"
    db.session.flush()
    audit.record("info_sheet_reviewed", sheet, actor=actor, details={"language": language})


# -- printing ----------------------------------------------------------------------------------
# The few words of the printed sheet around the text, in the ten alert languages.
PRINT_LABELS: dict[str, tuple[str, str, str]] = {
    # (sources, translation to review, French shown instead)
    "fr": ("Sources", "Traduction à relire par une personne de langue maternelle.", ""),
    "en": (
        "Sources",
        "Translation to be reviewed by a native speaker.",
        "This sheet is not yet available in English: here is the French version.",
    ),
    "es": (
        "Fuentes",
        "Traducción pendiente de revisión por un hablante nativo.",
        "Esta ficha aún no está disponible en español: aquí está la versión francesa.",
    ),
    "pt": (
        "Fontes",
        "Tradução a rever por um falante nativo.",
        "Esta ficha ainda não está disponível em português: eis a versão francesa.",
    ),
    "ro": (
        "Surse",
        "Traducere de verificat de un vorbitor nativ.",
        "Această fișă nu este încă disponibilă în română: iată versiunea în franceză.",
    ),
    "bg": (
        "Източници",
        "Преводът предстои да бъде проверен от носител на езика.",
        "Тази информация все още не е налична на български: ето френската версия.",
    ),
    "zh": ("来源", "译文有待母语人士审校。", "本资料暂无中文版本：以下为法文版本。"),
    "ru": (
        "Источники",
        "Перевод должен проверить носитель языка.",
        "Этот материал пока недоступен на русском: вот французская версия.",
    ),
    "uk": (
        "Джерела",
        "Переклад має перевірити носій мови.",
        "Цей матеріал ще недоступний українською: ось французька версія.",
    ),
    "ar": (
        "المصادر",
        "ترجمة بانتظار مراجعة متحدث أصلي باللغة.",
        "هذه الورقة غير متوفرة بعد بالعربية: إليكم النسخة الفرنسية.",
    ),
}


def printable(item: Served, language: str) -> dict:
    """Primitive values for the PDF template (reports_pdf/info_sheet.py)."""
    version = item.version
    shown = version.language
    french = item.sheet.version(SOURCE_LANGUAGE)
    labels = PRINT_LABELS[language]
    return {
        "language": shown,
        "direction": "rtl" if shown in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        "title": version.published_title,
        "body_html": str(render_markdown(version.published_body)),
        "sources_heading": labels[0],
        "sources": list((french.published_sources if french else None) or []),
        "review_note": labels[1] if version.review == "to_review" else "",
        "fallback_note": labels[2] if item.fallback else "",
        "fallback_language": language,
        "fallback_direction": "rtl" if language in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        "updated": version.published_at.date().isoformat(),
    }


def record_printed(sheet: InfoSheet, language: str) -> None:
    audit.record("info_sheet_printed", sheet, details={"language": language})
