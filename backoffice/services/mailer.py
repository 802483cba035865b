"""A small SMTP sender for staff emails (digests, scheduled reports).

``send_email`` sends one message. Inside ``with smtp_connection():`` every ``send_email``
reuses one connection, so a batch (a digest to each social worker) opens one session with
the server instead of one per message. Settings: ``SMTP_HOST``, ``SMTP_PORT``,
``SMTP_USE_TLS`` (STARTTLS; port 465 means implicit TLS), ``SMTP_USERNAME``,
``SMTP_PASSWORD``, ``MAIL_FROM``, ``SMTP_TIMEOUT`` (seconds).

Errors are raised as ``MailError`` with a message that names neither the recipient nor the
content: both may end up in logs.
"""

from __future__ import annotations

import contextlib
import mimetypes
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

from backoffice.services.dev_outbox import write_to_outbox

_connection: ContextVar[smtplib.SMTP | None] = ContextVar("smtp_connection", default=None)


class MailError(RuntimeError):
    """The message could not be handed to the SMTP server."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str | None = None


def _to_outbox(message: EmailMessage, body: str) -> None:
    names = [part.get_filename() for part in message.iter_attachments()]
    text = body + "".join(f"\n[attachment: {name}]" for name in names if name)
    for recipient in message["To"].split(", "):
        write_to_outbox(
            current_app.config.get("MESSAGE_OUTBOX_DIR") or "instance/outbox",
            recipient,
            "email",
            str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "fr"),
            text,
            str(message["Subject"]),
        )


def _open() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    timeout = float(config.get("SMTP_TIMEOUT", 30))
    context = ssl.create_default_context()
    try:
        if port == 465:
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
            if config.get("SMTP_USE_TLS"):
                server.starttls(context=context)
        if config.get("SMTP_USERNAME"):
            server.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"Cannot connect to the SMTP server ({type(error).__name__}).") from None
    return server


@contextlib.contextmanager
def smtp_connection() -> Iterator[smtplib.SMTP]:
    """One SMTP session for every ``send_email`` inside the block (nested blocks reuse it)."""
    existing = _connection.get()
    if existing is not None:
        yield existing
        return
    server = _open()
    token = _connection.set(server)
    try:
        yield server
    finally:
        _connection.reset(token)
        with contextlib.suppress(OSError, smtplib.SMTPException):
            server.quit()


def build_message(
    to: str | Sequence[str],
    subject: str,
    body: str,
    attachments: Iterable[Attachment | tuple] = (),
) -> EmailMessage:
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients or any(not r or "\n" in r or "\r" in r for r in recipients):
        raise MailError("Invalid recipient address.")
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = ", ".join(recipients)
    message["Subject"] = " ".join(str(subject).split())  # no header injection via newlines
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=current_app.config["MAIL_FROM"].rpartition("@")[2])
    message.set_content(body)
    for attachment in attachments:
        _attach(
            message, attachment if isinstance(attachment, Attachment) else Attachment(*attachment)
        )
    return message


def _attach(message: EmailMessage, attachment: Attachment) -> None:
    mimetype = attachment.mimetype or mimetypes.guess_type(attachment.filename)[0]
    maintype, _, subtype = (mimetype or "application/octet-stream").partition("/")
    message.add_attachment(
        attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
    )


def send_email(
    to: str | Sequence[str],
    subject: str,
    body: str,
    attachments: Iterable[Attachment | tuple] = (),
) -> None:
    """Send one plain-text message (attachments: ``Attachment`` or (name, bytes[, type])).

    With ``MAIL_BACKEND=outbox`` (development without SMTP) it is written to the outbox folder
    instead, one file per recipient (attachments named only)."""
    message = build_message(to, subject, body, attachments)
    if current_app.config.get("MAIL_BACKEND") == "outbox":
        _to_outbox(message, body)
        return
    with smtp_connection() as server:
        try:
            refused = server.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise MailError(
                f"The SMTP server refused the message ({type(error).__name__})."
            ) from None
    if refused:
        raise MailError(f"The SMTP server refused {len(refused)} recipient(s).")
