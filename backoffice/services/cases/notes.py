"""Confidential notes: sealed with the case's key, editable by their author for
``CASE_NOTE_EDIT_MINUTES`` (default 15), then append-only; later changes are corrections
attached to the note."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm.attributes import set_committed_value

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import Case, CaseNote
from backoffice.security import OutOfScope, scoped
from backoffice.services import audit
from backoffice.services.cases.rules import (
    NOTE_MAX_LENGTH,
    CaseRuleError,
    clean_text,
    note_edit_minutes,
    record_event,
    require_live,
    staff_names,
)
from backoffice.services.cases.sealed import SealedReader, reading


def seal_note(case: Case, note: CaseNote, text: str) -> None:
    note.organisation_id = case.organisation_id
    # The note shares THE CASE's key (erasing the case erases it); its own row_uid binds it.
    note.data_key = case.data_key
    note.body = text


def notes_of(case: Case) -> Select:
    """The select of the case's notes, oldest first (the case is the scope's actor)."""
    statement = select(CaseNote).where(CaseNote.case_id == case.id)
    return scoped(statement, CaseNote, case).order_by(CaseNote.created_at, CaseNote.id)


def add_note(case: Case, text: str, actor, corrects: CaseNote | None = None) -> CaseNote:
    """A new note, or a correction appended to an earlier one of the same case."""
    require_live(case)
    text = clean_text(text, NOTE_MAX_LENGTH, "body", required=True)
    if corrects is not None:
        if corrects.case_id != case.id:
            raise OutOfScope("CaseNote")
        corrects_id = corrects.corrects_id or corrects.id  # corrections hang off the original
    else:
        corrects_id = None
    note = CaseNote(case_id=case.id, author_id=actor.id, created_at=utcnow())
    note.corrects_id = corrects_id
    seal_note(case, note, text)
    db.session.add(note)
    db.session.flush()
    kind = "note_corrected" if corrects_id else "note_added"
    record_event(case, kind, actor, note=note.id)
    audit.record(f"case_{kind}", note, actor=actor, details={"case": case.reference})
    return note


def note_edit_deadline(note: CaseNote, minutes: int | None = None) -> dt.datetime:
    """Until when the author may edit the note (``minutes``: the configured window)."""
    return note.created_at + dt.timedelta(minutes=minutes or note_edit_minutes())


def can_edit_note(
    note: CaseNote, actor, now: dt.datetime | None = None, minutes: int | None = None
) -> bool:
    return (
        note.author_id == getattr(actor, "id", None)
        and not note.transferred
        and note.body_sealed is not None
        and (now or utcnow()) <= note_edit_deadline(note, minutes)
    )


def edit_note(note: CaseNote, text: str, actor) -> None:
    """Only the author, only within the edit window; afterwards, add a correction."""
    case = db.session.get(Case, note.case_id)
    require_live(case)
    if not can_edit_note(note, actor):
        raise CaseRuleError(
            _("This note can no longer be edited. Add a correction instead."), "body"
        )
    text = clean_text(text, NOTE_MAX_LENGTH, "body", required=True)
    note._edit_allowed = True
    try:
        seal_note(case, note, text)
    finally:
        note._edit_allowed = False
    note.edited_at = utcnow()
    record_event(case, "note_edited", actor, note=note.id)
    audit.record("case_note_edited", note, actor=actor, details={"case": case.reference})


@dataclass
class NoteView:
    """A note as a page shows it: primitive values only, decrypted once."""

    id: int
    author: str | None
    created_at: dt.datetime
    edited_at: dt.datetime | None
    text: str | None
    transferred: bool
    editable_until: dt.datetime | None
    corrections: list[NoteView] = field(default_factory=list)


def read_notes(case: Case, actor, names: dict[int, str] | None = None) -> list[NoteView]:
    """Every note of the case, corrections nested under the note they correct.

    One unwrap of the case key for all notes; each decryption is audited once per note and
    request, the events written in one bulk insert (``sealed.SealedReader``).
    """
    notes = db.session.scalars(notes_of(case)).all()
    if names is None:
        names = staff_names(case) if notes else {}
    return note_views(case, notes, actor, names)


def note_views(
    case: Case,
    notes: list[CaseNote],
    actor,
    names: dict[int, str],
    reader: SealedReader | None = None,
) -> list[NoteView]:
    """``read_notes`` for notes already loaded (oldest first): decrypts, audits, nests."""
    with reading(case, reader) as sealed:
        texts = {note.id: sealed.open(note, "body") for note in notes}
    now, minutes = utcnow(), note_edit_minutes()
    views = {
        note.id: _note_view(note, texts.get(note.id), names, actor, now, minutes) for note in notes
    }
    roots = []
    for note in notes:
        parent = views.get(note.corrects_id) if note.corrects_id else None
        (parent.corrections if parent else roots).append(views[note.id])
    return roots


def _note_view(
    note: CaseNote, text: str | None, names: dict, actor, now: dt.datetime, minutes: int
) -> NoteView:
    editable = text is not None and can_edit_note(note, actor, now, minutes)
    return NoteView(
        id=note.id,
        author=None if note.transferred else names.get(note.author_id),
        created_at=note.created_at,
        edited_at=note.edited_at,
        text=text,
        transferred=note.transferred,
        editable_until=note_edit_deadline(note, minutes) if editable else None,
    )


def read_note(note: CaseNote) -> str | None:
    """One note's text (audited); None once its case was erased."""
    case = db.session.get(Case, note.case_id)
    if case.is_erased:
        return None
    set_committed_value(note, "data_key", case.data_key)
    return note.body
