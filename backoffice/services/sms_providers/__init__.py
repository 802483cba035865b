"""SMS providers French associations use, over their documented HTTP APIs.

Each module holds one ``SmsGateway`` subclass (``services.channels``) that builds the
provider's request, reads its answer and classifies its errors (retry, give up, or our
credentials), and the provider's webhooks: delivery receipts (``receipts``) and replies
(``inbound``), with how the provider authenticates them (``authentic``).

* ``twilio`` (``SMS_GATEWAY_PROVIDER=twilio``): Programmable Messaging, Basic auth with the
  Account SID and Auth Token, webhooks signed with ``X-Twilio-Signature``;
* ``ovh``: OVHcloud SMS API (``/sms/{serviceName}/jobs``), requests signed with the
  application secret and consumer key; receipts on the account's callback URL;
* ``brevo``: Brevo transactional SMS, ``api-key`` header; receipts on ``webUrl``.

Webhook addresses: ``{SMS_WEBHOOK_BASE_URL}/webhooks/sms-provider/<provider>/status`` and
``…/inbound`` (``views/sms_providers.py``). Providers that do not sign their calls are given
these addresses with ``?secret=<SMS_INBOUND_SECRET>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

DELIVERED = "delivered"
UNDELIVERED = "failed"
PENDING = "pending"


@dataclass(frozen=True)
class Receipt:
    """What a delivery receipt says: the provider's message id, and delivered, failed
    (for good) or pending, with the provider's own code."""

    provider_id: str
    state: str
    code: str | None = None


@dataclass(frozen=True)
class Inbound:
    sender: str
    text: str


def webhook_url(config: Mapping, provider: str, kind: str, with_secret: bool) -> str | None:
    """Our webhook address given to the provider (None when no public address is set)."""
    base = config.get("SMS_WEBHOOK_BASE_URL") or config.get("PUBLIC_BASE_URL")
    if not base:
        return None
    url = f"{base.rstrip('/')}/webhooks/sms-provider/{provider}/{kind}"
    secret = config.get("SMS_INBOUND_SECRET")
    return f"{url}?secret={secret}" if with_secret and secret else url


def secret_matches(config: Mapping, given: str | None) -> bool:
    """The shared secret of providers that do not sign their calls, in constant time."""
    expected = config.get("SMS_INBOUND_SECRET")
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
