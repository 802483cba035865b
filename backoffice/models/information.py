"""Information sheets for workers: health, rights, safety, in the ten alert languages.

A sheet has a French source and one version per alert language. Each version holds a draft
(written, waiting for review) and the published text; a second person publishes a draft.
Publishing the French raises the sheet's ``revision``; a translation records the French
revision it was made from, so it is up to date, outdated (the French changed since) or
missing. Public-class data: no person appears in a sheet.
"""

from __future__ import annotations

import datetime as dt

from flask_appbuilder import Model
from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backoffice.models.base import TimestampMixin

SHEET_TOPICS: dict[str, object] = {
    "health": _l("Health"),
    "rights": _l("Rights and complaints"),
    "safety": _l("Safety and self-defence"),
    "digital": _l("Digital safety"),
}
TRANSLATION_STATES: dict[str, object] = {
    "up_to_date": _l("Up to date"),
    "outdated": _l("Outdated"),
    "missing": _l("Missing"),
}
# ``review`` of a published version: checked by a native speaker, or not yet.
REVIEW_STATES: dict[str, object] = {
    "reviewed": _l("Reviewed by a native speaker"),
    "to_review": _l("To be reviewed by a native speaker"),
}
SOURCE_LANGUAGE = "fr"


class InfoSheet(TimestampMixin, Model):
    __tablename__ = "info_sheets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    topic: Mapped[str] = mapped_column(String(20), nullable=False)
    # The French text's published revision (0: never published).
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    versions: Mapped[list[InfoSheetVersion]] = relationship(
        back_populates="sheet", cascade="all, delete-orphan", lazy="selectin"
    )

    def version(self, language: str) -> InfoSheetVersion | None:
        return next((v for v in self.versions if v.language == language), None)

    def state_of(self, language: str) -> str:
        """``up_to_date``, ``outdated`` or ``missing`` (the French: ``up_to_date`` once
        published)."""
        version = self.version(language)
        if version is None or version.published_body is None:
            return "missing"
        if version.published_revision == self.revision:
            return "up_to_date"
        return "outdated"


class InfoSheetVersion(Model):
    __tablename__ = "info_sheet_versions"
    __table_args__ = (UniqueConstraint("sheet_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sheet_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("info_sheets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    language: Mapped[str] = mapped_column(String(5), nullable=False)

    # The draft: written, waiting for a second person to publish it.
    draft_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    draft_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # French only: the list of {"title", "url"} the sheet rests on.
    draft_sources: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # A translation's draft: the French revision it was made from.
    draft_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    draft_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    draft_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    # The published text (what the API serves and the PDF prints).
    published_title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    published_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_sources: Mapped[list | None] = mapped_column(JSON, nullable=True)
    published_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    written_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    published_by_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("ab_user.id", ondelete="SET NULL"), nullable=True
    )
    review: Mapped[str] = mapped_column(String(10), nullable=False, default="to_review")

    sheet: Mapped[InfoSheet] = relationship(back_populates="versions")
