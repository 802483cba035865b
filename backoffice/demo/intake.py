"""Demo reports: about 200 testimonies over the last two years, through the real intake.

Mostly French, a few in English, Portuguese and Spanish; many departments and violence
types; a dozen recurring aggressors whose phone, plate or pseudonym come back in several
reports (corroboration), the others seen once. Every report goes through
``intake.validate_report`` and ``intake.create_report``, so everything is normalised and
encrypted as in production. The anonymisation assistant then runs on them at once (not left
to the job), so a newcomer sees redaction proposals straight away.

Nothing here can be a real person's: phone numbers are in the ranges the French regulator
(ARCEP) reserves for fiction (01 99 00, 02 61 91, 03 53 01, 04 65 71, 05 36 49 — its mobile
range 06 39 98 is refused as invalid by the phone-number library, so the geographic ones
are used); licence plates use the letters I, O and U, which the French registration system
never issues; emails are at example.org/.net.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import click
from sqlalchemy import func, select

from backoffice.demo.base import AIDES, DemoContext
from backoffice.extensions import db
from backoffice.models.api_client import ApiClient
from backoffice.models.base import utcnow
from backoffice.models.report import Report
from backoffice.services import intake
from backoffice.transactions import checkpoint

REPORT_COUNT = 200
SEED = 2026
HISTORY_DAYS = 730
# Reports of the last days are the moderators' current work (the moderation demo leaves them
# in the queue); the older ones were settled when they came. About one in five is recent.
QUEUE_DAYS = 10
RECENT_SHARE = 0.2

# Departments weighted roughly like the programme's activity.
DEPARTMENTS = (
    ["75"] * 30
    + ["93"] * 8
    + ["13"] * 10
    + ["69"] * 9
    + ["31"] * 6
    + ["33"] * 6
    + ["59"] * 6
    + ["67"] * 4
    + ["44"] * 4
    + ["34"] * 4
    + ["06"] * 5
    + ["92", "94", "95", "77", "78", "91", "38", "42", "76", "35", "29", "57", "54", "21", "25"]
    + ["2A", "974", "971", "63", "87", "64", "66", "84", "83", "30", "11", "17", "37", "45"]
)
CITIES = {
    "75": "Paris",
    "93": "Saint-Denis",
    "13": "Marseille",
    "69": "Lyon",
    "31": "Toulouse",
    "33": "Bordeaux",
    "59": "Lille",
    "67": "Strasbourg",
    "44": "Nantes",
    "34": "Montpellier",
    "06": "Nice",
    "2A": "Ajaccio",
    "974": "Saint-Denis",
    "971": "Pointe-à-Pitre",
}
# (violence types, weight): the programme's yearly mix, thefts and non-payment first.
VIOLENCE_MIXES = [
    (["non_payment"], 14),
    (["theft"], 12),
    (["condom_removal"], 9),
    (["condom_removal", "theft"], 4),
    (["rape"], 7),
    (["attempted_rape"], 3),
    (["sexual_assault"], 4),
    (["armed_robbery"], 5),
    (["physical_assault"], 6),
    (["physical_assault", "theft"], 3),
    (["harassment"], 4),
    (["cyber_harassment"], 3),
    (["threats"], 4),
    (["threats", "outing"], 2),
    (["attempted_murder"], 2),
    (["other"], 6),
]
CONTEXTS = ["street", "car", "indoor_home", "indoor_hotel", "client_home", "online", "other"]
PLATFORMS = ["une annonce en ligne", "un site d'annonces", "une appli de rencontre", "Telegram"]
VEHICLES = [
    ("Renault", "Clio", "grey"),
    ("Peugeot", "308", "black"),
    ("Volkswagen", "Golf", "white"),
    ("Citroën", "C3", "blue"),
    ("BMW", "Série 3", "black"),
    ("Dacia", "Sandero", "red"),
    ("Toyota", "Yaris", "silver"),
]
VICTIM_NAMES = ["Lila", "Nadia", "Jessica", "Bianca", "Mei", "Sofia", "Ioana", "Ana", "Kenza"]
STREETS = ["12 rue des Lilas", "4 avenue Jean-Jaurès", "27 boulevard Voltaire", "8 rue Pasteur"]


@dataclass(frozen=True)
class Aggressor:
    phone: str | None
    plate: str | None
    pseudonym: str | None
    email: str | None
    description: dict
    vehicle: tuple[str, str, str] | None
    department: str


FICTION_PHONE_PREFIXES = ("01 99 00", "02 61 91", "03 53 01", "04 65 71", "05 36 49")


def _fiction_phone(rng: random.Random, used: set[str]) -> str:
    while True:
        prefix = rng.choice(FICTION_PHONE_PREFIXES)
        phone = f"{prefix} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"
        if phone not in used:
            used.add(phone)
            return phone


def _fiction_plate(rng: random.Random) -> str:
    # I, O and U are never issued in the SIV system: such a plate cannot be a real car's.
    never = "IOU"
    letters = "ABCDEFGHJKLMNPRSTVWXYZ"
    return (
        f"{rng.choice(never)}{rng.choice(letters)}-{rng.randint(100, 999)}-"
        f"{rng.choice(letters)}{rng.choice(never)}"
    )


def _pseudonym(rng: random.Random, number: int) -> str:
    return f"{rng.choice(['Marc', 'Julien', 'Karim', 'Tony', 'Seb'])}{number}{rng.randint(10, 99)}"


def _aggressors(rng: random.Random, used: set[str], count: int) -> list[Aggressor]:
    found = []
    for number in range(count):
        has_car = rng.random() < 0.5
        found.append(
            Aggressor(
                phone=_fiction_phone(rng, used) if rng.random() < 0.8 else None,
                plate=_fiction_plate(rng) if has_car else None,
                pseudonym=_pseudonym(rng, number) if rng.random() < 0.5 else None,
                email=f"client{number}{rng.randint(100, 999)}@example.org"
                if rng.random() < 0.15
                else None,
                description={
                    "gender": "man",
                    "age_range": rng.choice(["26-35", "36-45", "46-55", "56-65"]),
                    "height": rng.choice(["short", "medium", "tall"]),
                    "build": rng.choice(["slim", "medium", "heavy", "muscular"]),
                    "hair": rng.choice(["courts bruns", "rasé", "gris", "blonds", "noirs bouclés"]),
                },
                vehicle=rng.choice(VEHICLES) if has_car else None,
                department=rng.choice(DEPARTMENTS),
            )
        )
    return found


# --- narratives -----------------------------------------------------------------------------

FR_EVENTS = {
    "rape": "Il m'a forcée à avoir un rapport alors que j'avais dit non.",
    "attempted_rape": "Il a essayé de me forcer, j'ai crié et il s'est enfui.",
    "sexual_assault": "Il m'a touchée de force alors que j'avais refusé.",
    "condom_removal": "Pendant le rapport il a retiré le préservatif sans me le dire.",
    "theft": "Pendant que j'étais à la salle de bain il a pris mon téléphone et {amount} euros.",
    "armed_robbery": "Il a sorti un couteau et m'a pris toute la recette de la semaine.",
    "physical_assault": "Quand j'ai demandé à être payée il m'a frappée au visage.",
    "harassment": "Depuis il m'appelle tous les jours et me laisse des messages insultants.",
    "cyber_harassment": "Il a publié mes photos sur un forum avec des commentaires humiliants.",
    "threats": "Il m'a menacée de revenir avec des amis si je parlais.",
    "attempted_murder": "Il a essayé de m'étrangler, j'ai réussi à m'enfuir par l'escalier.",
    "non_payment": "À la fin il a refusé de payer et il est parti en riant.",
    "outing": "Il a dit qu'il allait tout raconter à ma famille et à mon propriétaire.",
    "other": "Il a négocié pendant une heure, insistant et désagréable, j'ai fini par partir.",
}
EN_EVENTS = {
    "rape": "He forced me to have sex after I said no.",
    "condom_removal": "During sex he took the condom off without telling me.",
    "theft": "While I was in the bathroom he took my phone and {amount} euros.",
    "non_payment": "At the end he refused to pay and left laughing.",
    "physical_assault": "When I asked to be paid he punched me in the face.",
    "threats": "He threatened to come back with friends if I talked.",
}
PT_EVENTS = {
    "theft": "Enquanto eu estava na casa de banho ele levou o meu telemóvel e {amount} euros.",
    "non_payment": "No fim recusou-se a pagar e foi-se embora.",
    "condom_removal": "Durante a relação ele tirou o preservativo sem me dizer.",
    "physical_assault": "Quando pedi o pagamento ele bateu-me na cara.",
}
ES_EVENTS = {
    "theft": "Mientras estaba en el baño se llevó mi móvil y {amount} euros.",
    "non_payment": "Al final se negó a pagar y se fue riéndose.",
    "condom_removal": "Durante la relación se quitó el preservativo sin decírmelo.",
    "rape": "Me obligó a tener relaciones aunque le dije que no.",
}
INTRO = {
    "fr": [
        "Je l'ai rencontré via {platform}.",
        "Il m'a contactée par téléphone pour un rendez-vous le soir.",
        "Client rencontré dans la rue, il m'a fait monter dans sa voiture.",
        "Il est venu à l'hôtel où je travaille en ce moment.",
        "C'était un client que je ne connaissais pas, rendez-vous pris par SMS.",
    ],
    "en": ["I met him through an online ad.", "He called me to book an evening appointment."],
    "pt": ["Conheci-o através de um anúncio na internet."],
    "es": ["Lo conocí por un anuncio en internet."],
}
OUTRO = {
    "fr": [
        "Faites attention à lui.",
        "Je n'ai pas porté plainte pour l'instant.",
        "J'aimerais être accompagnée pour un dépistage.",
        "Je préviens les copines du quartier.",
        "",
    ],
    "en": ["Please warn the others.", ""],
    "pt": ["Cuidado com ele.", ""],
    "es": ["Tened cuidado con él.", ""],
}
EVENTS = {"fr": FR_EVENTS, "en": EN_EVENTS, "pt": PT_EVENTS, "es": ES_EVENTS}


def _narrative(rng, language: str, violence: list[str], aggressor, victim: dict) -> str:
    events = EVENTS[language]
    parts = [rng.choice(INTRO[language]).format(platform=rng.choice(PLATFORMS))]
    if language == "fr" and aggressor.phone and rng.random() < 0.6:
        parts.append(f"Il appelait du {aggressor.phone}.")
    for code in violence:
        text = events.get(code) or events.get("theft") or FR_EVENTS[code]
        parts.append(text.format(amount=rng.choice([50, 80, 100, 150, 200, 300])))
    if language == "fr" and aggressor.vehicle and aggressor.plate and rng.random() < 0.7:
        make, model, _colour = aggressor.vehicle
        parts.append(f"Il conduisait une {make} {model}, plaque {aggressor.plate}.")
    if language == "fr" and rng.random() < 0.35:
        # Details that identify her: what the anonymisation assistant must propose to remove.
        name = victim.get("pseudonym") or rng.choice(VICTIM_NAMES)
        phone = victim.get("phone") or "01 99 00 00 01"
        detail = rng.choice(
            [
                f"Je m'appelle {name}, vous pouvez me rappeler au {phone}.",
                f"C'est arrivé chez moi, {rng.choice(STREETS)}.",
                f"Mon prénom c'est {name}, j'ai 27 ans.",
            ]
        )
        parts.append(detail)
    parts.append(rng.choice(OUTRO[language]))
    return " ".join(p for p in parts if p)


# --- the seeder -----------------------------------------------------------------------------


def _language(rng: random.Random) -> str:
    roll = rng.random()
    return "en" if roll < 0.04 else "pt" if roll < 0.07 else "es" if roll < 0.10 else "fr"


def _body(rng: random.Random, aggressor: Aggressor, used: set[str], incident: dt.date) -> dict:
    language = _language(rng)
    violence = rng.choices([m for m, _w in VIOLENCE_MIXES], [w for _m, w in VIOLENCE_MIXES])[0]
    victim: dict = {}
    if rng.random() < 0.6:
        victim["pseudonym"] = rng.choice(VICTIM_NAMES)
    if rng.random() < 0.5:
        victim["phone"] = _fiction_phone(rng, used)
    department = aggressor.department if rng.random() < 0.8 else rng.choice(DEPARTMENTS)
    identifiers = []
    if aggressor.phone:
        identifiers.append({"kind": "phone", "value": aggressor.phone})
    if aggressor.pseudonym:
        identifiers.append(
            {"kind": "pseudonym", "value": aggressor.pseudonym, "platform": "site d'annonces"}
        )
    if aggressor.email:
        identifiers.append({"kind": "email", "value": aggressor.email})
    vehicle = {}
    if aggressor.vehicle:
        make, model, colour = aggressor.vehicle
        vehicle = {"make": make, "model": model, "colour": colour, "plate": aggressor.plate}
    body = {
        "language": language,
        "channel": rng.choice(["web", "web", "web", "app", "app", "sms"]),
        "incident": {
            "date": incident.isoformat(),
            "date_precision": rng.choice(["day"] * 8 + ["week", "month"]),
            "department": department,
            "city": CITIES.get(department),
            "context": rng.choice(CONTEXTS),
            "violence_types": violence,
        },
        "narrative": _narrative(rng, language, violence, aggressor, victim),
        "aggressor": {
            "description": aggressor.description,
            "vehicle": vehicle,
            "identifiers": identifiers,
        },
        "victim": {
            "pseudonym": victim.get("pseudonym"),
            "contact": {"phone": victim.get("phone")},
            "preferred_language": language,
        },
        "consent": {
            "publish_alert": rng.random() < 0.8,
            "follow_up": rng.random() < 0.45,
            "share_with_partner": rng.random() < 0.3,
            "statistics": rng.random() < 0.9,
        },
        "reporter": {"relation": rng.choice(["self"] * 8 + ["peer"])},
    }
    if rng.random() < 0.3:
        hour, minute = rng.choice([20, 21, 22, 23, 0, 1, 14, 17]), rng.choice([0, 15, 30, 45])
        body["incident"]["time"] = f"{hour:02d}:{minute:02d}"
    return body


def seed_reports(context: DemoContext) -> None:
    """About 200 reports through the real intake, then their redaction proposals."""
    if db.session.scalar(select(func.count(Report.id))):
        return
    rng = random.Random(SEED)  # noqa: S311 - demo data, reproducible on purpose
    used: set[str] = set()
    recurring = _aggressors(rng, used, 14)
    website = db.session.scalar(select(ApiClient).where(ApiClient.name == "demo-website"))
    partner_users = [
        u for name, u in context.users.items() if name in ("demo-social-a", "demo-relay")
    ]
    now = utcnow()
    for number in range(REPORT_COUNT):
        aggressor = rng.choice(recurring) if rng.random() < 0.35 else _aggressors(rng, used, 1)[0]
        recent = rng.random() < RECENT_SHARE
        days = rng.uniform(0, QUEUE_DAYS) if recent else rng.uniform(QUEUE_DAYS, HISTORY_DAYS)
        received = now - dt.timedelta(days=days, minutes=rng.randint(0, 600))
        incident = (received - dt.timedelta(days=rng.choice([0, 0, 1, 1, 2, 3, 7, 14]))).date()
        body = _body(rng, aggressor, used, incident)
        filed_by = rng.choice(partner_users) if partner_users and rng.random() < 0.2 else None
        if filed_by is not None:
            body["channel"] = rng.choice(["partner", "phone"])
            body["reporter"] = {"relation": "partner"}
        data = intake.validate_report(body)
        intake.create_report(
            data,
            api_client=None if filed_by else website,
            filed_by=filed_by,
            filing_organisation_id=getattr(filed_by, "organisation_id", None)
            or (context.organisations[AIDES].id if filed_by else None),
            received_at=received,
        )
        if (number + 1) % 50 == 0:
            checkpoint()
            click.echo(f"  demo reports: {number + 1}/{REPORT_COUNT}", err=True)
    checkpoint()
    click.echo("  demo reports: proposing redactions (about 20 s)…", err=True)
    done = intake.anonymise_pending(batch_size=25, time_budget_seconds=600)
    context.lines.append(
        f"Demo reports: {REPORT_COUNT} received, {done} with a redaction proposal."
    )
