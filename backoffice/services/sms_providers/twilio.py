"""Twilio Programmable Messaging.

* Send: ``POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json``, form fields ``To``,
  ``From`` (a number or alphanumeric sender) or ``MessagingServiceSid`` (a sender starting
  with ``MG``), ``Body``, ``StatusCallback``; HTTP Basic with the Account SID
  (``SMS_GATEWAY_USERNAME``) and Auth Token (``SMS_GATEWAY_PASSWORD``). Answer 201 with
  ``sid`` and ``num_segments``. Twilio picks GSM-7 or UCS-2 itself.
* Errors: JSON ``{"code", "message", "status"}``. 429 and 5xx: retry. 401: our credentials.
  400 with a code: the number or the message is refused for good (21211 invalid number,
  21610 recipient replied STOP, 21614 not a mobile, 21408 region not enabled…), except
  20429 (too many requests): retry.
* Twilio keeps no idempotency key on message creation: a send in doubt is not repeated.
* Webhooks (status callback and incoming message) are forms signed with
  ``X-Twilio-Signature`` = Base64(HMAC-SHA1(Auth Token, URL + each parameter name and value
  in name order)). ``MessageStatus`` delivered / undelivered / failed; incoming ``From`` and
  ``Body``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

import requests

from backoffice.services import channels
from backoffice.services.sms_providers import (
    DELIVERED,
    PENDING,
    UNDELIVERED,
    Inbound,
    Receipt,
    webhook_url,
)

API = "https://api.twilio.com"
RETRY_CODES = {20429}  # "Too many requests"
FINAL_STATES = {"delivered": DELIVERED, "undelivered": UNDELIVERED, "failed": UNDELIVERED}


class TwilioGateway(channels.SmsGateway):
    provider = "twilio"
    honours_reference = False

    def __init__(self, config: Mapping) -> None:
        super().__init__(config)
        self.url = (config.get("SMS_GATEWAY_URL") or API).rstrip("/")

    @property
    def configured(self) -> bool:
        return bool(
            self.config.get("SMS_GATEWAY_USERNAME") and self.config.get("SMS_GATEWAY_PASSWORD")
        )

    def _auth(self) -> tuple[dict, object]:
        return {}, (self.config["SMS_GATEWAY_USERNAME"], self.config["SMS_GATEWAY_PASSWORD"])

    def build_request(self, sms: channels.OutgoingSms) -> dict:
        sender = self.config.get("SMS_GATEWAY_SENDER") or ""
        form = {"To": sms.to, "Body": sms.text}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        callback = webhook_url(self.config, self.provider, "status", with_secret=False)
        if callback:
            form["StatusCallback"] = callback
        account = self.config["SMS_GATEWAY_USERNAME"]
        url = f"{self.url}/2010-04-01/Accounts/{account}/Messages.json"
        return {"method": "POST", "url": url, "data": form}

    def message_id(self, response: requests.Response) -> str | None:
        return _json(response).get("sid")

    def _classify(self, response: requests.Response, segments: int) -> channels.Outcome:
        body = _json(response)
        status = response.status_code
        code = body.get("code")
        detail = f"HTTP {status} {code or ''} {channels.scrub(body.get('message') or '', 100)}"
        if 200 <= status < 300:
            counted = body.get("num_segments")
            parts = int(counted) if str(counted or "").isdigit() else segments
            return channels.Outcome(channels.SENT, provider_id=body.get("sid"), segments=parts)
        if status == 400 and code not in RETRY_CODES:
            return channels.Outcome(channels.FAILED, f"twilio_{code or 400}", detail.strip())
        return super()._classify(response, segments)


def authentic(config: Mapping, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    """Twilio's request signature over the public URL it called and the form parameters."""
    token = config.get("SMS_GATEWAY_PASSWORD")
    if not token or not signature:
        return False
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), signature)


def receipts(params: Mapping[str, str]) -> list[Receipt]:
    sid, status = params.get("MessageSid"), params.get("MessageStatus")
    if not sid or not status:
        return []
    return [Receipt(sid, FINAL_STATES.get(status, PENDING), params.get("ErrorCode") or status)]


def inbound(params: Mapping[str, str]) -> Inbound | None:
    sender, text = params.get("From"), params.get("Body")
    return Inbound(sender, text) if sender and text is not None else None


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
