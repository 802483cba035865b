"""The emergency liaison sheet a social worker prints for the doctor or the emergency
department (issue 18, item 7): one A4 page, French on the front, the same in her language on
the back.

It says how long ago the incident was (when only the day is known, counted from midnight,
which errs on the early side like the deadlines), whether the treatment (HIV post-exposure
treatment, 48 h) and emergency contraception (120 h) windows are still open and for how long,
asks for the initial medical certificate, gives the social worker's professional contact and
her language, and carries her account only if she agreed: an active consent of the kind
"doctor" with her testimony (``record_legal_consent``, the consent mechanism of the dossiers).

Her language is sealed: reading it goes through the case's ``SealedReader``, audited in the
request's transaction with the printing itself (``case_liaison_sheet_printed``). Nothing else
is written: the sheet is not kept. Texts come from the ``alerts`` catalogues
(``worker_texts.LIAISON_SHEET``), so each side reads in one of the ten alert languages; a
language outside them gets the English back. Times are the wall clock of the incident's
department, with the zone.

Rules never import the PDF package: the view passes ``render(context) -> bytes``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time

from backoffice.models.base import utcnow
from backoffice.models.case import Case, LegalConsent
from backoffice.services import audit
from backoffice.services.alert_text import BABEL_LOCALES, LANGUAGE_NAMES
from backoffice.services.cases.deadlines import flag_deadline
from backoffice.services.cases.dossiers import active_consent, read_testimony
from backoffice.services.cases.rules import require_live
from backoffice.services.cases.sealed import reading
from backoffice.services.timezones import to_local, to_utc, zone_for
from backoffice.services.vocabulary import ALERT_LANGUAGES, RIGHT_TO_LEFT_LANGUAGES
from backoffice.services.worker_texts import emergency_heading, emergency_numbers, liaison_texts

Render = Callable[[dict], bytes]

# The consent kind (``LEGAL_RECIPIENTS``) that lets her account go to a doctor.
DOCTOR = "doctor"
# Her account is cut beyond this width, so that the front stays one page (a wide character,
# Chinese, counts twice: it takes twice the room of a Latin, Cyrillic or Arabic one).
TESTIMONY_MAX_WIDTH = 1400
FRONT_LANGUAGE = "fr"
FALLBACK_BACK_LANGUAGE = "en"
WINDOWS = (("pep", "pep"), ("emergency_contraception", "contraception"))


def back_language(preferred: str | None) -> str | None:
    """The language of the back: hers when it is an alert language; English for another
    or an unknown one; none when she reads French."""
    code = (preferred or "").strip().lower()
    if code == FRONT_LANGUAGE:
        return None
    return code if code in ALERT_LANGUAGES else FALLBACK_BACK_LANGUAGE


def shorten(text: str, max_width: int) -> tuple[str, bool]:
    """(``text`` cut to ``max_width`` at a word when it has spaces, True) or (text, False)."""
    width = 0
    for index, char in enumerate(text):
        width += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if width > max_width:
            cut = text[:index]
            if " " in cut[-40:]:
                cut = cut.rsplit(" ", 1)[0]
            return cut + " …", True
    return text, False


def testimony_consent(case: Case) -> LegalConsent | None:
    """Her active consent to give her account to a doctor, if she gave one."""
    return active_consent(case, DOCTOR, testimony=True)


def _language_name(code: str | None, reader: str) -> str | None:
    """``code``'s name in the reader's language (its own name on her side)."""
    if not code:
        return None
    if code == reader and code in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[code]
    try:
        names = Locale.parse(BABEL_LOCALES.get(reader, reader)).languages
    except (UnknownLocaleError, ValueError):
        names = {}
    return names.get(code.lower(), code)


def _span(texts: dict, delta: dt.timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return texts["span"] % {"hours": str(hours), "minutes": f"{minutes:02d}"}


def _moment(value: dt.datetime, zone, locale: str) -> str:
    """A stored (naive UTC) moment as the department's wall clock, with the zone."""
    aware = to_local(value, zone)
    return f"{format_datetime(aware, 'short', tzinfo=aware.tzinfo, locale=locale)} {aware.tzname()}"


def _line(text: str, **values: str) -> dict:
    """A sentence and the values it holds (isolated when printed, for right-to-left pages)."""
    return {"text": text, "values": values}


