"""Demo cases: a living follow-up in AIDES and Acceptess-T, built through the real services.

Fictional people only: invented pseudonyms, phone numbers from the range ARCEP sets aside
for fiction (06 39 98 …), example.org addresses. Referrals go to structures of the demo
directory, found by category; without a directory, referrals are skipped (and said so).
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from backoffice.demo.base import ACCEPTESS, AIDES, DemoContext
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import Case
from backoffice.services import cases
from backoffice.services.timezones import local_today, to_local
from backoffice.transactions import checkpoint

SEED = 6_2026
CASES_PER_ORGANISATION = 9
PSEUDONYMS = [
    "Lila", "Bianca", "Jade", "Roxana", "Mei", "Daniela", "Ioana", "Kiara", "Nadia", "Sofia",
    "Yasmine", "Carla", "Elena", "Tatiana", "Amina", "Luz", "Valentina", "Ana",
]  # fmt: skip
LANGUAGES = ["fr", "fr", "pt", "es", "ro", "zh", "bg", "ru", "en"]
NOTES = [
    "Premier contact par SMS. Elle préfère être appelée l'après-midi.",
    "Entretien à l'association : elle souhaite être accompagnée pour un dépistage.",
    "Rendez-vous pris au CeGIDD, elle y va avec une paire.",
    "Elle ne souhaite pas porter plainte pour l'instant ; information sur les délais donnée.",
    "Point sur l'hébergement : solution chez une amie jusqu'à la fin du mois.",
    "Accompagnement à la préfecture prévu, dossier de titre de séjour en cours.",
    "Appel de suivi : elle va mieux, souhaite garder le contact.",
    "Orientation vers la permanence juridique, elle hésite encore.",
]
CATEGORIES_FOR_NEED = {
    "health": ("cegidd", "hospital"),
    "legal": ("lawyer", "community"),
    "shelter": ("shelter", "allied"),
    "psychological": ("community", "allied"),
    "administrative": ("allied", "community"),
    "financial": ("allied", "community"),
}
ORGANISATIONS = ((AIDES, "demo-social-a"), (ACCEPTESS, "demo-social-b"))


def seed_cases(context: DemoContext) -> None:
    if db.session.scalar(select(func.count(Case.id))):
        return
    rng = random.Random(SEED)  # noqa: S311 - demo data, reproducible on purpose
    referrals = 0
    for organisation_name, username in ORGANISATIONS:
        worker = context.users[username]
        department = (context.organisations[organisation_name].departments or ["75"])[0]
        for number in range(CASES_PER_ORGANISATION):
            case = _demo_case(rng, worker, department, number)
            referrals += _demo_referrals(rng, case, worker)
            _demo_actions(rng, case, worker, number)
            _demo_outcome(rng, case, worker, number)
        checkpoint()
    routed = _route_one_report(context)
    line = f"Demo cases: {CASES_PER_ORGANISATION} in each of {AIDES} and {ACCEPTESS}"
    line += f", {referrals} referrals" if referrals else ", no referral (empty directory)"
    line += f", case {routed} opened from a routed report." if routed else "."
    context.lines.append(line)


def _demo_case(rng: random.Random, worker, department: str, number: int) -> Case:
    now = utcnow()
    opened = now - dt.timedelta(days=rng.randint(2, 200), hours=rng.randint(0, 10))
    recent_rape = number == 0  # one case shows the 48-hour treatment deadline running
    incident = (now - dt.timedelta(hours=20)) if recent_rape else opened - dt.timedelta(days=1)
    incident_local = to_local(incident, department)
    violence = (
        ["rape"]
        if recent_rape
        else rng.sample(["theft", "physical_assault", "threats", "non_payment", "harassment"], 2)
    )
    case = cases.open_direct(
        worker,
        cases.Contact(
            name=rng.choice(PSEUDONYMS),
            phone=f"06 39 98 {rng.randint(10, 99)} {rng.randint(10, 99)}",
            email=None if rng.random() < 0.6 else f"demo{number}@example.org",
            preferred_language=rng.choice(LANGUAGES),
            instructions=rng.choice([None, "SMS uniquement.", "Pas d'appel après 20 h."]),
        ),
        cases.CaseFacts(
            incident_date=incident_local.date(),
            incident_time=incident_local.time().replace(second=0, microsecond=0),
            department=department,
            violence_types=violence,
        ),
        needs=["health", *rng.sample(["legal", "shelter", "psychological", "administrative"], 2)],
        assignee_id=worker.id,
        consent_follow_up=True,
    )
    case.opened_at = now - dt.timedelta(hours=4) if recent_rape else opened
    _demo_first_contact(case, worker, number)
    if recent_rape:
        _demo_notes(rng, case, worker, now - dt.timedelta(hours=3), dt.timedelta(minutes=40))
    else:
        _demo_notes(rng, case, worker, opened, dt.timedelta(days=3))
    return case


# Hours from opening to the first contact, by case number: most within a day, some later;
# None = not reached yet (the last case of each association, and the routed report's).
FIRST_CONTACT_HOURS = [0.5, 2, 5, 26, 1, 70, 9, 130, None]


def _demo_first_contact(case: Case, worker, number: int) -> None:
    hours = FIRST_CONTACT_HOURS[number % len(FIRST_CONTACT_HOURS)]
    if hours is None:
        return
    latest = utcnow() - dt.timedelta(minutes=20)
    moment = min(case.opened_at + dt.timedelta(hours=hours), latest)
    # Recorded as if the social worker clicked "first contact made" at that moment.
    cases.record_first_contact(case, worker, now=moment)


def _demo_notes(rng: random.Random, case: Case, worker, start, step: dt.timedelta) -> None:
    """Two to four notes from ``start``, ``step`` apart, all in the past (edit window over)."""
    latest = utcnow() - dt.timedelta(hours=1)
    notes = []
    for index, text in enumerate(rng.sample(NOTES, rng.randint(2, 4))):
        note = cases.add_note(case, text, worker)
        note.created_at = min(start + step * index, latest - dt.timedelta(minutes=10 - index))
        notes.append(note)
    if rng.random() < 0.3:
        correction = cases.add_note(
            case, "Précision : le rendez-vous a été déplacé au lendemain.", worker, notes[0]
        )
        correction.created_at = min(notes[0].created_at + dt.timedelta(minutes=30), latest)


def _structure_for(need: str, department: str):
    from backoffice.models.structure import Structure

    for category in CATEGORIES_FOR_NEED[need]:
        found = db.session.scalar(
            select(Structure)
            .where(Structure.category == category, Structure.active.is_(True))
            .order_by((Structure.department == department).desc(), Structure.name)
            .limit(1)
        )
        if found is not None:
            return found
    return None


def _demo_referrals(rng: random.Random, case: Case, worker) -> int:
    made = 0
    for need in case.need_codes[:2]:
        structure = _structure_for(need, case.department)
        if structure is None:
            continue
        referral = cases.add_referral(
            case, structure.id, need, worker, notes="Proposé en entretien."
        )
        made += 1
        steps = rng.choice([[], ["accepted"], ["appointment"], ["appointment", "done"]])
        # A referral already done had its appointment in the past; the others are to come.
        days = rng.randint(1, 10) * (-1 if "done" in steps else 1)
        when = to_local(utcnow() + dt.timedelta(days=days), case.department)
        for status in steps:
            cases.change_referral(
                referral, status, worker, appointment_local=when.replace(tzinfo=None, second=0)
            )
    return made


def _demo_actions(rng: random.Random, case: Case, worker, number: int) -> None:
    today = local_today(case.department)
    cases.add_action(
        case,
        "call_back",
        today - dt.timedelta(days=rng.randint(1, 5)),
        worker.id,
        worker,
        details="Rappeler pour le résultat du dépistage.",
    )
    cases.add_action(
        case,
        rng.choice(["accompany", "check_in", "document"]),
        today + dt.timedelta(days=rng.randint(0, 6)),
        worker.id,
        worker,
    )
    if number % 3 == 0:
        done = cases.add_action(
            case, "appointment", today - dt.timedelta(days=10), worker.id, worker
        )
        cases.complete_action(done, worker)


def _demo_outcome(rng: random.Random, case: Case, worker, number: int) -> None:
    if number in (3, 6):
        cases.change_status(case, "active", worker)
        cases.close_case(case, rng.choice(["needs_met", "lost_contact"]), worker)
    elif number % 2:
        cases.change_status(case, "active", worker)
    elif number == 4:
        cases.change_status(case, "waiting", worker)


def _route_one_report(context: DemoContext) -> str | None:
    reports = cases.routable_reports(limit=1)
    if not reports:
        return None
    moderator = context.users["demo-moderator"]
    case = cases.route_report(reports[0].id, context.organisations[AIDES].id, moderator)
    return case.reference
