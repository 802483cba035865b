"""Delivery of alerts: per alert, recipients, queued, sent, failed, and why; retry failures.

Moderators (who publish) and Admins (who run the servers) use it. It shows no subscriber:
a failed delivery names its channel, language, the association that co-opted the
subscriber (or the partner association it was for) and the reason — enough to act on
"the SMS gateway refused 12 numbers", never who they are. Her own association sees her
deliveries on her page (``SubscriberView``).

The progress bar polls ``progress.json`` with ``static/dispatch/progress.js`` (a file, so the
page's CSP needs no inline script) every two seconds while anything is queued or sending.
"""

from __future__ import annotations

from flask import flash, g, jsonify, redirect, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from backoffice.models.dispatch import DELIVERY_STATUSES
from backoffice.models.subscriber import CHANNELS
from backoffice.security import ADMIN, ALL, MODERATOR
from backoffice.services import dispatch
from backoffice.services.alert_text import LANGUAGE_NAMES

# Reasons in words for the people who read the page (codes come from services.channels and
# services.dispatch; an unknown code shows as is).
REASONS: dict[str, object] = {
    "invalid_address": _l("Malformed email address"),
    "address_refused": _l("Address refused by the mail server"),
    "address_deferred": _l("Address temporarily refused by the mail server"),
    "address_unsupported": _l("Address the mail server cannot handle"),
    "message_refused": _l("Message refused by the mail server"),
    "deferred": _l("Message deferred by the mail server"),
    "sender_refused": _l("Our sender address is refused (configuration)"),
    "smtp_unavailable": _l("Mail server unreachable"),
    "smtp_connection_lost": _l("Connection to the mail server lost"),
    "invalid_number": _l("Invalid phone number"),
    "gateway_refused": _l("Number or message refused by the SMS gateway"),
    "gateway_unavailable": _l("SMS gateway error"),
    "gateway_timeout": _l("SMS gateway did not answer in time"),
    "gateway_unreachable": _l("SMS gateway unreachable"),
    "gateway_connection_lost": _l("Connection to the SMS gateway lost"),
    "gateway_auth": _l("SMS gateway refused our credentials (configuration)"),
    "gateway_error": _l("SMS gateway error"),
    "sms_not_configured": _l("No SMS gateway configured"),
    "too_late": _l("Not sent in time"),
    "contact_unreadable": _l("Contact erased"),
    "alert_withdrawn": _l("Alert retracted or expired before sending"),
    "superseded": _l("A newer correction or update replaces this one"),
    "subscriber_paused": _l("Subscriber paused her alerts"),
    "subscriber_unsubscribed": _l("Subscriber unsubscribed"),
    "subscriber_pending": _l("Registration not validated"),
    "unsubscribed": _l("Subscriber unsubscribed"),
    "no_contact": _l("No contact on this channel any more"),
    "partner_no_email": _l("Partner association has no alert email"),
    "recipient_gone": _l("Recipient deleted"),
    "worker_time_up": _l("Waiting for the next batch"),
    "too_many_attempts": _l("Abandoned: the sending worker stopped each time"),
    "internal_error": _l("Internal error (see the server log)"),
}


class DeliveryView(BaseView):
    """Dispatch of alerts to subscribers and partners (Moderators, Admins)."""

    route_base = "/deliveries"
    default_view = "index"
    base_permissions = ["can_list", "can_show", "can_retry"]
    access = {MODERATOR: ALL, ADMIN: ALL}

    @expose("/")
    @has_access
    @permission_name("list")
    def index(self):
        rows, counts = dispatch.recent_dispatches()
        return self.render_template(
            "dispatch/index.html",
            rows=rows,
            counts=counts,
            statuses=DELIVERY_STATUSES,
        )

    @expose("/alert/<int:alert_id>")
    @has_access
    @permission_name("show")
    def alert(self, alert_id: int):
        alert = dispatch.dispatched_alert(alert_id)
        return self.render_template(
            "dispatch/alert.html",
            alert=alert,
            progress=dispatch.progress(alert.id),
            reasons=dispatch.failure_reasons(alert.id),
            failed=dispatch.failed_deliveries(alert.id),
            reason_labels=REASONS,
            statuses=DELIVERY_STATUSES,
            channels=CHANNELS,
            language_names=LANGUAGE_NAMES,
        )

    @expose("/alert/<int:alert_id>/progress.json")
    @has_access
    @permission_name("show")
    def progress(self, alert_id: int):
        alert = dispatch.dispatched_alert(alert_id)
        return jsonify(dispatch.progress(alert.id))

    @expose("/alert/<int:alert_id>/retry", methods=["POST"])
    @has_access
    @permission_name("retry")
    def retry(self, alert_id: int):
        alert = dispatch.dispatched_alert(alert_id)
        count = dispatch.retry_failed(alert.id, g.user)
        if count:
            flash(
                ngettext(
                    "%(count)d failed delivery queued again.",
                    "%(count)d failed deliveries queued again.",
                    count,
                    count=count,
                ),
                "success",
            )
        else:
            flash(_("No failed delivery to retry."), "info")
        return redirect(url_for("DeliveryView.alert", alert_id=alert.id))


def register(appbuilder) -> None:
    appbuilder.add_view(
        DeliveryView,
        "deliveries",
        label=_l("Alert deliveries"),
        icon="fa-paper-plane",
        category="Alerts",
    )
