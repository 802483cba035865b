"""Texts that reach workers besides the alerts themselves, in the ten alert languages.

Everything a worker reads goes through one mechanism: the ``alerts`` Babel domain, with
English message ids and one catalogue per language (``translations/<lang>/LC_MESSAGES/
alerts.po``, compiled by ``make translations``; ``alert_text`` explains how to extract and
merge after a change, listing this module with its own). Here:

* the programme's outreach messages, one per purpose (``outreach_text``): a new partner
  association's message templates start from them (``outreach.seed_templates``), and its
  Outreach leads adapt them; ``{programme}``, ``{register_url}`` and ``{check_url}`` are
  filled in when a text is shown;
* the unsubscribe page reached from an alert email (``unsubscribe_page``);
* the registration code and the "manage your subscription" message of a self-registration
  (``registration_message``), and the discreet alert SMS (``discreet_alert_sms``).

Pure: no Flask application or request is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from backoffice.services.alert_text import AP_, translations_for

OUTREACH_MESSAGES: dict[str, tuple[str, str]] = {
    # NOTE: The first message of an outreach round to someone never contacted. Short (one SMS
    # or chat message). Keep {programme} and {register_url} as they are.
    "first_contact": AP_(
        "outreach:first_contact",
        "Hi, I'm part of the {programme} team, a programme run by sex workers' "
        "community associations with Médecins du Monde. We send alerts about violent "
        "clients and help if something happens. Free, anonymous, no judgement: "
        "{register_url}",
    ),
    # NOTE: Outreach message: who the programme is. Keep {programme} as it is.
    "who_we_are": AP_(
        "outreach:who_we_are",
        "{programme} is run by sex workers' community associations with Médecins du "
        "Monde. Our teams include sex workers and health workers. We don't judge and "
        "we don't ask for your real name. Nothing you tell us is passed on without "
        "your agreement.",
    ),
    # NOTE: Outreach message: how to register for alerts. Keep {register_url} and
    # {check_url} as they are.
    "how_to_register": AP_(
        "outreach:how_to_register",
        "Register to receive alerts about violent clients in your area. A phone number "
        "is enough: no email, no real name. Alerts arrive by SMS in your language and "
        "you can stop them at any time.\nRegister: {register_url}\nCheck a client's "
        "number: {check_url}",
    ),
    # NOTE: Outreach message: the partner associations' free health support. Keep
    # {programme} as it is.
    "health_information": AP_(
        "outreach:health_information",
        "The {programme} partner associations offer free, confidential health support: "
        "HIV and STI testing, PrEP, condoms and lube, emergency contraception, "
        "vaccines, and help to get healthcare even without papers. Ask us for the "
        "nearest place, or for someone who speaks your language.",
    ),
    # NOTE: Outreach message: tools to stay safer. Keep {check_url} and {register_url} as
    # they are.
    "violence_prevention_tools": AP_(
        "outreach:violence_prevention_tools",
        "Tools to stay safer:\n- Check a client's number before meeting him: "
        "{check_url}\n- Tell someone you trust where you are going and when you expect "
        "to be back.\n- Receive alerts about violent clients near you: {register_url}\n- "
        "If a client is violent, tell us, even anonymously: it protects others.",
    ),
    # NOTE: Outreach message after an assault. Keep {programme}, "48", "PEP" and "CeGIDD":
    # they are what she will look for or ask about.
    "after_an_assault": AP_(
        "outreach:after_an_assault",
        "If you have been assaulted, we are here. After a rape or sex without a "
        "condom, a treatment against HIV (PEP) must be started as soon as possible, "
        "within 48 h at the latest: it is free at hospital emergency departments and "
        "at CeGIDD centres. You can report the aggressor to {programme} anonymously to "
        "warn others. A partner association can accompany you (health, complaint, "
        "shelter) if you wish.",
    ),
}

# NOTE: The page an alert email's unsubscribe link opens: its question.
UNSUBSCRIBE_QUESTION = AP_("unsubscribe page", "Stop receiving alerts?")
# NOTE: The page an alert email's unsubscribe link opens: its only button.
UNSUBSCRIBE_BUTTON = AP_("unsubscribe page", "Unsubscribe")
# NOTE: The unsubscribe page, when the link is no longer valid.
UNSUBSCRIBE_INVALID = AP_(
    "unsubscribe page",
    "This link is no longer valid. If you still receive alerts, reply STOP to an SMS or "
    "contact your association.",
)
# NOTE: The unsubscribe page opened without a link: how to stop the alerts.
UNSUBSCRIBE_HOW_TO = AP_(
    "unsubscribe page",
    "To stop receiving alerts, use the unsubscribe link in an alert email, or reply STOP "
    "to an alert SMS.",
)


# NOTE: SMS or email with a self-registration code. Keep %(programme)s and %(code)s.
REGISTRATION_CODE = AP_(
    "registration",
    "%(programme)s: your code is %(code)s. It expires in 10 minutes. Never give it to anyone.",
)
# NOTE: Sent instead of a code when the number or address is already registered: the code
# opens her existing subscription. Keep %(programme)s and %(code)s.
REGISTRATION_MANAGE = AP_(
    "registration",
    "%(programme)s: this number is already registered for alerts. To manage your "
    "subscription, enter this code: %(code)s (valid 10 minutes). If you did not ask for it, "
    "ignore this message.",
)
# NOTE: SMS sent when a partner association registers a number that is registered
# already: nothing changes; she can manage her subscription. Keep %(programme)s and %(link)s.
MANAGE_NOTICE = AP_(
    "registration",
    "%(programme)s: this number is already registered for alerts, nothing has changed. To "
    "manage your subscription: %(link)s",
)
# NOTE: Subject of the email carrying a registration code. Keep %(programme)s.
REGISTRATION_SUBJECT = AP_("registration", "Your %(programme)s code")
# NOTE: Discreet alert SMS: shown on a lock screen, so no word about violence or alerts.
# Keep %(reference)s and %(link)s.
DISCREET_ALERT = AP_("discreet alert", "New information %(reference)s: %(link)s")


def registration_message(
    language: str, code: str, programme: str, *, existing: bool
) -> tuple[str, str]:
    """(email subject, text) of a registration code, or of the "manage your subscription"
    message when the number was registered already."""
    message = REGISTRATION_MANAGE if existing else REGISTRATION_CODE
    text = _text(language, message) % {"programme": programme, "code": code}
    subject = _text(language, REGISTRATION_SUBJECT) % {"programme": programme}
    return subject, text


def manage_notice_sms(language: str, programme: str, link: str) -> str:
    """The SMS to a registered worker whom an association tried to register again."""
    return _text(language, MANAGE_NOTICE) % {"programme": programme, "link": link}


def discreet_alert_sms(language: str, reference: str, link: str) -> str:
    """An alert SMS with nothing a lock screen should show: a neutral line, the reference and
    where to read it."""
    return _text(language, DISCREET_ALERT) % {"reference": reference, "link": link}


def _text(language: str, message: tuple[str, str]) -> str:
    context, msgid = message
    return translations_for(language).pgettext(context, msgid)


def outreach_text(purpose: str, language: str) -> str:
    """The programme's outreach message for ``purpose`` in ``language``, placeholders kept."""
    return _text(language, OUTREACH_MESSAGES[purpose])


