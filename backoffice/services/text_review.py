"""Publication safety: every text an alert sends out passes through the anonymisation assistant.

Issue 18.1. The masking check of a report covers its narrative; the texts a moderator writes
for the alert (French summary, translations, free description and vehicle fields) go out to
thousands of workers and partners, so they pass through ``anonymise.propose_redaction`` too,
in their own language, the alert's published identifiers kept (they are the aggressor's).

Each detected detail is a ``TextFinding``. It blocks publication until the moderator removes it
from the text or marks it reviewed with a reason (a false positive: "Clio" as a name). A review
is tied to the value in that field through a blind index (the key), so editing the text to a
new detail asks again, and no victim detail is stored in the review. ``alerts`` owns the
alert's texts and the blocking; this module only finds and records.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import flag_modified

from backoffice.models.base import utcnow
from backoffice.services import anonymise, audit
from backoffice.services.confidential import keyring

REASON_MAX_LENGTH = 500
BLIND_INDEX_KIND = "alert-text-review"


@dataclass(frozen=True)
class OutgoingText:
    field: str  # "summary", "summary_en", "description.hair", "vehicle.model"
    language: str
    text: str


@dataclass(frozen=True)
class TextFinding:
    key: str
    field: str
    language: str
    type: str
    value: str  # shown to the moderator who wrote it, never stored
    start: int
    end: int
    review: dict | None = None

    @property
    def blocking(self) -> bool:
        return self.review is None


class ReviewRefused(ValueError):
    """A review without a reason, or of a detail no longer in the text."""

    def __init__(self, message: object) -> None:
        super().__init__(str(message))
        self.message = message


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def finding_key(field: str, kind: str, value: str) -> str:
    return keyring().blind_index(BLIND_INDEX_KIND, f"{field}\x1f{kind}\x1f{_fold(value)}")


def find(texts: list[OutgoingText], keep: list[str], reviews: list[dict]) -> list[TextFinding]:
    """Every victim detail the assistant proposes to redact in ``texts``, with its review."""
    reviewed = {r.get("key"): r for r in reviews or []}
    found: list[TextFinding] = []
    for item in texts:
        if not item.text.strip():
            continue
        redaction = anonymise.propose_redaction(item.text, item.language, keep=keep)
        for span in redaction.spans:
            value = item.text[span.start : span.end]
            key = finding_key(item.field, span.type, value)
            found.append(
                TextFinding(
                    key, item.field, item.language, span.type, value, span.start, span.end,
                    reviewed.get(key),
                )
            )  # fmt: skip
    return found


def mark_reviewed(alert, findings: list[TextFinding], key: str, reason: str, actor) -> dict:
    """Record that the moderator reviewed one finding (audited); returns the review."""
    reason = (reason or "").strip()
    if not reason:
        raise ReviewRefused(_l("Say why this detail may stay: the reason is kept and audited."))
    if len(reason) > REASON_MAX_LENGTH:
        raise ReviewRefused(_l("The reason is too long."))
    finding = next((f for f in findings if f.key == key), None)
    if finding is None:
        raise ReviewRefused(_l("This detail is no longer in the text: nothing to review."))
    review = {
        "key": key,
        "field": finding.field,
        "type": finding.type,
        "reason": reason,
        "by": getattr(actor, "id", None),
        "at": utcnow().replace(tzinfo=None).isoformat(timespec="seconds"),
    }
    alert.text_reviews = [r for r in alert.text_reviews or [] if r.get("key") != key] + [review]
    flag_modified(alert, "text_reviews")
    audit.record(
        "alert_text_reviewed",
        alert,
        details={"field": finding.field, "type": finding.type, "reason": reason},
        actor=actor,
    )
    return review
