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

These pages speak the worker's language (ten of them), not the staff UI's two: the few
sentences are here, and the confirmation itself comes from the alert catalogues.
"""

from __future__ import annotations

import base64
import hmac
import logging
import unicodedata

from flask import current_app, jsonify, render_template, request
from flask_appbuilder import BaseView, expose

from backoffice.extensions import csrf, db
from backoffice.services import subscribers
from backoffice.services.alert_text import SMS_UNSUBSCRIBED, translations_for
from backoffice.services.vocabulary import ALERT_LANGUAGES, RIGHT_TO_LEFT_LANGUAGES

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 16 * 1024

# (question, button, invalid link, how to stop) in each alert language.
PAGE_TEXTS: dict[str, tuple[str, str, str, str]] = {
    "fr": (
        "Ne plus recevoir les alertes ?",
        "Me désinscrire",
        "Ce lien n'est plus valable. Si vous recevez encore des alertes, répondez STOP à un "
        "SMS ou contactez votre association.",
        "Pour ne plus recevoir les alertes, utilisez le lien de désinscription d'un e-mail "
        "d'alerte, ou répondez STOP à un SMS d'alerte.",
    ),
    "en": (
        "Stop receiving alerts?",
        "Unsubscribe",
        "This link is no longer valid. If you still receive alerts, reply STOP to an SMS or "
        "contact your association.",
        "To stop receiving alerts, use the unsubscribe link in an alert email, or reply STOP "
        "to an alert SMS.",
    ),
    "es": (
        "¿Dejar de recibir alertas?",
        "Darme de baja",
        "Este enlace ya no es válido. Si todavía recibes alertas, responde STOP a un SMS o "
        "contacta con tu asociación.",
        "Para dejar de recibir alertas, usa el enlace de baja de un correo de alerta o "
        "responde STOP a un SMS de alerta.",
    ),
    "pt": (
        "Deixar de receber alertas?",
        "Cancelar inscrição",
        "Este link não é mais válido. Se você ainda recebe alertas, responda STOP a um SMS ou "
        "entre em contato com sua associação.",
        "Para não receber mais alertas, use o link de cancelamento de um e-mail de alerta ou "
        "responda STOP a um SMS de alerta.",
    ),
    "ro": (
        "Nu mai vrei să primești alerte?",
        "Dezabonează-mă",
        "Acest link nu mai este valabil. Dacă încă primești alerte, răspunde STOP la un SMS "
        "sau contactează asociația ta.",
        "Ca să nu mai primești alerte, folosește linkul de dezabonare dintr-un e-mail de "
        "alertă sau răspunde STOP la un SMS de alertă.",
    ),
    "bg": (
        "Да не получавате повече предупреждения?",
        "Отписване",
        "Тази връзка вече не е валидна. Ако още получавате предупреждения, отговорете STOP "
        "на SMS или се свържете с вашата асоциация.",
        "За да не получавате повече предупреждения, използвайте връзката за отписване в "
        "имейл с предупреждение или отговорете STOP на SMS с предупреждение.",
    ),
    "zh": (
        "不再接收预警？",
        "退订",
        "此链接已失效。如果你仍收到预警，请回复短信 STOP，或联系你的协会。",
        "如需停止接收预警，请使用预警邮件中的退订链接，或回复预警短信 STOP。",
    ),
    "ru": (
        "Больше не получать предупреждения?",
        "Отписаться",
        "Эта ссылка больше не действует. Если вы ещё получаете предупреждения, ответьте STOP "
        "на SMS или свяжитесь с вашей ассоциацией.",
        "Чтобы больше не получать предупреждения, воспользуйтесь ссылкой для отписки в письме "
        "с предупреждением или ответьте STOP на SMS с предупреждением.",
    ),
    "uk": (
        "Більше не отримувати попередження?",
        "Відписатися",
        "Це посилання більше не дійсне. Якщо ви ще отримуєте попередження, відповідьте STOP "
        "на SMS або зверніться до вашої асоціації.",
        "Щоб більше не отримувати попереджень, скористайтеся посиланням для відписки в листі "
        "з попередженням або відповідьте STOP на SMS з попередженням.",
    ),
    "ar": (
        "هل تريدين إيقاف التنبيهات؟",
        "إلغاء الاشتراك",
        "هذا الرابط لم يعد صالحًا. إذا كانت التنبيهات لا تزال تصلك، أرسلي STOP ردًا على رسالة "
        "نصية أو تواصلي مع جمعيتك.",
        "لإيقاف التنبيهات، استخدمي رابط إلغاء الاشتراك في رسالة التنبيه الإلكترونية، أو أرسلي "
        "STOP ردًا على رسالة التنبيه النصية.",
    ),
}

# First words of a reply that mean "stop", folded (lower case, no accents).
STOP_WORDS = frozenset(
    {
        "stop",
        "stopp",
        "stopall",
        "arret",
        "arreter",
        "unsubscribe",
        "desinscription",
        "desinscrire",
        "baja",
        "parar",
        "cancelar",
        "dezabonare",
        "стоп",
        "退订",
        "停止",
        "توقف",
        "الغاء",
    }
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_stop(text: str) -> bool:
    """Whether an SMS reply asks to stop: its first word, punctuation aside."""
    words = _fold(text).replace(".", " ").replace("!", " ").replace(",", " ").split()
    return bool(words) and (words[0] in STOP_WORDS or _fold(text).strip() in STOP_WORDS)


def _visitor_language() -> str:
    return request.accept_languages.best_match(ALERT_LANGUAGES) or "fr"


def _page(language: str, mode: str, status: int = 200, token: str | None = None):
    question, button, invalid, how_to = PAGE_TEXTS[language]
    done = translations_for(language).gettext(SMS_UNSUBSCRIBED)
    html = render_template(
        "subscribers/unsubscribe.html",
        language=language,
        direction="rtl" if language in RIGHT_TO_LEFT_LANGUAGES else "ltr",
        mode=mode,
        question=question,
        button=button,
        invalid=invalid,
        how_to=how_to,
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
        language = subscriber.language if subscriber.language in PAGE_TEXTS else "fr"
        if request.method == "POST":
            if subscribers.unsubscribe(subscriber, "email_link"):
                db.session.commit()
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
        if is_stop(text[:200]):
            subscriber = subscribers.find_by_phone(sender[:40])
            if subscriber is not None and subscribers.unsubscribe(subscriber, "sms_stop"):
                db.session.commit()
        # The same answer whether or not the number is registered.
        return jsonify(status="ok")


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(UnsubscribeView)
    appbuilder.add_view_no_menu(SmsWebhookView)
    # Public POSTs authenticated by their own secret (the link's token, the shared secret).
    csrf.exempt("backoffice.views.unsubscribe.confirm")
    csrf.exempt("backoffice.views.unsubscribe.inbound")
