"""Demo outreach rounds: platforms, demo-outreach as an Outreach lead, and two rounds of
Jasmine (one closed, one open) entered through the real outreach service."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from backoffice.demo.base import AIDES, JASMINE, DemoContext
from backoffice.extensions import db
from backoffice.models.outreach import (
    OUTCOME_MESSAGE,
    OUTCOME_REFERRAL,
    SESSION_OPEN,
    OutreachLead,
    OutreachSession,
    Platform,
)
from backoffice.services import outreach
from backoffice.services.timezones import to_utc

DEMO_PLATFORMS = [
    ("Annonces-Escort (démo)", "escort_site"),
    ("Petites annonces locales (démo)", "classifieds"),
    ("Instagram", "social_network"),
    ("Telegram", "social_network"),
    ("X (Twitter)", "social_network"),
    ("Tinder", "dating_app"),
]
# Made-up numbers. The second round pastes one number of the first in another spelling:
# the check recognises it and it is not added twice.
_DEMO_ROUNDS = [
    {
        "days_ago": 21,
        "start": dt.time(20, 0),
        "city": "Paris",
        "department": "75",
        "platforms": ["Annonces-Escort (démo)", "Instagram"],
        "lines": [
            "06 21 45 10 77",
            "+33 6 22 45 11 77",
            "0033623451277",
            "07 64 18 20 31",
            "06 25 45 14 77",
            "@lila.paris.demo",
            "06 26 45 15 77",
            "07 65 18 21 31",
        ],
        "languages": ["fr", "ro", "es", "pt", "fr", "en", "bg", "zh"],
        "replies": [1, 3, 5],
        "registrations": [3],
        "referrals": [5],
        "close": True,
    },
    {
        "days_ago": 1,
        "start": dt.time(19, 30),
        "city": "Lyon",
        "department": "69",
        "platforms": ["Petites annonces locales (démo)", "Telegram"],
        "lines": [
            "06 31 52 40 12",
            "+33 6 21 45 10 77",
            "06 32 52 41 12",
            "+33 7 66 18 22 31",
            "https://www.instagram.com/demo.jasmine.lyon/",
            "06 33 52 42 12",
        ],
        "languages": ["fr", "ru", "uk", "fr", "ar"],
        "replies": [0, 2],
        "registrations": [2],
        "referrals": [],
        "close": False,
    },
]


def seed_outreach(context: DemoContext) -> None:
    """Platforms, demo-outreach as a lead, two past rounds (once)."""
    platforms = outreach.ensure_platforms(DEMO_PLATFORMS)
    organisation = context.organisations[JASMINE]
    volunteer = context.users["demo-outreach"]
    lead = select(OutreachLead.id).where(OutreachLead.user_id == volunteer.id)
    if db.session.scalar(lead) is None:
        db.session.add(OutreachLead(user_id=volunteer.id))
    already = select(OutreachSession.id).where(OutreachSession.organisation_id == organisation.id)
    if db.session.scalar(already.limit(1)) is not None:
        return
    for round_ in _DEMO_ROUNDS:
        _seed_round(round_, context, volunteer, platforms)
    context.lines.append(
        "Outreach: two demo rounds for Jasmine (one closed, one open); demo-outreach is a lead."
    )


def _seed_round(round_: dict, context: DemoContext, volunteer, platforms: dict[str, Platform]):
    organisation = context.organisations[JASMINE]
    day = dt.date.today() - dt.timedelta(days=round_["days_ago"])
    started = to_utc(dt.datetime.combine(day, round_["start"]), round_["department"])
    session = OutreachSession(
        organisation_id=organisation.id,
        session_date=day,
        start_time=round_["start"],
        duration_minutes=120,
        city=round_["city"],
        department=round_["department"],
        status=SESSION_OPEN,
        created_by_id=volunteer.id,
        team=[volunteer],
        platforms=[platforms[name] for name in round_["platforms"]],
        notes="Démo : annonces du soir, beaucoup de nouvelles annonces.",
    )
    db.session.add(session)
    db.session.flush()
    added = outreach.add_contacts(
        session, "\n".join(round_["lines"]), platform_id=session.platforms[0].id, user=volunteer
    ).contacts
    aides = context.organisations[AIDES]
    for position, contact in enumerate(added):
        contact.contacted_at = started + dt.timedelta(minutes=5 * position)
        contact.language = round_["languages"][position % len(round_["languages"])]
        sent = contact.contacted_at + dt.timedelta(minutes=1)
        _log(session, contact, OUTCOME_MESSAGE, sent, volunteer, purpose="first_contact")
        later = sent + dt.timedelta(minutes=20)
        for kind, positions in (
            ("reply", round_["replies"]),
            ("registration", round_["registrations"]),
        ):
            if position in positions:
                _log(session, contact, kind, later, volunteer)
        if position in round_["referrals"]:
            _log(session, contact, OUTCOME_REFERRAL, later, volunteer, referral=aides.id)
    if round_["close"]:
        outreach.close_session(session)
    db.session.flush()


def _log(session, contact, kind, when, user, *, purpose=None, referral=None) -> None:
    data = outreach.OutcomeInput(
        kind=kind,
        purpose=purpose,
        language=contact.language if kind != OUTCOME_REFERRAL else None,
        referral_organisation_id=referral,
        occurred_at=when,
    )
    outreach.log_outcomes(session, [contact.id], data, user)
