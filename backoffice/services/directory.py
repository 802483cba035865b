"""The directory of structures: search, checks, CSV import and export.

One set of rules (``validate_row``) checks every way a structure enters the directory: the
CSV import, the add/edit form and the demo data, which is loaded through the import.

CSV format (documented to users on the import page):

* UTF-8, with or without a byte-order mark; ``;`` or ``,`` between fields (detected from the
  header line); the first line names the columns (``CSV_COLUMNS``, any order, case
  ignored). ``name``, ``category``, ``city`` and ``department`` are required.
* Many-valued fields (``services``, ``languages``, ``opening_hours``) separate their values
  with ``|``. Yes/no fields take yes/no, oui/non, true/false, 1/0.
* ``code`` is the structure's stable key: a line whose code exists updates that structure,
  any other line creates one. Without a code, one is derived from category, city and name,
  so re-importing the same file updates instead of duplicating.

A file that cannot be read as a table (encoding, header, quoting) is refused whole. In a
readable file each line is checked on its own: good lines are imported, bad ones are listed
with their line number and reasons, and all the good lines go in one transaction.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, delete, exists, func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.structure import (
    STRUCTURE_CATEGORIES,
    STRUCTURE_LANGUAGES,
    STRUCTURE_SERVICES,
    Structure,
    StructureLanguage,
    StructureService,
    fold_for_search,
    in_vocabulary_order,
    search_key_for,
)
from backoffice.services import audit, directory_provenance
from backoffice.services.directory_geography import (
    DEPARTMENT_NAMES,
    area_of_department,
    area_of_point,
    department_of_postcode,
)
from backoffice.services.paging import Page, paginate
from backoffice.services.spreadsheets import csv_text

CSV_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "category",
    "services",
    "languages",
    "address",
    "postcode",
    "city",
    "department",
    "latitude",
    "longitude",
    "location_approximate",
    "phone",
    "website",
    "opening_hours",
    "trained_on_sex_work",
    "active",
    "notes",
    "source",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("name", "category", "city", "department")
LIST_SEPARATOR = "|"
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_LINES = 5000
PAGE_SIZE = 50
MAX_MAP_POINTS = 5000
MAX_SEARCH_WORDS = 6

LENGTHS = {
    "code": 80,
    "name": 200,
    "address": 250,
    "city": 120,
    "phone": 40,
    "website": 300,
    "opening_hours": 2000,
    "notes": 4000,
    "source": 300,
}
TRUE_WORDS = frozenset({"yes", "y", "oui", "o", "true", "vrai", "1", "x"})
FALSE_WORDS = frozenset({"no", "n", "non", "false", "faux", "0"})
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
BARE_DOMAIN_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(/|$)", re.IGNORECASE)
PHONE_RE = re.compile(r"^\+?[0-9 .()\-]{3,40}$")
# Unicode's "Cc" category; notes and opening hours may hold line breaks.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MULTILINE_CONTROL_RE = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# -- labels -----------------------------------------------------------------------------------
def category_label(code: str) -> str:
    return str(STRUCTURE_CATEGORIES.get(code, code))


def service_label(code: str) -> str:
    return str(STRUCTURE_SERVICES.get(code, code))


def language_label(code: str) -> str:
    return str(STRUCTURE_LANGUAGES.get(code, code))


# -- search -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryFilters:
    """What a list, map, marker feed or export is limited to. Unknown codes are dropped."""

    department: str | None = None
    category: str | None = None
    service: str | None = None
    language: str | None = None
    text: str | None = None
    include_inactive: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str], allow_inactive: bool = False) -> DirectoryFilters:
        def pick(name: str, allowed: Iterable[str]) -> str | None:
            value = (args.get(name) or "").strip()
            return value if value in allowed else None

        text = " ".join((args.get("q") or "").split())[:100] or None
        inactive = allow_inactive and (args.get("inactive") or "") in {"1", "on", "yes"}
        return cls(
            department=pick("department", DEPARTMENT_NAMES),
            category=pick("category", STRUCTURE_CATEGORIES),
            service=pick("service", STRUCTURE_SERVICES),
            language=pick("language", STRUCTURE_LANGUAGES),
            text=text,
            include_inactive=inactive,
        )

    def as_args(self) -> dict[str, str]:
        """Query-string arguments that rebuild these filters (links, exports, marker feed)."""
        args = {
            "department": self.department,
            "category": self.category,
            "service": self.service,
            "language": self.language,
            "q": self.text,
            "inactive": "1" if self.include_inactive else None,
        }
        return {key: value for key, value in args.items() if value}

    def audit_details(self) -> dict:
        """Codes only: the free text is reduced to whether there was one."""
        details = {
            key: value
            for key, value in self.as_args().items()
            if key not in {"q", "inactive"} and value
        }
        details["text_search"] = bool(self.text)
        details["include_inactive"] = self.include_inactive
        return details

    @property
    def active(self) -> bool:
        """Whether any filter is set (the page then offers to clear them)."""
        chosen = (self.department, self.category, self.service, self.language, self.text)
        return any(chosen) or self.include_inactive


def structures_query(filters: DirectoryFilters) -> Select:
    """Structures matching the filters, by department, city and name."""
    statement = select(Structure)
    if not filters.include_inactive:
        statement = statement.where(Structure.active.is_(True))
    if filters.department:
        statement = statement.where(Structure.department == filters.department)
    if filters.category:
        statement = statement.where(Structure.category == filters.category)
    if filters.service:
        statement = statement.where(
            exists().where(
                StructureService.structure_id == Structure.id,
                StructureService.service == filters.service,
            )
        )
    if filters.language:
        statement = statement.where(
            exists().where(
                StructureLanguage.structure_id == Structure.id,
                StructureLanguage.language == filters.language,
            )
        )
    # fold_for_search leaves only [a-z0-9 ], so no LIKE wildcard can come from the user.
    for word in fold_for_search(filters.text or "").split()[:MAX_SEARCH_WORDS]:
        statement = statement.where(Structure.search_key.contains(word))
    # Unverified entries are never offered first.
    return statement.order_by(
        Structure.verified_at.is_(None),
        Structure.department,
        Structure.city,
        Structure.name,
        Structure.id,
    )


def page_of(filters: DirectoryFilters, number: int = 1, size: int = PAGE_SIZE) -> Page:
    return paginate(structures_query(filters), number, size)


def map_points(filters: DirectoryFilters) -> tuple[list[dict], int]:
    """Structures with coordinates (at most MAX_MAP_POINTS), as plain rows, and how many
    matching structures have none."""
    statement = structures_query(filters)
    located = statement.where(Structure.latitude.is_not(None), Structure.longitude.is_not(None))
    unlocated = statement.where(Structure.latitude.is_(None) | Structure.longitude.is_(None))
    without = db.session.scalar(
        select(func.count()).select_from(unlocated.order_by(None).subquery())
    )
    points = plain_rows(located.limit(MAX_MAP_POINTS), languages=False)
    return points, without or 0


def plain_rows(statement: Select, *, languages: bool = True) -> list[dict]:
    """The structures a ``structures_query`` selects, as dicts with their services and
    languages, without building ORM objects (lists, exports and map feeds of thousands)."""
    columns = statement.with_only_columns(*Structure.__table__.columns)
    rows = [dict(row) for row in db.session.execute(columns).mappings()]
    ids = [row["id"] for row in rows]
    children = [(StructureService, "service", "services", STRUCTURE_SERVICES)]
    if languages:
        children.append((StructureLanguage, "language", "languages", STRUCTURE_LANGUAGES))
    for model, column, key, vocabulary in children:
        found: dict[int, list[str]] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            pairs = db.session.execute(
                select(model.structure_id, getattr(model, column)).where(
                    model.structure_id.in_(chunk)
                )
            )
            for structure_id, code in pairs:
                found.setdefault(structure_id, []).append(code)
        for row in rows:
            row[key] = in_vocabulary_order(vocabulary, found.get(row["id"], ()))
    return rows


def get_structure(structure_id: int) -> Structure | None:
    return db.session.get(Structure, structure_id)


def structures_offering(
    services: Iterable[str], department: str | None, limit: int, text: str | None = None
) -> list[Structure]:
    """Active structures offering any of ``services`` (all active ones without services),
    matching ``text`` (words of the name, town or postcode): verified before unverified,
    trained on sex work first, those of ``department`` first, then by name (the choices of
    a case's referral)."""
    statement = select(Structure).where(Structure.active.is_(True))
    for word in fold_for_search(text or "").split()[:MAX_SEARCH_WORDS]:
        statement = statement.where(Structure.search_key.contains(word))
    services = list(services)
    if services:
        statement = statement.where(
            exists().where(
                StructureService.structure_id == Structure.id,
                StructureService.service.in_(services),
            )
        )
    here = (Structure.department == (department or "")).desc()
    # Unverified entries never first; among the others, those trained on sex work first.
    order = (
        Structure.verified_at.is_(None),
        Structure.trained_on_sex_work.desc(),
        here,
        Structure.name,
    )
    return db.session.scalars(statement.order_by(*order).limit(limit)).all()


# -- checking one structure ---------------------------------------------------------------------
@dataclass
class StructureFields:
    """A checked structure, ready to be written (the shape of one CSV line)."""

    code: str | None
    name: str
    category: str
    services: list[str]
    languages: list[str]
    address: str | None
    postcode: str | None
    city: str
    department: str
    latitude: float | None
    longitude: float | None
    location_approximate: bool
    phone: str | None
    website: str | None
    opening_hours: str | None
    trained_on_sex_work: bool
    active: bool
    notes: str | None
    source: str | None

    def differs_from(self, current: Structure | Mapping) -> bool:
        return any(
            _comparable(getattr(self, name)) != _comparable(_value(current, name))
            for name in _WRITABLE
        )

    def write_to(self, structure: Structure) -> None:
        for name in _WRITABLE:
            setattr(structure, name, getattr(self, name))
        # Services and languages live in child rows: the parent's onupdate would not fire.
        structure.updated_at = utcnow()

    def column_values(self) -> dict:
        """The structures table's values (bulk writes: no ORM event computes them)."""
        values = {name: getattr(self, name) for name in _WRITABLE if name not in _CHILDREN}
        values["search_key"] = search_key_for(self.name, self.city, self.postcode)
        return values


_CHILDREN = ("services", "languages")
_WRITABLE = tuple(f for f in CSV_COLUMNS if f != "code")


def _value(current: Structure | Mapping, name: str):
    return current[name] if isinstance(current, Mapping) else getattr(current, name)


def _comparable(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, list):
        return sorted(value)
    return value


@dataclass
class RowCheck:
    fields: StructureFields | None
    errors: dict[str, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [message for messages in self.errors.values() for message in messages]


def validate_row(row: Mapping[str, str | None]) -> RowCheck:
    """Check one structure given as text values (a CSV line or a submitted form)."""
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    text = {name: _clean(row.get(name), name, fail) for name in CSV_COLUMNS}
    for name in REQUIRED_COLUMNS:
        if not text[name]:
            fail(name, _("%(column)s: required.", column=name))

    code = (text["code"] or "").lower() or None
    if code and not CODE_RE.match(code):
        fail("code", _("code: use lower-case letters, digits and hyphens only."))
    category = (text["category"] or "").lower()
    if category and category not in STRUCTURE_CATEGORIES:
        fail(
            "category",
            _(
                "category: unknown code “%(value)s” (expected one of %(allowed)s).",
                value=category,
                allowed=", ".join(STRUCTURE_CATEGORIES),
            ),
        )
    services = _codes(text["services"], STRUCTURE_SERVICES, "services", fail)
    languages = _codes(text["languages"], STRUCTURE_LANGUAGES, "languages", fail)
    department = _department(text["department"], fail)
    postcode = _postcode(text["postcode"], fail)
    if postcode and department and department_of_postcode(postcode) not in (None, department):
        warnings.append(
            _(
                "postcode %(postcode)s usually belongs to department %(other)s, not %(dep)s.",
                postcode=postcode,
                other=department_of_postcode(postcode),
                dep=department,
            )
        )
    latitude, longitude = _coordinates(text["latitude"], text["longitude"], department, fail)
    phone = _phone(text["phone"], fail)
    website = _website(text["website"], fail)
    flags = {
        name: _yes_no(text[name], default, name, fail)
        for name, default in (
            ("location_approximate", False),
            ("trained_on_sex_work", False),
            ("active", True),
        )
    }
    hours = _lines(text["opening_hours"])
    if errors:
        return RowCheck(fields=None, errors=errors, warnings=warnings)
    return RowCheck(
        fields=StructureFields(
            code=code,
            name=text["name"] or "",
            category=category,
            services=services,
            languages=languages,
            address=text["address"],
            postcode=postcode,
            city=text["city"] or "",
            department=department or "",
            latitude=latitude,
            longitude=longitude,
            location_approximate=flags["location_approximate"],
            phone=phone,
            website=website,
            opening_hours="\n".join(hours) or None,
            trained_on_sex_work=flags["trained_on_sex_work"],
            active=flags["active"],
            notes=text["notes"],
            source=text["source"],
        ),
        warnings=warnings,
    )


def _clean(value: str | None, name: str, fail) -> str | None:
    """Trim, undo the export's formula guard, refuse control characters and overlong text."""
    if value is None:
        return None
    value = unicodedata.normalize("NFC", str(value)).strip()
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@":
        value = value[1:]
    control = MULTILINE_CONTROL_RE if name in {"notes", "opening_hours"} else CONTROL_RE
    if control.search(value):
        fail(name, _("%(column)s: contains control characters.", column=name))
        return None
    limit = LENGTHS.get(name)
    if limit and len(value) > limit:
        fail(name, _("%(column)s: longer than %(limit)d characters.", column=name, limit=limit))
        return None
    return value or None


def _codes(value: str | None, allowed: Mapping[str, object], name: str, fail) -> list[str]:
    codes = []
    for part in (value or "").split(LIST_SEPARATOR):
        code = part.strip().lower()
        if not code:
            continue
        if code not in allowed:
            fail(
                name,
                _("%(column)s: unknown code “%(value)s”.", column=name, value=code[:40]),
            )
        elif code not in codes:
            codes.append(code)
    return in_vocabulary_order(allowed, codes)


def _department(value: str | None, fail) -> str | None:
    if not value:
        return None
    code = value.strip().upper()
    if code.isdigit() and len(code) == 1:
        code = "0" + code  # a spreadsheet dropped the leading zero
    if code not in DEPARTMENT_NAMES:
        fail("department", _("department: unknown code “%(value)s”.", value=code[:10]))
        return None
    return code


def _postcode(value: str | None, fail) -> str | None:
    if not value:
        return None
    code = value.replace(" ", "")
    if code.isdigit() and len(code) == 4:
        code = "0" + code
    if not (code.isdigit() and len(code) == 5):
        fail("postcode", _("postcode: five digits expected."))
        return None
    return code


def _number(value: str) -> float | None:
    try:
        number = float(value.replace(",", ".").replace(" ", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _coordinates(
    lat_text: str | None, lon_text: str | None, department: str | None, fail
) -> tuple[float | None, float | None]:
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        fail("latitude", _("coordinates: give both latitude and longitude, or neither."))
        return None, None
    latitude, longitude = _number(lat_text), _number(lon_text)
    if latitude is None or longitude is None:
        fail("latitude", _("coordinates: not a number."))
        return None, None
    area = area_of_point(latitude, longitude)
    if area is None:
        fail(
            "latitude",
            _("coordinates: %(lat)s, %(lon)s is outside France.", lat=lat_text, lon=lon_text),
        )
        return None, None
    if department and area != area_of_department(department):
        fail(
            "latitude",
            _(
                "coordinates: %(lat)s, %(lon)s are not in the area of department %(dep)s.",
                lat=lat_text,
                lon=lon_text,
                dep=department,
            ),
        )
        return None, None
    return round(latitude, 6), round(longitude, 6)


def _phone(value: str | None, fail) -> str | None:
    if not value:
        return None
    digits = sum(c.isdigit() for c in value)
    if not PHONE_RE.match(value) or not 3 <= digits <= 15:
        fail("phone", _("phone: digits, spaces and + only (3 to 15 digits)."))
        return None
    return value


def _website(value: str | None, fail) -> str | None:
    if not value:
        return None
    if not re.match(r"https?://", value, re.IGNORECASE) and BARE_DOMAIN_RE.match(value):
        value = "https://" + value  # "www.example.org" typed without its scheme
    parts = urlsplit(value)
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or " " in value:
        fail("website", _("website: an address starting with https:// expected."))
        return None
    return value


def _yes_no(value: str | None, default: bool, name: str, fail) -> bool:
    if not value:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    fail(name, _("%(column)s: yes or no expected.", column=name))
    return default


def _lines(value: str | None) -> list[str]:
    parts = re.split(r"[|\r\n]+", value or "")
    return [" ".join(part.split()) for part in parts if part.strip()]


def derive_code(category: str, city: str, name: str) -> str:
    slug = "-".join(fold_for_search(f"{category} {city} {name}").split())
    return slug[:80].rstrip("-") or "structure"


# -- writing --------------------------------------------------------------------------------
def unique_code(base: str) -> str:
    """A code no structure has yet (for structures added through the form)."""
    base = base[:74].rstrip("-")
    taken = set(db.session.scalars(select(Structure.code).where(Structure.code.like(f"{base}%"))))
    if base not in taken:
        return base
    suffix = 2
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


def create_structure(checked: StructureFields) -> Structure:
    code = checked.code or derive_code(checked.category, checked.city, checked.name)
    structure = Structure(code=unique_code(code), source_kind="form")
    checked.write_to(structure)
    db.session.add(structure)
    db.session.flush()
    audit.record("structure_created", structure)
    return structure


def version_of(structure: Structure) -> str:
    """What an edit form carries to detect a change made meanwhile by someone else."""
    return structure.updated_at.isoformat(timespec="microseconds")


def is_current(structure: Structure, version: str | None) -> bool:
    """Whether a form's ``version`` is the structure's current one."""
    return version == version_of(structure)


def update_structure(structure: Structure, checked: StructureFields) -> tuple[bool, bool]:
    """Write the checked values: (whether something was written, whether a change to the
    contact details waits for review instead, see ``directory_provenance``)."""
    held = _hold_contact_changes(structure, checked, structure.verified_at is not None)
    if not checked.differs_from(structure):
        return False, held
    checked.write_to(structure)
    db.session.flush()
    audit.record("structure_updated", structure)
    return True, held


def _hold_contact_changes(
    current: Structure | Mapping, checked: StructureFields, verified: bool
) -> bool:
    """When this user may not change the verified entry's contact details, propose them for
    review and keep the current ones in ``checked``."""
    owner = _value(current, "owner_organisation_id")
    if not directory_provenance.needs_review(verified, owner):
        return False
    proposed = directory_provenance.contact_differences(current, vars(checked))
    if not proposed:
        return False
    directory_provenance.propose_change(_value(current, "id"), proposed)
    for name in proposed:
        setattr(checked, name, _value(current, name))
    return True


# -- CSV import ---------------------------------------------------------------------------------
class MalformedFile(ValueError):
    """The file cannot be read as a table of structures; nothing is imported."""


@dataclass
class RejectedLine:
    line: int
    label: str
    reasons: list[str]


@dataclass
class LineWarning:
    line: int
    label: str
    message: str


@dataclass
class ImportReport:
    dry_run: bool = False
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    warnings: list[LineWarning] = field(default_factory=list)
    error: str | None = None
    separator: str | None = None
    # Lines whose change to a verified entry's contact details waits for review.
    held_for_review: int = 0

    @property
    def accepted(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class _Table:
    columns: list[str]
    rows: list[tuple[int, list[str]]]
    separator: str


def read_table(raw: bytes) -> _Table:
    """Decode and parse the whole file first, so a broken file is refused before any write."""
    if not raw.strip():
        raise MalformedFile(_("The file is empty."))
    if len(raw) > MAX_IMPORT_BYTES:
        raise MalformedFile(
            _("The file is larger than %(size)d MB.", size=MAX_IMPORT_BYTES // (1024 * 1024))
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFile(
            _(
                "The file is not UTF-8 text. In your spreadsheet, save it as "
                "“CSV UTF-8” and try again."
            )
        ) from None
    if "\x00" in text:
        raise MalformedFile(_("The file is not a CSV text file."))
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    separator = max(";,\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        header = next(reader, None)
        rows = _read_rows(reader)
    except csv.Error as error:
        raise MalformedFile(
            _(
                "The file is not valid CSV near line %(line)d (often an unclosed quote).",
                line=reader.line_num,
            )
        ) from error
    columns = _check_header(header or [])
    return _Table(columns=columns, rows=rows, separator=separator)


def _read_rows(reader) -> list[tuple[int, list[str]]]:
    rows = []
    start = reader.line_num + 1
    for values in reader:
        if any(value.strip() for value in values):
            rows.append((start, values))
            if len(rows) > MAX_IMPORT_LINES:
                raise MalformedFile(
                    _("The file has more than %(count)d lines.", count=MAX_IMPORT_LINES)
                )
        start = reader.line_num + 1
    return rows


def _check_header(header: list[str]) -> list[str]:
    columns = [fold_for_search(name).replace(" ", "_") for name in header]
    unknown = [
        name
        for name, column in zip(header, columns, strict=True)
        if column and column not in CSV_COLUMNS
    ]
    if unknown:
        raise MalformedFile(
            _(
                "Unknown columns in the first line: %(names)s. The accepted columns are: "
                "%(allowed)s.",
                names=", ".join(name[:40] for name in unknown[:10]),
                allowed=", ".join(CSV_COLUMNS),
            )
        )
    duplicates = sorted({c for c in columns if c and columns.count(c) > 1})
    if duplicates:
        raise MalformedFile(
            _("Columns named twice in the first line: %(names)s.", names=", ".join(duplicates))
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise MalformedFile(
            _(
                "The first line must name the columns; missing: %(names)s.",
                names=", ".join(missing),
            )
        )
    return columns


def import_csv(raw: bytes, *, dry_run: bool = False, source_kind: str = "csv") -> ImportReport:
    """Check every line, then (unless a dry run) write the good ones in one transaction.

    The caller commits. On a malformed file nothing is written but the refusal is audited.
    """
    report = ImportReport(dry_run=dry_run)
    try:
        table = read_table(raw)
    except MalformedFile as error:
        report.error = str(error)
        if not dry_run:
            audit.record("directory_import_refused", object_type="Structure", outcome="failure")
        return report
    report.separator = table.separator
    accepted = _check_lines(table, report)
    return write_checked(accepted, report, source_kind)


def write_checked(
    accepted: list[StructureFields], report: ImportReport, source_kind: str
) -> ImportReport:
    """Write checked structures (matched by code), or only count them on a dry run; audited.
    Shared by the CSV import and the importers of official registers."""
    if not report.dry_run:
        try:
            _write(accepted, report, source_kind)
        except Exception:
            db.session.rollback()  # nothing half-imported
            raise
        audit.record(
            "directory_imported",
            object_type="Structure",
            details={
                "lines": report.lines,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": len(report.rejected),
                **({} if source_kind == "csv" else {"source_kind": source_kind}),
            },
        )
    else:
        report.created, report.updated, report.unchanged = _preview(accepted)
    return report


def existing_rows(codes: list[str]) -> dict[str, dict]:
    """The structures of these codes as plain rows, by code."""
    return _existing(codes)


def _check_lines(table: _Table, report: ImportReport) -> list[StructureFields]:
    accepted: list[StructureFields] = []
    first_line_of: dict[str, int] = {}
    width = len(table.columns)
    for line, values in table.rows:
        report.lines += 1
        row = dict(zip(table.columns, values, strict=False))
        label = (row.get("name") or "").strip()[:80]
        if len(values) != width:
            message = _(
                "%(found)d fields instead of %(expected)d (check the separators and quotes).",
                found=len(values),
                expected=width,
            )
            report.rejected.append(RejectedLine(line, label, [message]))
            continue
        checked = validate_row({k: v for k, v in row.items() if k})
        if checked.fields is None:
            report.rejected.append(RejectedLine(line, label, checked.reasons))
            continue
        data = checked.fields
        data.code = data.code or derive_code(data.category, data.city, data.name)
        if data.code in first_line_of:
            message = _(
                "same code “%(code)s” as line %(line)d: give each structure its own code.",
                code=data.code,
                line=first_line_of[data.code],
            )
            report.rejected.append(RejectedLine(line, label, [message]))
            continue
        first_line_of[data.code] = line
        report.warnings.extend(LineWarning(line, label, w) for w in checked.warnings)
        accepted.append(data)
    return accepted


def _existing(codes: list[str]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for start in range(0, len(codes), 1000):
        statement = select(Structure).where(Structure.code.in_(codes[start : start + 1000]))
        found.update((row["code"], row) for row in plain_rows(statement))
    return found


def _write(accepted: list[StructureFields], report: ImportReport, source_kind: str) -> None:
    """Bulk statements rather than ORM objects: thousands of lines in seconds."""
    existing = _existing([data.code for data in accepted])
    for data in accepted:
        current = existing.get(data.code)
        if current is not None and _hold_contact_changes(
            current, data, current["verified_at"] is not None
        ):
            report.held_for_review += 1
    now = utcnow()
    new = [data for data in accepted if data.code not in existing]
    changed = [
        (existing[data.code]["id"], data)
        for data in accepted
        if data.code in existing and data.differs_from(existing[data.code])
    ]
    report.created, report.updated = len(new), len(changed)
    report.unchanged = len(accepted) - len(new) - len(changed)
    ids: list[tuple[int, StructureFields]] = list(changed)
    if new:
        rows = [
            {
                **data.column_values(),
                "code": data.code,
                "source_kind": source_kind,
                "created_at": now,
                "updated_at": now,
            }
            for data in new
        ]
        # Core statements on the table: the ORM's bulk insert splits batches by which
        # values are None, which turns one statement into hundreds.
        table = Structure.__table__
        created = db.session.execute(table.insert().returning(table.c.id, table.c.code), rows).all()
        by_code = {data.code: data for data in new}
        ids += [(structure_id, by_code[code]) for structure_id, code in created]
    if changed:
        table = Structure.__table__
        values = [
            {"_id": structure_id, **data.column_values(), "updated_at": now}
            for structure_id, data in changed
        ]
        statement = (
            table.update()
            .where(table.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in values[0] if name != "_id"})
        )
        db.session.execute(statement, values)
        changed_ids = [structure_id for structure_id, _data in changed]
        for model in (StructureService, StructureLanguage):
            for start in range(0, len(changed_ids), 1000):
                db.session.execute(
                    delete(model).where(model.structure_id.in_(changed_ids[start : start + 1000]))
                )
    _insert_children(ids)
    # Structures loaded earlier in this session must not show their old values.
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, (Structure, StructureService, StructureLanguage)):
            db.session.expire(instance)


def _insert_children(ids: list[tuple[int, StructureFields]]) -> None:
    services = [
        {"structure_id": structure_id, "service": code}
        for structure_id, data in ids
        for code in data.services
    ]
    languages = [
        {"structure_id": structure_id, "language": code}
        for structure_id, data in ids
        for code in data.languages
    ]
    if services:
        db.session.execute(StructureService.__table__.insert(), services)
    if languages:
        db.session.execute(StructureLanguage.__table__.insert(), languages)


def _preview(accepted: list[StructureFields]) -> tuple[int, int, int]:
    existing = _existing([data.code for data in accepted])
    created = sum(1 for data in accepted if data.code not in existing)
    updated = sum(
        1 for data in accepted if data.code in existing and data.differs_from(existing[data.code])
    )
    return created, updated, len(accepted) - created - updated


# -- CSV export ---------------------------------------------------------------------------------
def export_rows(structures: Iterable[Structure | Mapping]) -> Iterable[list[str]]:
    """Each structure as the text cells of one CSV line (``csv_text`` makes them safe)."""
    for structure in structures:
        yield [_cell(structure, name) for name in CSV_COLUMNS]


def _cell(structure: Structure | Mapping, name: str) -> str:
    value = _value(structure, name)
    if name == "opening_hours":
        return f" {LIST_SEPARATOR} ".join(_lines(value))
    if isinstance(value, list):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return "" if value is None else str(value)


def export_csv(filters: DirectoryFilters) -> tuple[str, int]:
    """The filtered directory as CSV text (``spreadsheets.csv_text``), in the import format:
    a cell a spreadsheet would run as a formula gets a leading quote, which the import
    removes."""
    structures = plain_rows(structures_query(filters))
    text = csv_text(CSV_COLUMNS, export_rows(structures))
    audit.record(
        "directory_exported",
        object_type="Structure",
        details={"count": len(structures), **filters.audit_details()},
    )
    return text, len(structures)


def structure_as_row(structure: Structure) -> dict[str, str]:
    """The structure's values as the text a form or a CSV line would hold."""
    return {name: _cell(structure, name) for name in CSV_COLUMNS}


__all__ = [
    "CSV_COLUMNS",
    "DirectoryFilters",
    "ImportReport",
    "MalformedFile",
    "StructureFields",
    "create_structure",
    "export_csv",
    "import_csv",
    "map_points",
    "page_of",
    "structures_query",
    "update_structure",
    "validate_row",
]


def tiles_csp_source(url: str | None) -> str | None:
    """The CSP source for a tile URL template: scheme and host, ``{s}`` as a wildcard.

    ``https://{s}.tile.example.org/{z}/{x}/{y}.png`` gives ``https://*.tile.example.org``.
    Anything but an http(s) URL with a plain host gives None (no tiles are allowed).
    """
    if not url:
        return None
    parts = urlsplit(url.replace("{s}", "subdomain"))
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not re.fullmatch(r"[a-z0-9.-]+", host):
        return None
    host = host.replace("subdomain", "*", 1) if host.startswith("subdomain.") else host
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return None
    return f"{parts.scheme}://{host}{port}"
