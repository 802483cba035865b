"""Controlled vocabularies shared by intake, moderation, alerts and statistics.

The codes are the API contract (shared/API.md): they never change meaning. Labels shown to
staff go through Babel (``messages`` domain); texts that reach workers are rendered from the
``alerts`` domain in every alert language (see ``alert_text``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ALERT_LANGUAGES: tuple[str, ...] = ("fr", "en", "es", "pt", "ro", "bg", "zh", "ru", "uk", "ar")
RIGHT_TO_LEFT_LANGUAGES: frozenset[str] = frozenset({"ar"})
UI_LANGUAGES: tuple[str, ...] = ("fr", "en")

CHANNELS: dict[str, object] = {
    "web": _l("Website"),
    "app": _l("Mobile app"),
    "partner": _l("Partner association"),
    "phone": _l("Phone"),
    "sms": _l("SMS"),
    "email": _l("Email"),
}

WORK_CONTEXTS: dict[str, object] = {
    "street": _l("Street"),
    "car": _l("Car"),
    "indoor_home": _l("Indoors, at her place"),
    "indoor_hotel": _l("Indoors, hotel"),
    "client_home": _l("At the client's place"),
    "online": _l("Online"),
    "other": _l("Other"),
}

VIOLENCE_TYPES: dict[str, object] = {
    "rape": _l("Rape"),
    "attempted_rape": _l("Attempted rape"),
    "sexual_assault": _l("Sexual assault"),
    "condom_removal": _l("Non-consensual condom removal"),
    "theft": _l("Theft"),
    "armed_robbery": _l("Armed robbery"),
    "physical_assault": _l("Physical assault"),
    "harassment": _l("Harassment"),
    "cyber_harassment": _l("Cyber-harassment"),
    "threats": _l("Threats"),
    "attempted_murder": _l("Attempted murder"),
    "non_payment": _l("Non-payment"),
    "outing": _l("Outing"),
    "other": _l("Other violence"),
}

IDENTIFIER_KINDS: dict[str, object] = {
    "phone": _l("Phone"),
    "email": _l("Email"),
    "plate": _l("Licence plate"),
    "pseudonym": _l("Pseudonym"),
    "url": _l("Profile URL"),
}

REPORTER_RELATIONS: dict[str, object] = {
    "self": _l("The victim herself"),
    "peer": _l("A peer"),
    "partner": _l("A partner association"),
}

# The kinds of detail the anonymisation assistant finds (anonymise's span types).
SPAN_LABELS = {
    "NAME": _l("Name"),
    "PHONE": _l("Phone"),
    "EMAIL": _l("Email"),
    "ADDRESS": _l("Address"),
    "PLATE": _l("Licence plate"),
    "URL": _l("Web address"),
    "HANDLE": _l("Social-network handle"),
    "AGE": _l("Age"),
    "BIRTH_DATE": _l("Birth date"),
}

# Severity levels workers already know, most serious first.
SEVERITIES: dict[str, object] = {
    "dangerous": _l("Dangerous"),
    "risky": _l("Risky"),
    "nuisance": _l("Nuisance"),
}
SEVERITY_RANK: dict[str, int] = {"nuisance": 0, "risky": 1, "dangerous": 2}

VIOLENCE_SEVERITY: dict[str, str] = {
    "rape": "dangerous",
    "attempted_rape": "dangerous",
    "sexual_assault": "dangerous",
    "armed_robbery": "dangerous",
    "physical_assault": "dangerous",
    "harassment": "dangerous",
    "cyber_harassment": "dangerous",
    "threats": "dangerous",
    "attempted_murder": "dangerous",
    "outing": "dangerous",
    "condom_removal": "risky",
    "theft": "risky",
    "non_payment": "risky",
    "other": "nuisance",
}

# French departments: metropolitan 01–95 with Corsica's 2A/2B, and overseas 971–976.
DEPARTMENTS: tuple[str, ...] = tuple(
    [f"{n:02d}" for n in range(1, 20)]
    + ["2A", "2B"]
    + [f"{n:02d}" for n in range(21, 96)]
    + ["971", "972", "973", "974", "976"]
)

# Regions (2016 boundaries), for statistics by region.
REGIONS: dict[str, tuple[str, ...]] = {
    "Auvergne-Rhône-Alpes": (
        "01",
        "03",
        "07",
        "15",
        "26",
        "38",
        "42",
        "43",
        "63",
        "69",
        "73",
        "74",
    ),
    "Bourgogne-Franche-Comté": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "Bretagne": ("22", "29", "35", "56"),
    "Centre-Val de Loire": ("18", "28", "36", "37", "41", "45"),
    "Corse": ("2A", "2B"),
    "Grand Est": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "Hauts-de-France": ("02", "59", "60", "62", "80"),
    "Île-de-France": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "Normandie": ("14", "27", "50", "61", "76"),
    "Nouvelle-Aquitaine": (
        "16",
        "17",
        "19",
        "23",
        "24",
        "33",
        "40",
        "47",
        "64",
        "79",
        "86",
        "87",
    ),
    "Occitanie": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "Pays de la Loire": ("44", "49", "53", "72", "85"),
    "Provence-Alpes-Côte d'Azur": ("04", "05", "06", "13", "83", "84"),
    "Outre-mer": ("971", "972", "973", "974", "976"),
}


def region_of(department: str) -> str | None:
    """The region a department belongs to, or None for an unknown code."""
    for region, departments in REGIONS.items():
        if department in departments:
            return region
    return None


def severity_for(violence_types: list[str] | tuple[str, ...]) -> str:
    """The most serious severity among the violence types (nuisance when none is known)."""
    ranks = [SEVERITY_RANK[VIOLENCE_SEVERITY.get(v, "nuisance")] for v in violence_types]
    best = max(ranks, default=0)
    return next(name for name, rank in SEVERITY_RANK.items() if rank == best)


# The aggressor's description and vehicle as staff read them (codes are the API's).
GENDERS: dict[str, object] = {
    "man": _l("Man"),
    "woman": _l("Woman"),
    "trans woman": _l("Trans woman"),
    "trans man": _l("Trans man"),
    "non-binary": _l("Non-binary"),
    "unknown": _l("Unknown"),
}
AGE_RANGES: dict[str, object] = {
    "18-25": _l("18-25 years old"),
    "26-35": _l("26-35 years old"),
    "36-45": _l("36-45 years old"),
    "46-55": _l("46-55 years old"),
    "56-65": _l("56-65 years old"),
    "65+": _l("65 or older"),
}
HEIGHTS: dict[str, object] = {
    "short": _l("Short"),
    "medium": _l("Average height"),
    "tall": _l("Tall"),
}
BUILDS: dict[str, object] = {
    "slim": _l("Slim"),
    "medium": _l("Average build"),
    "heavy": _l("Heavy build"),
    "muscular": _l("Muscular"),
}
AGGRESSOR_FIELDS: dict[str, tuple[object, dict[str, object] | None]] = {
    "gender": (_l("Gender"), GENDERS),
    "age_range": (_l("Age"), AGE_RANGES),
    "height": (_l("Height"), HEIGHTS),
    "build": (_l("Build"), BUILDS),
    "hair": (_l("Hair"), None),
    "distinctive_signs": (_l("Distinctive signs"), None),
    "languages": (_l("Languages spoken"), None),
}
VEHICLE_FIELDS: dict[str, tuple[object, dict[str, object] | None]] = {
    "make": (_l("Make"), None),
    "model": (_l("Model"), None),
    "colour": (_l("Colour"), None),
}


def described(description: dict | None, fields: dict | None = None) -> list[tuple[str, str]]:
    """``(label, value)`` pairs of an aggressor's description (or, with ``VEHICLE_FIELDS``, a
    vehicle) in the reader's language: labels for codes, lists joined, empty values left out.
    A key or code outside the vocabulary is shown as it is."""
    fields = AGGRESSOR_FIELDS if fields is None else fields
    pairs = []
    for key, value in (description or {}).items():
        if value in (None, "", [], ()):
            continue
        label, values = fields.get(key, (key, None))
        if isinstance(value, list | tuple):
            shown = ", ".join(str(item) for item in value)
        else:
            shown = str((values or {}).get(value, value))
        pairs.append((str(label), shown))
    return pairs
