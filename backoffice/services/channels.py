"""Delivery channels: email through SMTP, SMS through an HTTP gateway.

A channel opens one session per batch (one SMTP connection, one HTTP keep-alive session)
and sends messages one by one, answering each with an ``Outcome``:

* ``SENT`` — the server or gateway accepted it (``provider_id`` is its id or our Message-ID);
* ``FAILED`` — it never will be: a malformed or refused address or number. Permanent;
* ``RETRY`` — it may have failed, or may have gone through without our knowing (the
  connection dropped after the data went out, a timeout): send it again later with the
  same idempotency key;
* ``NOT_ATTEMPTED`` — nothing was sent (the server is unreachable, the channel is not
  configured): put back in the queue without spending one of its attempts.

``channel_down`` on an outcome tells the dispatcher to stop using this session (it may
reopen it once). Details are scrubbed (``scrub``): a server's answer can quote the address.

Idempotency: every message carries its delivery's random key. Email uses it as the
Message-ID (``<key@domain>``): receiving systems and mail clients treat two messages with
one Message-ID as one, and the fault tests count messages by it. SMS gateways receive it as
the client reference (and ``Idempotency-Key`` header): a gateway that honours it sends a
re-submitted message once. A provider that does not should say so in its subclass
(``honours_reference = False``); the dispatcher then still retries (at-least-once), since a
lost alert is worse than a repeated one.

Adding an SMS provider: subclass ``SmsGateway``, override ``build_request`` (and
``message_id`` if its answer differs), and name the class in ``SMS_GATEWAY_PROVIDER``
(``package.module:Class``) or register it in ``PROVIDERS``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import smtplib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate

import phonenumbers
import requests
from email_validator import EmailNotValidError, validate_email
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from backoffice.services import mailer
from backoffice.services.dev_outbox import write_to_outbox
from backoffice.services.sms_encoding import sms_parts, split_sms

SENT = "sent"
FAILED = "failed"
RETRY = "retry"
NOT_ATTEMPTED = "not_attempted"
# A sent outcome whose acceptance was not confirmed (the answer was lost after the point of
# no return): taken as delivered under its known id, never sent a second time.
UNCONFIRMED = "unconfirmed"
# A retry whose message may already have been accepted: reconciled before any resend.
IN_DOUBT = "in_doubt"

# compat32 with CRLF line ends: smtplib sends bytes as they are, and SMTP wants CRLF.
_WIRE = compat32.clone(linesep="\r\n")
_EMAIL_RE = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_DIGITS_RE = re.compile(r"\+?\d[\d .-]{3,}\d")


def scrub(text: object, limit: int = 160) -> str:
    """A server's answer without addresses or numbers, short enough for ``last_error``."""
    cleaned = _EMAIL_RE.sub("<address>", str(text or ""))
    cleaned = _DIGITS_RE.sub("<number>", cleaned)
    cleaned = " ".join(cleaned.split())
    return cleaned[:limit]


@dataclass(frozen=True)
class Outcome:
    status: str
    code: str | None = None
    detail: str | None = None
    provider_id: str | None = None
    segments: int | None = None
    channel_down: bool = False


