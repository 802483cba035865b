"""The development outbox (API.md, "Development outbox"): messages written, not sent.

In development with no SMTP server or SMS gateway configured (``MAIL_BACKEND`` /
``SMS_BACKEND`` = ``outbox``), every message — alerts, codes, notices, staff emails — is
written to ``MESSAGE_OUTBOX_DIR`` (``instance/outbox/``) as one text file, as Django's file
mail backend does, so a registration can be followed end to end with ``make run``.
Production refuses these backends at start-up (``config._channel_problems``).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path


def write_to_outbox(
    folder: str | Path, to: str, channel: str, language: str, text: str, subject: str = ""
) -> Path:
    """One message as one UTF-8 text file (API.md, "Development outbox"): named
    ``<UTC timestamp>-<channel>-<short id>.txt``, its first lines ``To:``, ``Channel:``,
    ``Language:``, a blank line, then the text (an email's subject on its first line)."""
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{channel}-{secrets.token_hex(4)}.txt"
    body = f"Subject: {subject}\n\n{text}" if subject else text
    header = f"To: {to}\nChannel: {channel}\nLanguage: {language}\n\n"
    # Created readable by its owner only: the files hold numbers and codes.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(header + body + "\n")
    return path
