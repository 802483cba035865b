"""Import of the FINESS open-data extract (national register of health and social
establishments, "FINESS Extraction du Fichier des établissements" on data.gouv.fr).

Format: semicolon-separated, no header row but a first ``finess;etalab;…`` line; one
``structureet`` line per establishment, then one ``geolocalisation`` line per establishment
(its coordinates in the projection of its territory: Lambert 93 in mainland France and
Corsica, UTM in the overseas departments), matched by FINESS number. UTF-8, or Latin-1 in
older extracts.

Only the categories the directory serves are kept (``CATEGORY_MAP``); each becomes a
structure coded ``finess-<number>``, so importing the same or a newer extract again updates
instead of duplicating. The register's fields (name, address, phone, coordinates) are
refreshed; what staff added (services beyond the mapped ones, languages, opening hours,
"trained on sex work", notes, verification) is kept. Entries stay unverified until a staff
member checks them: the register says a place exists, not that it welcomes sex workers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pyproj import Transformer

from backoffice.services import directory
from backoffice.services.directory import ImportReport, RejectedLine, StructureFields

CODE_PREFIX = "finess-"
SOURCE = "FINESS open data (data.gouv.fr), establishment {number}"
PROGRESS_EVERY = 5000

# FINESS establishment category (categetab) -> (directory category, directory services).
CATEGORY_MAP: dict[str, tuple[str, tuple[str, ...]]] = {
    # Hospitals: their emergency departments give post-exposure treatment (PEP) at any hour.
    "101": ("hospital", ("health", "pep", "testing", "forensic")),  # C.H.R.
    "106": ("hospital", ("health", "pep", "testing")),  # Centre hospitalier (ex local)
    "108": ("hospital", ("health", "pep", "testing", "forensic")),  # C.H.U.
    "355": ("hospital", ("health", "pep", "testing", "forensic")),  # Centre Hospitalier
    # Free testing: CeGIDD sites are registered as prevention centres.
    "636": ("cegidd", ("testing", "pep", "prep")),  # Centre de soins et de prévention
    "266": ("cegidd", ("testing",)),  # Dispensaire antivénérien
    # Family planning (planning familial): contraception, emergency contraception, abortion.
    "228": ("other", ("contraception", "abortion", "testing")),  # C.P.E.F.
    "124": ("other", ("health",)),  # Centre de santé
    "178": ("other", ("harm_reduction", "testing")),  # C.A.A.R.U.D.
    "197": ("other", ("harm_reduction", "health", "psychological")),  # C.S.A.P.A.
    "156": ("other", ("psychological",)),  # Centre médico-psychologique
    "214": ("shelter", ("shelter",)),  # C.H.R.S.
    "442": ("shelter", ("shelter",)),  # Centre provisoire d'hébergement
    "443": ("shelter", ("shelter", "administrative")),  # C.A.D.A.
}

# Projection named at the end of a geolocalisation line's source -> EPSG code.
PROJECTIONS = {
    "LAMBERT_93": 2154,
    "UTM_N20": 5490,  # RGAF09 / UTM 20N: Guadeloupe, Martinique
    "UTM_N22": 2972,  # RGFG95 / UTM 22N: Guyane
    "UTM_S40": 2975,  # RGR92 / UTM 40S: La Réunion
    "UTM_S38": 4471,  # RGM04 / UTM 38S: Mayotte
}

# structureet line: field positions (0 is the line type).
NUMBER, NAME, LONG_NAME = 1, 3, 4
STREET_NUMBER, STREET_TYPE, STREET, STREET_EXTRA, PLACE = 7, 8, 9, 10, 11
DEPARTMENT, DELIVERY_LINE, PHONE, CATEGORY = 13, 15, 16, 18
# geolocalisation line.
GEO_NUMBER, GEO_X, GEO_Y, GEO_SOURCE = 1, 2, 3, 4

# FINESS writes the overseas departments with letters.
OVERSEAS_DEPARTMENTS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9F": "976"}

STREET_TYPES = {
    "R": "rue",
    "AV": "avenue",
    "BD": "boulevard",
    "PL": "place",
    "CHE": "chemin",
    "RTE": "route",
    "ALL": "allée",
    "IMP": "impasse",
    "QU": "quai",
    "CRS": "cours",
    "SQ": "square",
    "PAS": "passage",
    "RES": "résidence",
    "FG": "faubourg",
}


class FinessFileError(ValueError):
    """The file is not a FINESS establishments extract."""


@dataclass
class FinessReport(ImportReport):
    establishments: int = 0
    skipped_categories: int = 0
    without_coordinates: int = 0
    by_category: dict[str, int] = field(default_factory=dict)


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _transformers() -> dict[str, Transformer]:
    return {
        name: Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
        for name, epsg in PROJECTIONS.items()
    }


def to_wgs84(x: float, y: float, projection: str = "LAMBERT_93") -> tuple[float, float]:
    """(latitude, longitude) of a point given in a FINESS projection."""
    transformer = Transformer.from_crs(
        f"EPSG:{PROJECTIONS[projection]}", "EPSG:4326", always_xy=True
    )
    longitude, latitude = transformer.transform(x, y)
    return latitude, longitude


def read_extract(
    raw: bytes, progress: Callable[[int], None] | None = None
) -> tuple[dict[str, list[str]], dict[str, tuple[float, float]], FinessReport]:
    """The kept establishments by number, their WGS 84 positions, and the counts so far."""
    report = FinessReport()
    establishments: dict[str, list[str]] = {}
    positions: dict[str, tuple[float, float]] = {}
    transformers = _transformers()
    rows = csv.reader(io.StringIO(_text(raw), newline=""), delimiter=";")
    seen_kind = False
    for index, values in enumerate(rows, start=1):
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index)
        kind = values[0].strip().lower() if values else ""
        if kind == "structureet" and len(values) > CATEGORY:
            seen_kind = True
            report.establishments += 1
            category = values[CATEGORY].strip()
            if category not in CATEGORY_MAP:
                report.skipped_categories += 1
                continue
            report.by_category[category] = report.by_category.get(category, 0) + 1
            establishments[values[NUMBER].strip()] = values
        elif kind == "geolocalisation" and len(values) > GEO_SOURCE:
            seen_kind = True
            number = values[GEO_NUMBER].strip()
            if number in establishments:
                position = _position(values, transformers)
                if position is not None:
                    positions[number] = position
    if not seen_kind:
        raise FinessFileError("No structureet or geolocalisation line: not a FINESS extract.")
    return establishments, positions, report


def _position(values: list[str], transformers: dict[str, Transformer]):
    projection = values[GEO_SOURCE].strip().rsplit(",", 1)[-1].strip().upper()
    transformer = transformers.get(projection)
    try:
        x, y = float(values[GEO_X]), float(values[GEO_Y])
    except ValueError:
        return None
    if transformer is None:
        return None
    longitude, latitude = transformer.transform(x, y)
    return round(latitude, 6), round(longitude, 6)


def _address(values: list[str]) -> str:
    street_type = values[STREET_TYPE].strip()
    parts = [
        values[STREET_NUMBER].strip(),
        values[STREET_EXTRA].strip(),
        STREET_TYPES.get(street_type.upper(), street_type.lower()),
        values[STREET].strip(),
    ]
    street = " ".join(part for part in parts if part)
    place = values[PLACE].strip()
    return ", ".join(part for part in (street, place) if part)


def _postcode_and_city(values: list[str]) -> tuple[str, str]:
    line = values[DELIVERY_LINE].strip()  # "75010 PARIS" or "97110 POINTE A PITRE CEDEX"
    postcode, _, city = line.partition(" ")
    city = city.removesuffix(" CEDEX").strip().title()
    return postcode, city or line


def _department(raw: str) -> str:
    code = raw.strip().upper()
    return OVERSEAS_DEPARTMENTS.get(code, code)


def _phone(raw: str) -> str:
    digits = "".join(c for c in raw if c.isdigit())
    if len(digits) == 10:
        return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return raw.strip()


def _category_and_services(values: list[str]) -> tuple[str, list[str]]:
    category, services = CATEGORY_MAP[values[CATEGORY].strip()]
    if "CEGIDD" in (values[NAME] + values[LONG_NAME]).upper().replace("-", ""):
        category, services = "cegidd", ("testing", "pep", "prep")
    return category, list(services)


def _row(number: str, values: list[str], position, current: dict | None) -> dict[str, str]:
    """The text values of one directory line (``validate_row``'s input)."""
    category, services = _category_and_services(values)
    postcode, city = _postcode_and_city(values)
    name = (values[LONG_NAME].strip() or values[NAME].strip())[:200]
    row = {
        "code": CODE_PREFIX + number,
        "name": name,
        "category": category,
        "services": "|".join(services),
        "address": _address(values),
        "postcode": postcode,
        "city": city,
        "department": _department(values[DEPARTMENT]),
        "latitude": str(position[0]) if position else "",
        "longitude": str(position[1]) if position else "",
        "location_approximate": "no",
        "phone": _phone(values[PHONE]),
        "source": SOURCE.format(number=number),
        "active": "yes",
    }
    if current is not None:
        _keep_staff_additions(row, current)
    return row


def _keep_staff_additions(row: dict[str, str], current: dict) -> None:
    """On an update, what the register does not know stays as staff left it."""
    row["category"] = current["category"]
    row["services"] = "|".join(sorted(set(current["services"]) | set(row["services"].split("|"))))
    row["languages"] = "|".join(current["languages"])
    for name in ("website", "notes"):
        row[name] = current[name] or ""
    row["opening_hours"] = "|".join(
        line for line in (current["opening_hours"] or "").splitlines() if line.strip()
    )
    row["trained_on_sex_work"] = "yes" if current["trained_on_sex_work"] else "no"
    row["active"] = "yes" if current["active"] else "no"


def import_finess(
    raw: bytes, *, dry_run: bool = False, progress: Callable[[int], None] | None = None
) -> FinessReport:
    """Import (or, dry run, count) the kept establishments; the caller commits."""
    establishments, positions, report = read_extract(raw, progress)
    report.dry_run = dry_run
    current = directory.existing_rows([CODE_PREFIX + number for number in establishments])
    accepted: list[StructureFields] = []
    for line, (number, values) in enumerate(establishments.items(), start=1):
        report.lines += 1
        position = positions.get(number)
        if position is None:
            report.without_coordinates += 1
        checked = directory.validate_row(
            _row(number, values, position, current.get(CODE_PREFIX + number))
        )
        if checked.fields is None:
            report.rejected.append(RejectedLine(line, number, checked.reasons))
            continue
        accepted.append(checked.fields)
    directory.write_checked(accepted, report, "finess")
    return report


def summary(report: FinessReport) -> Iterable[str]:
    yield f"establishments read: {report.establishments}"
    yield f"kept (categories of the directory): {report.lines}"
    for category, count in sorted(report.by_category.items()):
        yield f"  category {category}: {count}"
    yield f"other categories skipped: {report.skipped_categories}"
    yield f"kept without coordinates: {report.without_coordinates}"
    prefix = "dry run, would give: " if report.dry_run else ""
    yield (
        f"{prefix}{report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