def _incident(case: Case, texts: dict, locale: str, now: dt.datetime) -> list[dict]:
    if case.incident_date is None:
        return [_line(texts["incident_unknown"])]
    date = format_date(case.incident_date, "long", locale=locale)
    start = to_utc(
        dt.datetime.combine(case.incident_date, case.incident_time or dt.time(0, 0)),
        case.department,
    )
    since = max(now - start, dt.timedelta(0))
    if case.incident_time is None:
        return [
            _line(texts["incident_day"], date=date),
            _line(texts["since_at_most"], span=_span(texts, since)),
        ]
    time = format_time(case.incident_time, "short", locale=locale)
    zone_name = to_local(start, zone_for(case.department)).tzname()
    return [
        _line(texts["incident_at"], date=date, time=f"{time} {zone_name}"),
        _line(texts["since"], span=_span(texts, since)),
    ]


def _windows(case: Case, texts: dict, locale: str, now: dt.datetime) -> list[dict]:
    zone = zone_for(case.department)
    rows = []
    for kind, key in WINDOWS:
        deadline = flag_deadline(kind, case.incident_date, case.incident_time, case.department)
        if deadline is None:
            state, status = "unknown", _line(texts["window_unknown"])
        else:
            left = deadline - now
            state = "open" if left.total_seconds() > 0 else "closed"
            status = _line(
                texts[state], span=_span(texts, left), deadline=_moment(deadline, zone, locale)
            )
        rows.append({"label": texts[key], "state": state, "status": status})
    return rows


def _contact(case: Case, actor) -> dict:
    """The professional contact of the social worker following her (the case's assignee, or
    whoever prints), and of her association: never the victim's."""
    worker = case.assignee or actor
    organisation = getattr(worker, "organisation", None)
    name = " ".join(
        part
        for part in (getattr(worker, "first_name", ""), getattr(worker, "last_name", ""))
        if part
    )
    return {
        "name": name,
        "association": getattr(organisation, "name", "") or "",
        "phone": getattr(organisation, "contact_phone", "") or "",
        "email": getattr(worker, "email", "") or getattr(organisation, "contact_email", "") or "",
    }


def _side(
    case: Case, language: str, preferred: str | None, back: str | None, now: dt.datetime
) -> dict:
    texts = liaison_texts(language)
    locale = BABEL_LOCALES[language]
    return {
        "language": language,
        "direction": "rtl" if language in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        "texts": texts,
        "for_whom": _line(
            texts["for_whom"],
            reference=case.reference,
            printed=_moment(now, zone_for(case.department), locale),
        ),
        "incident": _incident(case, texts, locale, now),
        "windows": _windows(case, texts, locale, now),
        "language_name": _language_name(preferred, language) or texts["language_unknown"],
        "back_note": (
            _line(texts["back_note"], language=_language_name(back, language))
            if back and language == FRONT_LANGUAGE
            else None
        ),
        "emergency_heading": emergency_heading(language),
        "emergency_numbers": emergency_numbers(language),
    }


def liaison_context(case: Case, actor, *, now: dt.datetime | None = None) -> dict:
    """What the sheet prints, in primitive values; her language and account are decrypted
    (each read audited with the printing, in the caller's transaction)."""
    require_live(case)
    now = now or utcnow()
    with reading(case) as sealed:
        preferred = sealed.open(case, "victim_preferred_language")
    back = back_language(preferred)
    consent = testimony_consent(case)
    testimony = read_testimony(case).strip() if consent and case.report is not None else ""
    testimony, shortened = shorten(testimony, TESTIMONY_MAX_WIDTH)
    sides = [_side(case, FRONT_LANGUAGE, preferred, back, now)]
    if back:
        sides.append(_side(case, back, preferred, back, now))
    audit.record(
        "case_liaison_sheet_printed",
        case,
        actor=actor,
        details={
            "languages": [side["language"] for side in sides],
            "testimony": bool(testimony),
            "consent": consent.id if consent else None,
        },
    )
    return {
        "reference": case.reference,
        "sides": sides,
        "contact": _contact(case, actor),
        "testimony_consent": consent is not None,
        "testimony": testimony,
        "testimony_shortened": shortened,
    }


def liaison_sheet(case: Case, actor, render: Render, *, now: dt.datetime | None = None) -> bytes:
    """The sheet's PDF; ``CaseRuleError`` for an erased case."""
    return render(liaison_context(case, actor, now=now))
