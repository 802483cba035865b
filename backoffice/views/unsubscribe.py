"""Unsubscribing without a login: the link in alert emails, and STOP by SMS.

* ``/unsubscribe/<token>``: GET shows one button in her language (nothing changes on GET:
  mail scanners follow links); POST unsubscribes at once. Mail providers' one-click
  unsubscribe (RFC 8058) POSTs to the same address. The token is the secret, so the route
  is exempt from CSRF; an unknown token answers 404 with a page saying what to do instead.
* ``/webhooks/sms/inbound``: the SMS gateway forwards replies here, authenticated by a shared
  secret (``SMS_INBOUND_SECRET``, compared in constant time) in ``X-Webhook-Secret`` or as
  the HTTP Basic password. A reply whose first word is STOP (or its usual equivalents in the
  ten languages) unsubscribes the number at once and queues a confirmation SMS. The answer
  never says whether the number was registered.

These pages speak the worker's language (ten of them), not the staff UI's two: their
sentences come from the alert catalogues (``services.worker_texts``), like the alerts.
"""

from __future__ import annotations

import base64
import hmac
import logging

from flask import current_app, jsonify, render_template, request
from flask_appbuilder import BaseView, expose

from backoffice.extensions import csrf
from backoffice.services import subscribers
from backoffice.services.alert_text import SMS_UNSUBSCRIBED, translations_for
from backoffice.services.vocabulary import ALERT_LANGUAGES, RIGHT_TO_LEFT_LANGUAGES
from backoffice.services.worker_texts import unsubscribe_page

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 16 * 1024


def _visitor_language() -> str:
    return request.accept_languages.best_match(ALERT_LANGUAGES) or "fr"


def _page(language: str, mode: str, status: int = 200, token: str | None = None):
    texts = unsubscribe_page(language)
    done = translations_for(language).gettext(SMS_UNSUBSCRIBED)
    html = render_template(
        "subscribers/unsubscribe.html",
        language=language,
        direction="rtl" if language in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        mode=mode,
        question=texts.question,
        button=texts.button,
        invalid=texts.invalid,
        how_to=texts.how_to,
        done=done,
        token=token,
        programme=current_app.config["ALERT_PROGRAMME_NAME"],
    )
    return html, status


class UnsubscribeView(BaseView):
    """The email link: confirm with one button, no login."""

    route_base = "/unsubscribe"
    default_view = "help"
    base_permissions: list[str] = []
    access: dict = {}

    @expose("/")
    def help(self):
        return _page(_visitor_language(), "help")

    @expose("/<token>", methods=["GET", "POST"])
    def confirm(self, token: str):
        subscriber = subscribers.find_by_token(token)
        if subscriber is None:
            return _page(_visitor_language(), "invalid", 404)
        language = subscriber.language if subscriber.language in ALERT_LANGUAGES else "fr"
        if request.method == "POST":
            subscribers.unsubscribe(subscriber, "email_link")
            return _page(language, "done")
        if subscriber.status == "unsubscribed":
            return _page(language, "done")
        return _page(language, "confirm", token=token)


def _secret_matches(given: str | None) -> bool:
    expected = current_app.config.get("SMS_INBOUND_SECRET")
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _given_secret() -> str | None:
    header = request.headers.get("X-Webhook-Secret")
    if header:
        return header
    authorization = request.headers.get("Authorization", "")
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class SmsWebhookView(BaseView):
    """The SMS gateway's inbound webhook: STOP unsubscribes (shared-secret authentication)."""

    route_base = "/webhooks/sms"
    base_permissions: list[str] = []
    access: dict = {}

    @expose("/inbound", methods=["POST"])
    def inbound(self):
        if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
            return jsonify(error="too_large", message="Body over 16 KiB."), 413
        if not _secret_matches(_given_secret()):
            log.warning("SMS webhook call refused: missing or wrong secret")
            return jsonify(error="unauthorised", message="Missing or wrong secret."), 401
        data = request.get_json(silent=True) if request.is_json else request.form
        if not isinstance(data, dict):  # a form is a MultiDict, a dict too
            data = {}
        config = current_app.config
        sender = data.get(config["SMS_INBOUND_FROM_FIELD"])
        text = data.get(config["SMS_INBOUND_TEXT_FIELD"])
        if not isinstance(sender, str) or not isinstance(text, str):
            return (
                jsonify(error="invalid", message="The sender and the text are required."),
                422,
            )
        subscribers.stop_by_sms(sender, text)
        # The same answer whether or not the number is registered.
        return jsonify(status="ok")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(UnsubscribeView)
    appbuilder.add_view_no_menu(SmsWebhookView)
    # Public POSTs authenticated by their own secret (the link's token, the shared secret).
    csrf.exempt("backoffice.views.unsubscribe.confirm")
    csrf.exempt("backoffice.views.unsubscribe.inbound")
