"""OVHcloud SMS.

* Send: ``POST {endpoint}/sms/{serviceName}/jobs`` (endpoint ``https://eu.api.ovh.com/1.0``,
  service name ``SMS_GATEWAY_ACCOUNT``), JSON ``message``, ``receivers``, ``sender``,
  ``charset`` UTF-8, ``coding`` ``7bit`` (GSM-7) or ``8bit`` (Unicode), ``noStopClause``
  (our alerts carry their own STOP line), ``priority``, ``validityPeriod``, ``tag`` (our
  reference: OVH does not deduplicate on it).
* Signed requests: headers ``X-Ovh-Application`` (application key,
  ``SMS_GATEWAY_USERNAME``), ``X-Ovh-Consumer`` (consumer key, ``SMS_GATEWAY_TOKEN``),
  ``X-Ovh-Timestamp`` (OVH's clock, read once per session at ``GET /auth/time``) and
  ``X-Ovh-Signature`` = ``$1$`` + SHA1(application secret ``SMS_GATEWAY_PASSWORD`` + consumer
  key + method + URL + body + timestamp, joined by ``+``).
* Answer 200: ``ids``, ``validReceivers``, ``invalidReceivers`` (a refused number: give up),
  ``totalCreditsRemoved`` (the segments billed). 400: refused for good; 401/403: our
  credentials; 429 and 5xx: retry.
* Receipts: the SMS account's callback URL (set ``callBack`` on ``/sms/{serviceName}`` to
  our status address with its ``secret``) is called with ``id`` and ``dlr``: 1 delivered,
  2 and 16 not delivered, anything else still pending. Replies reach the inbound address
  with ``senderForResponse``-capable senders only, as ``sender`` and ``message``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping

import requests

from backoffice.services import channels
from backoffice.services.sms_encoding import is_gsm7
from backoffice.services.sms_providers import DELIVERED, PENDING, UNDELIVERED, Inbound, Receipt

API = "https://eu.api.ovh.com/1.0"
DLR_STATES = {"1": DELIVERED, "2": UNDELIVERED, "16": UNDELIVERED}


class OvhGateway(channels.SmsGateway):
    provider = "ovh"
    honours_reference = False

    def __init__(self, config: Mapping) -> None:
        super().__init__(config)
        self.url = (config.get("SMS_GATEWAY_URL") or API).rstrip("/")
        self._clock_offset: int | None = None

    @property
    def configured(self) -> bool:
        names = ("SMS_GATEWAY_USERNAME", "SMS_GATEWAY_PASSWORD", "SMS_GATEWAY_TOKEN")
        return all(self.config.get(name) for name in names) and bool(
            self.config.get("SMS_GATEWAY_ACCOUNT")
        )

    def _auth(self) -> tuple[dict, object]:
        return {}, None  # the signature goes with each request (build_request)

    def _timestamp(self) -> int:
        """OVH's clock: a request signed with a skewed time is refused."""
        if self._clock_offset is None:
            try:
                server = int(self.http.get(f"{self.url}/auth/time", timeout=self.timeout).text)
                self._clock_offset = server - int(time.time())
            except (requests.exceptions.RequestException, ValueError):
                self._clock_offset = 0
        return int(time.time()) + self._clock_offset

    def build_request(self, sms: channels.OutgoingSms) -> dict:
        url = f"{self.url}/sms/{self.config['SMS_GATEWAY_ACCOUNT']}/jobs"
        body = json.dumps(
            {
                "message": sms.text,
                "receivers": [sms.to],
                "sender": self.config.get("SMS_GATEWAY_SENDER") or "",
                "charset": "UTF-8",
                "coding": "7bit" if is_gsm7(sms.text) else "8bit",
                "noStopClause": True,
                "priority": "high",
                "senderForResponse": False,
                "validityPeriod": 2880,
                "tag": sms.key[:128],
            },
            separators=(",", ":"),
        )
        return {
            "method": "POST",
            "url": url,
            "data": body.encode("utf-8"),
            "headers": self.sign("POST", url, body),
        }

    def sign(self, method: str, url: str, body: str) -> dict:
        stamp = str(self._timestamp())
        secret, consumer = self.config["SMS_GATEWAY_PASSWORD"], self.config["SMS_GATEWAY_TOKEN"]
        text = "+".join([secret, consumer, method, url, body, stamp])
        return {
            "Content-Type": "application/json",
            "X-Ovh-Application": self.config["SMS_GATEWAY_USERNAME"],
            "X-Ovh-Consumer": consumer,
            "X-Ovh-Timestamp": stamp,
            "X-Ovh-Signature": "$1$" + hashlib.sha1(text.encode("utf-8")).hexdigest(),  # noqa: S324 - OVH's scheme
        }

    def _classify(self, response: requests.Response, segments: int) -> channels.Outcome:
        status = response.status_code
        body = _json(response)
        if 200 <= status < 300:
            if body.get("invalidReceivers"):
                return channels.Outcome(channels.FAILED, "invalid_number", "OVH: invalid receiver.")
            ids = body.get("ids") or []
            credits = body.get("totalCreditsRemoved")
            parts = int(credits) if isinstance(credits, int | float) and credits else segments
            return channels.Outcome(
                channels.SENT, provider_id=str(ids[0]) if ids else None, segments=parts
            )
        if status == 400:
            detail = f"HTTP 400 {channels.scrub(body.get('message') or '', 120)}"
            return channels.Outcome(channels.FAILED, "ovh_refused", detail)
        return super()._classify(response, segments)


def receipts(params: Mapping[str, str]) -> list[Receipt]:
    sms_id, dlr = params.get("id"), params.get("dlr")
    if not sms_id or not dlr:
        return []
    return [Receipt(str(sms_id), DLR_STATES.get(str(dlr), PENDING), f"dlr {dlr}")]


def inbound(params: Mapping[str, str]) -> Inbound | None:
    sender, text = params.get("sender"), params.get("message")
    return Inbound(sender, text) if sender and text is not None else None


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
