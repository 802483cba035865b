"""Reading a case's confidential fields: its contact details and those of its notes,
referrals and actions, all sealed with THE CASE's data key.

The key is unwrapped once per request, and every field read is audited, once per row and
field and request, the events of a whole page written by one INSERT
(``audit.record_decryptions_of``) in the request's transaction. A field sealed with another
key (moved from another case), tampered with, or erased reads as None.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from backoffice.models.case import Case
from backoffice.services import audit, confidential
from backoffice.services.crypto import DecryptionError, associated_data, open_with_data_key

log = logging.getLogger(__name__)


class SealedReader:
    """Opens the sealed fields of one case and of its rows; ``audit()`` records the reads."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.reads: list[tuple[object, str]] = []
        self._dek: bytes | None = None

    def open(self, record, field: str) -> str | None:
        """``record.<field>`` in clear, or None (empty, erased, foreign key or tampered)."""
        token = getattr(record, f"{field}_sealed")
        if not token or record.data_key_id != self.case.data_key_id:
            return None
        dek = self._key()
        if dek is None:
            return None
        aad = associated_data(record.__tablename__, field, record.row_uid, record.organisation_id)
        try:
            text = open_with_data_key(dek, token, aad)
        except DecryptionError:
            log.error("%s %s: %s could not be decrypted", type(record).__name__, record.id, field)
            return None
        self.reads.append((record, field))
        return text

    def audit(self) -> None:
        audit.record_decryptions_of(self.reads, case=self.case.reference)
        self.reads = []

    def _key(self) -> bytes | None:
        if self._dek is None and not self.case.is_erased:
            try:
                _key_row, self._dek = confidential.data_key_of(self.case)
            except DecryptionError:  # erased: the key is destroyed
                return None
        return self._dek


@contextlib.contextmanager
def reading(case: Case, reader: SealedReader | None = None) -> Iterator[SealedReader]:
    """The caller's reader (who audits its reads later, with others), or a new one whose
    reads are audited when the block ends."""
    if reader is not None:
        yield reader
        return
    reader = SealedReader(case)
    yield reader
    reader.audit()
