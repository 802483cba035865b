"""Webhooks of the SMS providers (``services/sms_providers/``): delivery receipts and replies.

``/webhooks/sms-provider/<provider>/status`` and ``…/inbound``, for the configured provider
only (another name answers 404). Twilio signs its calls (``X-Twilio-Signature``); OVHcloud
and Brevo are given addresses carrying ``?secret=<SMS_INBOUND_SECRET>``. A reply whose first
word is STOP unsubscribes the number (``subscribers.stop_by_sms``); the answer never says
whether the number was registered.
"""

from __future__ import annotations

import logging

from flask import Response, abort, current_app, jsonify, request
from flask_appbuilder import BaseView, expose

from backoffice.extensions import csrf
from backoffice.services import sms_receipts, subscribers
from backoffice.services.sms_providers import brevo, ovh, secret_matches, twilio

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 16 * 1024
MODULES = {"twilio": twilio, "ovh": ovh, "brevo": brevo}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _provider(name: str):
    if name != current_app.config.get("SMS_GATEWAY_PROVIDER") or name not in MODULES:
        abort(404)
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        abort(413)
    return MODULES[name]


def _params(name: str) -> dict:
    if name == "brevo":
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    source = request.form if request.method == "POST" else request.args
    return {key: source.get(key) for key in source if key != "secret"}


def _authentic(name: str, params: dict) -> bool:
    config = current_app.config
    if name == "twilio":
        base = (config.get("SMS_WEBHOOK_BASE_URL") or config.get("PUBLIC_BASE_URL") or "").rstrip(
            "/"
        )
        url = base + request.full_path.rstrip("?")
        return twilio.authentic(config, url, params, request.headers.get("X-Twilio-Signature"))
    return secret_matches(config, request.args.get("secret"))


def _refused() -> tuple[Response, int]:
    log.warning("SMS provider webhook call refused: bad signature or secret")
    return jsonify(error="unauthorised", message="Bad signature or secret."), 401


class SmsProviderWebhookView(BaseView):
    """Delivery receipts and replies from the configured SMS provider."""

    route_base = "/webhooks/sms-provider"
    base_permissions: list[str] = []
    access: dict = {}

    @expose("/<provider>/status", methods=["GET", "POST"])
    def status(self, provider: str):
        module = _provider(provider)
        params = _params(provider)
        if not _authentic(provider, params):
            return _refused()
        for receipt in module.receipts(params):
            sms_receipts.record(receipt, fail_delivery=request.method == "POST")
        return jsonify(status="ok")

    @expose("/<provider>/inbound", methods=["POST"])
    def inbound(self, provider: str):
        module = _provider(provider)
        params = _params(provider)
        if not _authentic(provider, params):
            return _refused()
        reply = module.inbound(params)
        if reply is not None:
            subscribers.stop_by_sms(reply.sender, reply.text)
        if provider == "twilio":
            return Response(EMPTY_TWIML, mimetype="text/xml")
        return jsonify(status="ok")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(SmsProviderWebhookView)
    # Called by the provider, authenticated by its signature or the shared secret.
    csrf.exempt("backoffice.views.sms_providers.status")
    csrf.exempt("backoffice.views.sms_providers.inbound")
