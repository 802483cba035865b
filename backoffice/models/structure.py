"""The directory of structures: the places a social worker can refer a person to.

Public-class data: organisations and public services only, never a person. The directory is
shared by every partner association (not organisation-owned).

Services and languages are many-valued; they live in two small child tables so that filtering
"offers PEP" or "speaks Romanian" is an indexed join on both databases instead of a scan of a
JSON column.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import TimestampMixin, utcnow

STRUCTURE_CATEGORIES: dict[str, object] = {
    "community": _l("Community sex-worker association"),
    "allied": _l("Allied association"),
    "cegidd": _l("CeGIDD free testing centre"),
    "hospital": _l("Hospital / emergency service"),
    "lawyer": _l("Lawyer / legal consultation"),
    "shelter": _l("Shelter"),
    "police": _l("Police / gendarmerie station"),
    "other": _l("Other"),
}

STRUCTURE_SERVICES: dict[str, object] = {
    "health": _l("Health care"),
    "pep": _l("Post-exposure treatment (PEP)"),
    "testing": _l("Testing (HIV, hepatitis, STIs)"),
    "prep": _l("PrEP"),
    "contraception": _l("Contraception"),
    "abortion": _l("Abortion"),
    "forensic": _l("Forensic medicine (injury report)"),
    "legal": _l("Legal advice"),
    "complaint": _l("Filing a complaint"),
    "shelter": _l("Shelter / emergency accommodation"),
    "psychological": _l("Psychological support"),
    "administrative": _l("Administrative and residence rights"),
    "financial": _l("Financial help"),
    "harm_reduction": _l("Harm reduction"),
    "outreach": _l("Outreach (street, online)"),
    "peer_support": _l("Peer support"),
    "food": _l("Food aid"),
    "trans_health": _l("Trans health"),
}

# Where an entry comes from (``source_kind``); ``source`` says more in words.
SOURCE_KINDS: dict[str, object] = {
    "legacy": _l("Entered before sources were recorded"),
    "demo": _l("Demo data"),
    "form": _l("Entered by staff"),
    "csv": _l("CSV import"),
    "finess": _l("FINESS national register"),
}
# A verification older than this is due again (the entry is shown as "verification due").
VERIFICATION_VALID_DAYS = 365
# What a partner association's edit of a verified entry cannot change without review.
CONTACT_FIELDS: tuple[str, ...] = (
    "address",
    "postcode",
    "city",
    "phone",
    "website",
    "opening_hours",
)

# The alert languages first (the ones workers receive alerts in), then others that
# structures commonly offer. Codes are ISO 639 (639-3 where 639-1 has none).
STRUCTURE_LANGUAGES: dict[str, object] = {
    "fr": _l("French"),
    "en": _l("English"),
    "es": _l("Spanish"),
    "pt": _l("Portuguese"),
    "ro": _l("Romanian"),
    "bg": _l("Bulgarian"),
    "zh": _l("Chinese"),
    "ru": _l("Russian"),
    "uk": _l("Ukrainian"),
    "ar": _l("Arabic"),
    "it": _l("Italian"),
    "de": _l("German"),
    "pl": _l("Polish"),
    "hu": _l("Hungarian"),
    "sq": _l("Albanian"),
    "tr": _l("Turkish"),
    "th": _l("Thai"),
    "vi": _l("Vietnamese"),
    "tl": _l("Tagalog"),
    "fa": _l("Persian"),
    "ka": _l("Georgian"),
    "ln": _l("Lingala"),
    "wo": _l("Wolof"),
    "ha": _l("Hausa"),
    "yo": _l("Yoruba"),
    "pcm": _l("Nigerian Pidgin"),
    "ht": _l("Haitian Creole"),
    "gcf": _l("Antillean Creole"),
    "rcf": _l("Réunion Creole"),
    "srn": _l("Sranan Tongo"),
    "swb": _l("Shimaore"),
    "lsf": _l("French Sign Language"),
}


class Structure(TimestampMixin, Model):
    __tablename__ = "structures"
    __table_args__ = (Index("ix_structures_department_category", "department", "category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stable key for CSV import/export: a line with a known code updates that structure.
    code: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    category: Mapped[str] = mapped_column(String(20), nullable=False)
    address: Mapped[str | None] = mapped_column(String(250), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(10), nullable=True)
    city: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    department: Mapped[str] = mapped_column(String(3), nullable=False)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    # True when the coordinates are a city-centre fallback rather than the building itself.
    location_approximate: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    website: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # One line per day range, e.g. "Mon-Fri 9:00-17:00" (shown as a list).
    opening_hours: Mapped[str | None] = mapped_column(Text, nullable=True)
    trained_on_sex_work: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    notes: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Where the entry comes from and how sure we are of it.
    source: Mapped[str | None] = mapped_column(String(300), nullable=True)
    source_kind: Mapped[str] = mapped_column(String(12), nullable=False, default="form")
    # Verification: someone called the structure and checked the entry (unverified: None).
    verified_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # No ON DELETE rule on these two: SQLite could only add one by rebuilding the table.
    verified_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id"), nullable=True
    )
    verification_note: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The partner association that answers for this entry (its contact details are changed
    # by others only after its or a coordinator's review). Not "organisation_id": the
    # directory is shared, not organisation-owned.
    owner_organisation_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id"), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Name, city and postcode folded to lower-case ASCII words, kept by the listener below,
    # so that "saint etienne" finds "Saint-Étienne" on SQLite and PostgreSQL alike.
    search_key: Mapped[str] = mapped_column(String(400), nullable=False, default="")

    service_rows: Mapped[list[StructureService]] = relationship(
        back_populates="structure", cascade="all, delete-orphan", lazy="selectin"
    )
    language_rows: Mapped[list[StructureLanguage]] = relationship(
        back_populates="structure", cascade="all, delete-orphan", lazy="selectin"
    )

    verified_by = relationship("StaffUser", foreign_keys=[verified_by_id])

    def __repr__(self) -> str:
        return f"{self.name} ({self.city})"

    @property
    def verification(self) -> str:
        """``unverified``, ``verified`` or ``due`` (verified more than a year ago)."""
        return verification_state(self.verified_at)

    @property
    def verification_due_on(self) -> dt.date | None:
        if self.verified_at is None:
            return None
        return (self.verified_at + dt.timedelta(days=VERIFICATION_VALID_DAYS)).date()

    @property
    def services(self) -> list[str]:
        return in_vocabulary_order(STRUCTURE_SERVICES, (row.service for row in self.service_rows))

    @services.setter
    def services(self, codes: list[str]) -> None:
        _sync_children(self.service_rows, "service", codes, StructureService)

    @property
    def languages(self) -> list[str]:
        return in_vocabulary_order(
            STRUCTURE_LANGUAGES, (row.language for row in self.language_rows)
        )

    @languages.setter
    def languages(self, codes: list[str]) -> None:
        _sync_children(self.language_rows, "language", codes, StructureLanguage)

    @property
    def opening_hours_lines(self) -> list[str]:
        return [line.strip() for line in (self.opening_hours or "").splitlines() if line.strip()]


def verification_state(verified_at: dt.datetime | None, now: dt.datetime | None = None) -> str:
    if verified_at is None:
        return "unverified"
    age = (now or utcnow()) - verified_at
    return "due" if age > dt.timedelta(days=VERIFICATION_VALID_DAYS) else "verified"


def in_vocabulary_order(vocabulary: dict[str, object], codes) -> list[str]:
    """Codes in the order the vocabulary lists them (alert languages first, for instance)."""
    rank = {code: index for index, code in enumerate(vocabulary)}
    return sorted(set(codes), key=lambda code: (rank.get(code, len(rank)), code))


def fold_for_search(text: str) -> str:
    """Lower-case ASCII words: accents, case and punctuation do not matter to a search."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    bare = bare.replace("œ", "oe").replace("æ", "ae")
    return " ".join(re.findall(r"[a-z0-9]+", bare))