@dataclass(frozen=True)
class UnsubscribePage:
    question: str
    button: str
    invalid: str
    how_to: str


def unsubscribe_page(language: str) -> UnsubscribePage:
    """The unsubscribe page's sentences in ``language``."""
    return UnsubscribePage(
        question=_text(language, UNSUBSCRIBE_QUESTION),
        button=_text(language, UNSUBSCRIBE_BUTTON),
        invalid=_text(language, UNSUBSCRIBE_INVALID),
        how_to=_text(language, UNSUBSCRIBE_HOW_TO),
    )


# --- The emergency liaison sheet for a doctor (``services/cases/liaison.py``) ------------------
# One A4 page: French on the front for the doctor, the same in her language on the back, for
# her and for a doctor or interpreter who reads it. Third person throughout ("her language").

LIAISON_SHEET: dict[str, tuple[str, str]] = {
    # NOTE: Title of the sheet a social worker prints for the doctor or the emergency
    # department after an assault.
    "title": AP_("liaison sheet", "Emergency medical liaison sheet"),
    # NOTE: Under the title. Keep %(reference)s (the case reference) and %(printed)s (a date
    # and time with its zone).
    "for_whom": AP_(
        "liaison sheet",
        "For the doctor or the emergency department. Case %(reference)s, printed %(printed)s.",
    ),
    # NOTE: Heading: when the assault happened.
    "heading_incident": AP_("liaison sheet", "The incident"),
    # NOTE: Keep %(date)s and %(time)s.
    "incident_at": AP_("liaison sheet", "Incident: %(date)s at %(time)s"),
    # NOTE: Keep %(date)s.
    "incident_day": AP_("liaison sheet", "Incident: %(date)s, time not known"),
    "incident_unknown": AP_("liaison sheet", "Date of the incident not known: ask her."),
    # NOTE: Keep %(span)s (e.g. "31 h 20 min").
    "since": AP_("liaison sheet", "Time since the incident: %(span)s"),
    # NOTE: When only the day is known, the time is counted from midnight. Keep %(span)s.
    "since_at_most": AP_(
        "liaison sheet",
        "Time since the incident: at most %(span)s (counted from the start of the day)",
    ),
    # NOTE: A duration in hours and minutes, e.g. "31 h 05 min". Keep %(hours)s and
    # %(minutes)s.
    "span": AP_("liaison sheet", "%(hours)s h %(minutes)s min"),
    # NOTE: Heading: treatments that must start before a deadline.
    "heading_windows": AP_("liaison sheet", "Treatments with a deadline"),
    # NOTE: Keep "PEP" and "48".
    "pep": AP_("liaison sheet", "HIV post-exposure treatment (PEP): within 48 hours"),
    # NOTE: Keep "120".
    "contraception": AP_("liaison sheet", "Emergency contraception: within 120 hours (5 days)"),
    # NOTE: A treatment window still open. Keep %(span)s and %(deadline)s (date and time).
    "open": AP_("liaison sheet", "Still possible: %(span)s left, until %(deadline)s"),
    # NOTE: A treatment window closed. Keep %(span)s and %(deadline)s (date and time).
    "closed": AP_("liaison sheet", "Deadline passed %(span)s ago (%(deadline)s)"),
    "window_unknown": AP_("liaison sheet", "Cannot be computed without the date of the incident"),
    # NOTE: Heading: the certificate a doctor writes after an assault (France).
    "heading_certificate": AP_("liaison sheet", "Initial medical certificate"),
    # NOTE: Keep "(certificat médical initial)" and "(ITT)" in French: she shows them in France.
    "certificate": AP_(
        "liaison sheet",
        "Please write an initial medical certificate (certificat médical initial) recording "
        "the injuries you observe and, if any, the days of total incapacity for work (ITT). "
        "Give it to her: she may need it to file a complaint.",
    ),
    # NOTE: Heading: the language she speaks.
    "heading_language": AP_("liaison sheet", "Her language"),
    "language_unknown": AP_("liaison sheet", "Not recorded"),
    "interpreter": AP_(
        "liaison sheet",
        "If she does not speak French well, ask for a professional interpreter (by phone if "
        "needed).",
    ),
    # NOTE: Heading: the social worker of the partner association who follows her.
    "heading_contact": AP_("liaison sheet", "Social worker following her"),
    "label_association": AP_("liaison sheet", "Association"),
    "label_phone": AP_("liaison sheet", "Phone"),
    "label_email": AP_("liaison sheet", "Email"),
    # NOTE: Heading of her own account of the assault, printed only when she agreed.
    "heading_testimony": AP_("liaison sheet", "Her account (shared with her consent)"),
    "testimony_shortened": AP_(
        "liaison sheet", "(shortened: the social worker has the full account)"
    ),
    "no_testimony": AP_(
        "liaison sheet",
        "She has not agreed to share her account. Ask her only what the care requires.",
    ),
    # NOTE: On the back (her language): her account is printed on the French side only.
    "testimony_on_front": AP_(
        "liaison sheet", "Her account, which she agreed to share, is on the French side."
    ),
    # NOTE: Keep %(language)s (a language's name).
    "back_note": AP_("liaison sheet", "The back of this sheet says the same in %(language)s."),
    "confidential": AP_(
        "liaison sheet",
        "Confidential medical information. This sheet belongs to her: give it back to her or "
        "keep it in her medical file.",
    ),
}

