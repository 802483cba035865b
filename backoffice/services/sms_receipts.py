"""Delivery receipts of SMS providers: what the phone network said about a sent message.

A receipt names the provider's message id (``Delivery.provider_message_id``, recorded when
the provider took the message). Delivered: noted on the delivery. Not delivered (an unknown
or unreachable number): the delivery fails with ``sms_undelivered`` and the provider's code,
so a moderator sees it and may retry. A receipt for a message we do not know changes nothing
(it may be older than the retention of deliveries).
"""

from __future__ import annotations

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.dispatch import Delivery
from backoffice.services.sms_providers import DELIVERED, UNDELIVERED, Receipt


def record(receipt: Receipt, fail_delivery: bool = True) -> bool:
    """Apply one receipt; returns whether a delivery matched. ``fail_delivery=False`` notes
    a non-delivery in the receipt only (a receipt that came as a GET, OVHcloud's callback,
    may change nothing but the receipt columns)."""
    delivery = db.session.scalar(
        select(Delivery)
        .where(Delivery.channel == "sms", Delivery.provider_message_id == receipt.provider_id[:120])
        .order_by(Delivery.id.desc())  # after a change of provider, ids may repeat
        .limit(1)
    )
    if delivery is None:
        return False
    if delivery.receipt_status in (DELIVERED, UNDELIVERED):
        return True  # final already: a late "pending" must not undo it
    delivery.receipt_status = receipt.state
    delivery.receipt_at = utcnow()
    if fail_delivery and receipt.state == UNDELIVERED and delivery.status == "sent":
        delivery.status = "failed"
        delivery.error_code = "sms_undelivered"
        delivery.last_error = f"Receipt: {receipt.code or ''}"[:255]
    db.session.flush()
    return True