class ChannelUnavailable(Exception):
    """The channel cannot be used now (server down, not configured): nothing was sent."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --- email -------------------------------------------------------------------------------------


@dataclass
class OutgoingEmail:
    to: str
    subject: str
    body: str
    key: str  # the delivery's idempotency key: the Message-ID's left part
    language: str
    unsubscribe_url: str | None = None
    attachments: list[mailer.Attachment] = field(default_factory=list)


def message_id_domain(config: Mapping) -> str:
    return config.get("MAIL_MESSAGE_ID_DOMAIN") or config["MAIL_FROM"].rpartition("@")[2]


def reconcile_email(message_id_: str, config: Mapping) -> bool | None:
    """Did the mail relay accept the message with this Message-ID? True, False, or None
    when it cannot tell, per ``MAIL_IN_DOUBT``:

    * ``brevo``: asks Brevo's transactional email events API (``GET /v3/smtp/statistics/
      events?messageId=…``, key ``MAIL_RECONCILE_API_KEY``): any event means accepted; an
      unreachable API answers None (asked again later, nothing is guessed);
    * ``assume_sent`` (default): True, so never a duplicate; a message the server had
      not kept is lost (rare: the connection must break between the end of data and its
      acceptance);
    * ``resend``: False, so never a loss; a message the server had kept goes twice (with
      the same Message-ID).
    """
    policy = config.get("MAIL_IN_DOUBT") or "assume_sent"
    if policy == "resend":
        return False
    if policy != "brevo":
        return True
    url = (config.get("MAIL_RECONCILE_URL") or "https://api.brevo.com/v3").rstrip("/")
    try:
        response = requests.get(
            f"{url}/smtp/statistics/events",
            params={"messageId": message_id_, "limit": 10},
            headers={
                "api-key": config.get("MAIL_RECONCILE_API_KEY") or "",
                "accept": "application/json",
            },
            timeout=10,
        )
        if response.status_code != 200:
            return None
        return bool(response.json().get("events"))
    except (requests.exceptions.RequestException, ValueError):
        return None


def message_id(key: str, config: Mapping) -> str:
    return f"<{key}@{message_id_domain(config)}>"


class EmailChannel:
    """SMTP through ``services.mailer`` (host, port, TLS, credentials from the config)."""

    name = "email"

    def __init__(self, config: Mapping) -> None:
        self.config = config

    @contextlib.contextmanager
    def session(self) -> Iterator[EmailSession]:
        session = EmailSession(self.config)
        session.open()
        try:
            yield session
        finally:
            session.close()


class EmailSession:
    """One SMTP connection reused for a batch; ``reopen`` after the server dropped it."""

    def __init__(self, config: Mapping) -> None:
        self.config = config
        self._stack: contextlib.ExitStack | None = None
        self.server: smtplib.SMTP | None = None

    def open(self) -> None:
        stack = contextlib.ExitStack()
        try:
            self.server = stack.enter_context(mailer.smtp_connection())
        except mailer.MailError as error:
            stack.close()
            raise ChannelUnavailable("smtp_unavailable", scrub(error)) from None
        self._stack = stack

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self.server = None, None

    def reopen(self) -> None:
        self.close()
        self.open()

    def build(self, email: OutgoingEmail) -> bytes:
        """The message as sent: plain text (UTF-8), attachments, and our headers.

        Built with the ``compat32`` MIME classes rather than ``EmailMessage``: the header
        registry of the latter parsed every header again and took most of the send time.
        """
        if any(c in email.to for c in "\r\n,;<>") or " " in email.to.strip():
            raise ValueError("The address holds characters that cannot be in one address.")
        text = MIMEText(email.body, "plain", "utf-8")
        if email.attachments:
            message = MIMEMultipart("mixed")
            message.attach(text)
            for attachment in email.attachments:
                subtype = (attachment.mimetype or "application/octet-stream").rpartition("/")[2]
                part = MIMEApplication(attachment.content, subtype)
                part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
                message.attach(part)
        else:
            message = text
        message["Subject"] = Header(" ".join(str(email.subject).split()), "utf-8")
        message["From"] = self.config["MAIL_FROM"]
        message["To"] = email.to
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(email.key, self.config)
        message["Content-Language"] = email.language
        message["Auto-Submitted"] = "auto-generated"
        if email.unsubscribe_url:
            # RFC 8058 one-click: the mail provider POSTs to the link, which unsubscribes.
            message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return message.as_bytes(policy=_WIRE)

    def send(self, email: OutgoingEmail, at_point_of_no_return=None) -> Outcome:
        """Send one message; ``at_point_of_no_return`` is called just before the step after
        which the server may hold it (the dispatcher records that the send is in doubt)."""
        try:
            validate_email(email.to, check_deliverability=False)
            raw = self.build(email)
        except EmailNotValidError as error:
            # The library names the problem (a missing @…), never the whole address.
            return Outcome(FAILED, "invalid_address", scrub(error))
        except ValueError as error:
            return Outcome(FAILED, "invalid_address", scrub(error))
        options: list[str] = []
        if not email.to.isascii():
            if not self.server.has_extn("smtputf8"):
                return Outcome(FAILED, "address_unsupported", "The server takes ASCII only.")
            options = ["SMTPUTF8"]
        try:
            return self._transmit(email, raw, options, at_point_of_no_return)
        except smtplib.SMTPRecipientsRefused as error:
            code, answer = next(iter(error.recipients.values()), (550, b""))
            return _smtp_answer(code, answer, "address_refused", "address_deferred")
        except smtplib.SMTPDataError as error:
            return _smtp_answer(error.smtp_code, error.smtp_error, "message_refused", "deferred")
        except smtplib.SMTPSenderRefused as error:
            detail = f"{error.smtp_code} {scrub(error.smtp_error)}"
            return Outcome(RETRY, "sender_refused", detail, channel_down=True)
        except smtplib.SMTPNotSupportedError as error:
            return Outcome(FAILED, "address_unsupported", scrub(error))
        except (smtplib.SMTPException, OSError) as error:
            # Lost before the end of the data: the server cannot have accepted a message it
            # did not receive whole; send it again.
            return Outcome(RETRY, "smtp_connection_lost", type(error).__name__, channel_down=True)

    def _transmit(
        self, email: OutgoingEmail, raw: bytes, options: list[str], at_point_of_no_return
    ) -> Outcome:
        """``sendmail`` in its steps, to know which side of the end of data a failure is on.

        Until the final "." the server holds an incomplete message, which it discards if the
        connection drops: resending is safe. Once the "." is sent it may have accepted the
        message even if its answer never arrives: the message is then taken as delivered
        under its known Message-ID ("unconfirmed") rather than sent a second time.
        """
        server, sender = self.server, self.config["MAIL_FROM"]
        server.ehlo_or_helo_if_needed()
        mail_options = [f"size={len(raw)}"] if server.has_extn("size") else []
        code, answer = server.mail(sender, mail_options + options)
        if code != 250:
            self._reset()
            raise smtplib.SMTPSenderRefused(code, answer, sender)
        code, answer = server.rcpt(email.to)
        if code not in (250, 251):
            self._reset()
            raise smtplib.SMTPRecipientsRefused({email.to: (code, answer)})
        server.putcmd("data")
        code, answer = server.getreply()
        if code != 354:
            self._reset()
            raise smtplib.SMTPDataError(code, answer)
        body = smtplib._quote_periods(raw)
        server.send(body if body.endswith(b"\r\n") else body + b"\r\n")
        if at_point_of_no_return is not None:
            at_point_of_no_return()
        known = message_id(email.key, self.config)
        try:
            server.send(b".\r\n")
            code, answer = server.getreply()
        except (smtplib.SMTPException, OSError) as error:
            # The server may hold it: the next attempt asks before sending (``reconcile``).
            detail = f"Connection lost after the end of data ({type(error).__name__})."
            return Outcome(RETRY, IN_DOUBT, detail, provider_id=known, channel_down=True)
        if code != 250:
            raise smtplib.SMTPDataError(code, answer)
        return Outcome(SENT, provider_id=known)

    def _reset(self) -> None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self.server.rset()


def _smtp_answer(code: int, answer: bytes | str, permanent: str, temporary: str) -> Outcome:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    detail = f"{code} {scrub(text)}".strip()
    if 500 <= int(code) < 600:
        return Outcome(FAILED, permanent, detail)
    return Outcome(RETRY, temporary, detail)


# --- SMS -------------------------------------------------------------------------------------


@dataclass
class OutgoingSms:
    to: str  # E.164
    text: str
    key: str  # the delivery's idempotency key, sent as the client reference
    language: str = ""  # for the development outbox's file only


class SmsGateway:
    """An HTTP SMS gateway. Subclasses say how to build the request and read the answer."""

    name = "sms"
    honours_reference = True

    def __init__(self, config: Mapping) -> None:
        self.config = config
        self.url = config.get("SMS_GATEWAY_URL")
        self.timeout = float(config.get("SMS_GATEWAY_TIMEOUT") or 10)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    @contextlib.contextmanager
    def session(self) -> Iterator[SmsGateway]:
        if not self.configured:
            raise ChannelUnavailable("sms_not_configured", "No SMS gateway is configured.")
        self.http = requests.Session()
        try:
            yield self
        finally:
            self.http.close()

    def reopen(self) -> None:
        self.http.close()
        self.http = requests.Session()

    # -- what a provider subclass changes --------------------------------------------------
    def build_request(self, sms: OutgoingSms) -> dict:
        """Arguments for ``requests.Session.request``."""
        raise NotImplementedError

    def message_id(self, response: requests.Response) -> str | None:
        return None

    # -- sending ---------------------------------------------------------------------------
    def _auth(self) -> tuple[dict, object]:
        headers, auth = {}, None
        if self.config.get("SMS_GATEWAY_TOKEN"):
            headers["Authorization"] = f"Bearer {self.config['SMS_GATEWAY_TOKEN']}"
        elif self.config.get("SMS_GATEWAY_USERNAME"):
            auth = (self.config["SMS_GATEWAY_USERNAME"], self.config.get("SMS_GATEWAY_PASSWORD"))
        return headers, auth

    def send(self, sms: OutgoingSms, at_point_of_no_return=None) -> Outcome:
        try:
            number = phonenumbers.parse(sms.to, None)
            valid = phonenumbers.is_valid_number(number)
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            return Outcome(FAILED, "invalid_number", "The number is not a valid phone number.")
        segments = sms_parts(sms.text)[1]
        request = self.build_request(sms)
        headers, auth = self._auth()
        request.setdefault("headers", {}).update({**headers, "Idempotency-Key": sms.key})
        if auth is not None:
            request.setdefault("auth", auth)
        if at_point_of_no_return is not None:
            at_point_of_no_return()
        try:
            response = self.http.request(timeout=(min(self.timeout, 5.0), self.timeout), **request)
        except requests.exceptions.ConnectTimeout:
            return Outcome(
                NOT_ATTEMPTED, "gateway_unreachable", "Connection timed out.", channel_down=True
            )
        except requests.exceptions.Timeout:
            # The gateway may have taken it: resend with the same reference.
            return self._in_doubt("gateway_timeout", "No answer in time.", segments)
        except requests.exceptions.ConnectionError as error:
            if _never_connected(error):
                return Outcome(
                    NOT_ATTEMPTED, "gateway_unreachable", "Connection refused.", channel_down=True
                )
            return self._in_doubt("gateway_connection_lost", "Connection lost.", segments)
        except requests.exceptions.RequestException as error:
            return Outcome(RETRY, "gateway_error", type(error).__name__, channel_down=True)
        return self._classify(response, segments)

    def _in_doubt(self, code: str, detail: str, segments: int) -> Outcome:
        """The request may have been taken. A gateway that honours our reference counts a
        resend once; for one that does not, a resend would be a second SMS, so the message
        is taken as sent (unconfirmed) instead."""
        if self.honours_reference:
            return Outcome(RETRY, code, detail, segments=segments, channel_down=True)
        return Outcome(SENT, UNCONFIRMED, detail, segments=segments, channel_down=True)

    def _classify(self, response: requests.Response, segments: int) -> Outcome:
        status = response.status_code
        detail = f"HTTP {status} {scrub(response.text, 120)}".strip()
        if 200 <= status < 300:
            return Outcome(SENT, provider_id=self.message_id(response), segments=segments)
        if status in (401, 403):
            # Our credentials, not the message: nothing will go until they are fixed.
            return Outcome(NOT_ATTEMPTED, "gateway_auth", detail, channel_down=True)
        if status in (408, 425, 429) or status >= 500:
            return Outcome(
                RETRY, "gateway_unavailable", detail, segments=segments, channel_down=True
            )
        return Outcome(FAILED, "gateway_refused", detail)


def _never_connected(error: Exception) -> bool:
    """Whether a requests ConnectionError happened before anything was sent."""
    seen = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(current, "reason", None)
        nested = (
            current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        )
        current = reason if isinstance(reason, BaseException) else nested or current.__cause__
    return False


class GenericHttpGateway(SmsGateway):
    """A gateway configured entirely from settings.

    ``SMS_GATEWAY_PAYLOAD`` is a JSON object whose string values may hold ``{to}``,
    ``{text}``, ``{reference}`` and ``{sender}``; a value that is exactly ``"{parts}"``
    becomes the list of SMS parts and ``"{segments}"`` their number. It is sent as JSON, or
    as a form when ``SMS_GATEWAY_FORMAT=form``. ``SMS_GATEWAY_ID_FIELD`` names the answer's
    field holding the provider's message id (dotted for nested objects: ``data.id``).
    """

    def build_request(self, sms: OutgoingSms) -> dict:
        template = json.loads(self.config.get("SMS_GATEWAY_PAYLOAD") or "{}")
        values = {
            "to": sms.to,
            "text": sms.text,
            "reference": sms.key,
            "sender": self.config.get("SMS_GATEWAY_SENDER") or "",
        }
        payload = _fill(template, values, split_sms(sms.text))
        if (self.config.get("SMS_GATEWAY_FORMAT") or "json") == "form":
            return {"method": "POST", "url": self.url, "data": payload}
        return {"method": "POST", "url": self.url, "json": payload}

    def message_id(self, response: requests.Response) -> str | None:
        try:
            value: object = response.json()
        except ValueError:
            return None
        for part in (self.config.get("SMS_GATEWAY_ID_FIELD") or "id").split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return str(value)[:120] if value is not None else None


def _fill(template: object, values: Mapping[str, str], parts: list[str]) -> object:
    if isinstance(template, dict):
        return {key: _fill(value, values, parts) for key, value in template.items()}
    if isinstance(template, list):
        return [_fill(value, values, parts) for value in template]
    if template == "{parts}":
        return parts
    if template == "{segments}":
        return len(parts)
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
    return template


PROVIDERS: dict[str, type[SmsGateway]] = {"generic": GenericHttpGateway}
# The providers of ``services/sms_providers/`` (they import this module: named, not imported).
PROVIDER_MODULES = {
    "twilio": "backoffice.services.sms_providers.twilio:TwilioGateway",
    "ovh": "backoffice.services.sms_providers.ovh:OvhGateway",
    "brevo": "backoffice.services.sms_providers.brevo:BrevoGateway",
}


# --- development outbox ------------------------------------------------------------------------


class FileOutbox:
    """A channel that writes each message to ``MESSAGE_OUTBOX_DIR`` instead of sending it
    (development without an SMTP server or SMS gateway; refused in production by config)."""

    def __init__(self, name: str, config: Mapping) -> None:
        self.name = name
        self.folder = config.get("MESSAGE_OUTBOX_DIR") or "instance/outbox"

    @contextlib.contextmanager
    def session(self) -> Iterator[FileOutbox]:
        yield self

    def reopen(self) -> None:
        """Nothing to reopen: a folder does not drop connections."""

    def send(self, message: OutgoingEmail | OutgoingSms) -> Outcome:
        subject = getattr(message, "subject", "")
        text = getattr(message, "body", None) or getattr(message, "text", "")
        try:
            path = write_to_outbox(
                self.folder, message.to, self.name, message.language, text, subject
            )
        except OSError as error:
            return Outcome(NOT_ATTEMPTED, "outbox_unwritable", type(error).__name__)
        return Outcome(SENT, provider_id=path.name, segments=1 if self.name == "sms" else None)


def uses_outbox(name: str, config: Mapping) -> bool:
    setting = "SMS_BACKEND" if name == "sms" else "MAIL_BACKEND"
    return config.get(setting) == "outbox"


def sms_gateway(config: Mapping) -> SmsGateway | FileOutbox:
    """The configured provider: a name in ``PROVIDERS`` or ``package.module:Class`` (the
    development outbox when ``SMS_BACKEND=outbox``)."""
    if uses_outbox("sms", config):
        return FileOutbox("sms", config)
    name = config.get("SMS_GATEWAY_PROVIDER") or "generic"
    if name in PROVIDERS:
        return PROVIDERS[name](config)
    name = PROVIDER_MODULES.get(name, name)
    module_name, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module_name), attribute)(config)


def email_channel(config: Mapping) -> EmailChannel | FileOutbox:
    if uses_outbox("email", config):
        return FileOutbox("email", config)
    return EmailChannel(config)