# --- Emergency numbers and the public site, printed on the alert and liaison sheets ----------

# NOTE: Heading of the list of French emergency numbers.
EMERGENCY_HEADING = AP_("emergency numbers", "Emergency numbers (free, 24 hours a day)")
EMERGENCY_NUMBERS: tuple[tuple[str, tuple[str, str]], ...] = (
    # NOTE: What the French number 17 is for.
    ("17", AP_("emergency numbers", "Police")),
    # NOTE: What 112 is for.
    ("112", AP_("emergency numbers", "Emergencies, from any phone, anywhere in Europe")),
    # NOTE: What the French number 3919 (Violences Femmes Info) is for.
    ("3919", AP_("emergency numbers", "Violence against women: listening and advice, anonymous")),
    # NOTE: What the French number 119 (Allô Enfance en danger) is for.
    ("119", AP_("emergency numbers", "Children in danger")),
)
# NOTE: Footer of the printed alert sheet. Keep %(url)s.
PUBLIC_SITE_FOOTER = AP_("emergency numbers", "Alerts, help and the partner associations: %(url)s")


def liaison_texts(language: str) -> dict[str, str]:
    """The liaison sheet's sentences in ``language``, placeholders kept."""
    return {key: _text(language, message) for key, message in LIAISON_SHEET.items()}


def emergency_numbers(language: str) -> list[dict[str, str]]:
    """The emergency numbers with what each is for, in ``language``."""
    return [
        {"number": number, "meaning": _text(language, meaning)}
        for number, meaning in EMERGENCY_NUMBERS
    ]


def emergency_heading(language: str) -> str:
    return _text(language, EMERGENCY_HEADING)


def public_site_footer(language: str, url: str) -> str:
    return _text(language, PUBLIC_SITE_FOOTER) % {"url": url}