def search_key_for(name: str, city: str, postcode: str | None) -> str:
    return fold_for_search(" ".join((name or "", city or "", postcode or "")))[:400]


@event.listens_for(Structure, "before_insert")
@event.listens_for(Structure, "before_update")
def _refresh_search_key(_mapper, _connection, structure: Structure) -> None:
    structure.search_key = search_key_for(structure.name, structure.city, structure.postcode)


def _sync_children(rows: list, attribute: str, codes: list[str], model: type) -> None:
    """Make the child rows match ``codes`` without deleting and re-adding unchanged ones."""
    wanted = set(codes)
    for row in list(rows):
        if getattr(row, attribute) not in wanted:
            rows.remove(row)
    present = {getattr(row, attribute) for row in rows}
    for code in sorted(wanted - present):
        rows.append(model(**{attribute: code}))


class StructureService(Model):
    __tablename__ = "structure_services"

    structure_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)
    structure: Mapped[Structure] = relationship(back_populates="service_rows")


class StructureLanguage(Model):
    __tablename__ = "structure_languages"

    structure_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("structures.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(5), primary_key=True, index=True)
    structure: Mapped[Structure] = relationship(back_populates="language_rows")


CHANGE_STATUSES: dict[str, object] = {
    "pending": _l("Waiting for review"),
    "approved": _l("Approved"),
    "refused": _l("Refused"),
}


class StructureChange(Model):
    """A partner association's change to a verified entry's contact details, waiting for the
    review of the entry's owner organisation or a coordinator."""

    __tablename__ = "structure_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    structure_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("structures.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Field name -> proposed text value (public-class data only: contact details).
    proposed: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending", index=True)
    proposed_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    proposed_by_organisation_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("organisations.id", ondelete="SET NULL"), nullable=True
    )
    proposed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    structure: Mapped[Structure] = relationship(lazy="joined")
    proposed_by = relationship("StaffUser", foreign_keys=[proposed_by_id])
