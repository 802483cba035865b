"""Evidence: photos and screenshots (of the aggressor, his vehicle, his messages) on a case.

An upload is accepted only if Pillow recognises it as a JPEG, PNG or WebP image by its
content (never by its name or declared type), up to ``EVIDENCE_MAX_BYTES`` (10 MB). It is
then re-encoded from its pixels alone, which drops every metadata block (EXIF with its GPS
position and camera serial, XMP, comments, ICC profiles); a photo is first turned the way
its EXIF orientation says, so it still looks right. The result and a small JPEG thumbnail
are sealed with the case's data key and stored in the database, never in a file: erasing the
case shreds them. Each view decrypts through a ``Sealed`` attribute, which audits it.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import load_only

from backoffice.extensions import db
from backoffice.models.case import EVIDENCE_KINDS, Case, CaseEvidence
from backoffice.security import scoped
from backoffice.services import audit
from backoffice.services.cases.rules import CaseRuleError, check_code, record_event, require_live

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 10 MB file claiming more pixels is a decompression bomb
THUMBNAIL_SIZE = (320, 320)
# Pillow's format -> what we store and serve.
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    width: int
    height: int
    thumbnail: bytes


def max_bytes() -> int:
    return int(current_app.config.get("EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def _not_an_image() -> CaseRuleError:
    return CaseRuleError(
        _("This file is not a photo or a screenshot: only JPEG, PNG and WebP images are accepted."),
        "file",
    )


def _opened(data: bytes) -> Image.Image:
    """The image Pillow recognises in ``data`` (by content), fully decoded."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.format not in FORMATS:
            raise _not_an_image()
        if image.width * image.height > MAX_PIXELS:
            raise CaseRuleError(_("This image is too large (too many pixels)."), "file")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _not_an_image() from None
    return image


def _pixels_only(image: Image.Image) -> Image.Image:
    """A new image holding only the pixels: no EXIF, XMP, comment, ICC profile or text."""
    turned = ImageOps.exif_transpose(image)
    mode = "RGBA" if "A" in turned.getbands() or "transparency" in turned.info else "RGB"
    converted = turned.convert(mode)
    return Image.frombytes(mode, converted.size, converted.tobytes())


def _encoded(image: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90)
    elif image_format == "WEBP":
        image.save(out, "WEBP", quality=90)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def clean_image(data: bytes) -> CleanImage:
    """Check ``data`` and re-encode it without metadata; raises ``CaseRuleError``."""
    if len(data) > max_bytes():
        raise CaseRuleError(
            _("This file is too big (at most %(mb)d MB).", mb=max_bytes() // (1024 * 1024)),
            "file",
        )
    if not data:
        raise CaseRuleError(_("Choose a file."), "file")
    original = _opened(data)
    image_format = original.format
    clean = _pixels_only(original)
    thumbnail = clean.convert("RGB")
    thumbnail.thumbnail(THUMBNAIL_SIZE)
    return CleanImage(
        data=_encoded(clean, image_format),
        content_type=FORMATS[image_format],
        width=clean.width,
        height=clean.height,
        thumbnail=_encoded(thumbnail, "JPEG"),
    )


def add_evidence(case: Case, data: bytes, kind: str, actor) -> CaseEvidence:
    """Attach a cleaned, sealed image to the case (not to an erased one)."""
    require_live(case)
    check_code(kind, EVIDENCE_KINDS, "kind")
    clean = clean_image(data)
    evidence = CaseEvidence(
        case_id=case.id,
        organisation_id=case.organisation_id,
        kind=kind,
        content_type=clean.content_type,
        size_bytes=len(clean.data),
        width=clean.width,
        height=clean.height,
        added_by_id=actor.id,
    )
    evidence.data_key = case.data_key
    evidence.image = base64.b64encode(clean.data).decode("ascii")
    evidence.thumbnail = base64.b64encode(clean.thumbnail).decode("ascii")
    db.session.add(evidence)
    db.session.flush()
    record_event(case, "evidence_added", actor, evidence=evidence.id, kind=kind)
    audit.record(
        "case_evidence_added",
        evidence,
        actor=actor,
        details={"case": case.reference, "kind": kind, "bytes": len(clean.data)},
    )
    return evidence


# What a list of evidence shows: never the sealed images (the page loads thumbnails one by one).
EVIDENCE_LISTED = (
    CaseEvidence.id,
    CaseEvidence.case_id,
    CaseEvidence.kind,
    CaseEvidence.content_type,
    CaseEvidence.size_bytes,
    CaseEvidence.width,
    CaseEvidence.height,
    CaseEvidence.added_at,
    CaseEvidence.added_by_id,
    CaseEvidence.organisation_id,
)


def evidence_of(case: Case) -> list[CaseEvidence]:
    """The case's evidence, without the sealed images (the page loads thumbnails one by one)."""
    statement = scoped(
        select(CaseEvidence)
        .options(load_only(*EVIDENCE_LISTED))
        .where(CaseEvidence.case_id == case.id, CaseEvidence.image_sealed.is_not(None)),
        CaseEvidence,
        case,
    )
    return list(db.session.scalars(statement.order_by(CaseEvidence.id)))


def read_evidence(evidence: CaseEvidence, thumbnail: bool = False) -> tuple[bytes, str]:
    """The image (or its JPEG thumbnail) and its content type; the read is audited."""
    require_live(evidence.case)
    sealed = evidence.thumbnail if thumbnail else evidence.image
    if sealed is None:
        raise CaseRuleError(_("This file was erased."))
    content_type = "image/jpeg" if thumbnail else evidence.content_type
    return base64.b64decode(sealed), content_type
