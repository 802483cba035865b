"""Brevo transactional SMS.

* Send: ``POST {base}/transactionalSMS/sms`` (base ``https://api.brevo.com/v3``), header
  ``api-key`` (``SMS_GATEWAY_TOKEN``), JSON ``sender`` (11 letters and digits, or 15
  digits), ``recipient`` (international number without "+"), ``content``, ``type``
  ``transactional``, ``tag`` (our reference: Brevo does not deduplicate on it),
  ``unicodeEnabled`` (true when the text is not GSM-7) and ``webUrl`` (our status address,
  with its secret). Answer 201: ``messageId``, ``smsCount``.
* Errors: JSON ``{"code", "message"}``. 400: refused for good; 401: our key; 402
  ``not_enough_credits``: nothing goes until credits are bought (not attempted, no attempt
  spent); 429 and 5xx: retry.
* Receipts posted to ``webUrl``: JSON with ``messageId`` and ``msg_status`` (or ``event``):
  ``delivered``; ``hardBounce``, ``rejected``, ``blacklisted``, ``skip``: not delivered; the
  rest (``sent``, ``accepted``, ``softBounce``…) pending. A reply carries its text in ``reply``
  and the number in ``to``.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from backoffice.services import channels
from backoffice.services.sms_encoding import is_gsm7
from backoffice.services.sms_providers import (
    DELIVERED,
    PENDING,
    UNDELIVERED,
    Inbound,
    Receipt,
    webhook_url,
)

API = "https://api.brevo.com/v3"
FAILED_EVENTS = {"hardbounce", "rejected", "blacklisted", "skip", "hard_bounce"}


class BrevoGateway(channels.SmsGateway):
    provider = "brevo"
    honours_reference = False

    def __init__(self, config: Mapping) -> None:
        super().__init__(config)
        self.url = (config.get("SMS_GATEWAY_URL") or API).rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(self.config.get("SMS_GATEWAY_TOKEN"))

    def _auth(self) -> tuple[dict, object]:
        return {"api-key": self.config["SMS_GATEWAY_TOKEN"], "accept": "application/json"}, None

    def build_request(self, sms: channels.OutgoingSms) -> dict:
        payload = {
            "sender": self.config.get("SMS_GATEWAY_SENDER") or "",
            "recipient": sms.to.lstrip("+"),
            "content": sms.text,
            "type": "transactional",
            "tag": sms.key,
            "unicodeEnabled": not is_gsm7(sms.text),
        }
        callback = webhook_url(self.config, self.provider, "status", with_secret=True)
        if callback:
            payload["webUrl"] = callback
        return {"method": "POST", "url": f"{self.url}/transactionalSMS/sms", "json": payload}

    def _classify(self, response: requests.Response, segments: int) -> channels.Outcome:
        status = response.status_code
        body = _json(response)
        message = channels.scrub(body.get("message") or "", 100)
        detail = f"HTTP {status} {body.get('code') or ''} {message}"
        if 200 <= status < 300:
            count = body.get("smsCount")
            message_id = body.get("messageId")
            return channels.Outcome(
                channels.SENT,
                provider_id=str(message_id) if message_id is not None else None,
                segments=int(count) if isinstance(count, int) and count else segments,
            )
        if status == 402:
            return channels.Outcome(
                channels.NOT_ATTEMPTED, "brevo_no_credits", detail.strip(), channel_down=True
            )
        if status == 400:
            return channels.Outcome(channels.FAILED, "brevo_refused", detail.strip())
        return super()._classify(response, segments)


def receipts(body: Mapping) -> list[Receipt]:
    message_id = body.get("messageId")
    event = str(body.get("msg_status") or body.get("event") or "")
    if message_id is None or not event or body.get("reply"):
        return []
    lowered = event.lower()
    state = (
        DELIVERED
        if lowered == "delivered"
        else UNDELIVERED
        if lowered in FAILED_EVENTS
        else PENDING
    )
    return [Receipt(str(message_id), state, event)]


def inbound(body: Mapping) -> Inbound | None:
    reply, number = body.get("reply"), body.get("to") or body.get("from")
    if not isinstance(reply, str) or not number:
        return None
    number = str(number)
    return Inbound(number if number.startswith("+") else "+" + number, reply)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
