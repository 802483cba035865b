"""Subscribers: co-opt, validate, pause, unsubscribe and import — and counts for the others.

Who (DESIGN.md has no column for subscribers; decided here, tested in the access matrix):

* SocialWorker and PartnerRelay manage the subscribers *their own organisation* co-opted:
  partner associations co-opt the workers they know and validate their registrations, and
  both roles are the partners' staff. Every query is scoped to the organisation in the
  service call (``security.scoped``); a row loaded by id from another organisation is a 404.
  Her number and address are shown on her page only (an audited decryption), never in lists.
* Moderators, Coordinators and Admins see counts only (by status, language, channel and
  department, cells under 5 suppressed): they need to know whom an alert will reach, not who.
* Outreach volunteers have no access: they contact workers who are not registered.
"""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backoffice import transactions
from backoffice.models.dispatch import DELIVERY_STATUSES
from backoffice.models.subscriber import (
    CHANNELS,
    SUBSCRIBER_STATUSES,
    UNSUBSCRIBE_SOURCES,
    Subscriber,
)
from backoffice.security import (
    ADMIN,
    ALL,
    COORDINATOR,
    MODERATOR,
    PARTNER_RELAY,
    SOCIAL_WORKER,
    organisation_of,
    scoped_get,
)
from backoffice.services import audit, subscribers
from backoffice.services.alert_text import LANGUAGE_NAMES
from backoffice.services.vocabulary import ALERT_LANGUAGES
from backoffice.views.arguments import page_arg
from backoffice.views.deliveries import REASONS

PAGE_SIZE = 50
ACTIONS = {
    "validate": (subscribers.validate, _l("Registration validated: she will receive alerts.")),
    "pause": (subscribers.pause, _l("Alerts paused.")),
    "resume": (subscribers.resume, _l("Alerts resumed.")),
}


def _form_values(subscriber: Subscriber | None = None) -> dict:
    if request.method == "POST":
        form = request.form
        return {
            "pseudonym": form.get("pseudonym", ""),
            "phone": form.get("phone", ""),
            "email": form.get("email", ""),
            "language": form.get("language", "fr"),
            "departments": form.get("departments", ""),
            "all_departments": form.get("all_departments") == "on",
            "validate_now": form.get("validate_now") == "on",
        }
    if subscriber is None:
        return {"language": "fr", "departments": "", "all_departments": False}
    contact = subscribers.contact_display(subscriber)
    return {
        "pseudonym": subscriber.pseudonym,
        "phone": contact["phone"] or "",
        "email": contact["email"] or "",
        "language": subscriber.language,
        "departments": " ".join(subscriber.departments),
        "all_departments": subscriber.all_departments,
    }


def _vocabularies() -> dict:
    return {
        "reason_labels": REASONS,
        "statuses": SUBSCRIBER_STATUSES,
        "sources": UNSUBSCRIBE_SOURCES,
        "channels": CHANNELS,
        "delivery_statuses": DELIVERY_STATUSES,
        "languages": ALERT_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
    }


class SubscriberView(BaseView):
    """My organisation's subscribers (SocialWorker, PartnerRelay)."""

    route_base = "/subscribers"
    default_view = "list"
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    access = {SOCIAL_WORKER: ALL, PARTNER_RELAY: ALL}

    def _get(self, subscriber_id: int) -> Subscriber:
        return scoped_get(Subscriber, subscriber_id)

    @expose("/")
    @has_access
    @permission_name("list")
    def list(self):
        status = request.args.get("status") or ""
        query = (request.args.get("q") or "").strip()[: subscribers.PSEUDONYM_MAX_LENGTH]
        page = subscribers.organisation_page(
            g.user, status=status, query=query, page=page_arg(), size=PAGE_SIZE
        )
        return self.render_template(
            "subscribers/list.html",
            page=page,
            status=status,
            query=query,
            **_vocabularies(),
        )

    @expose("/new", methods=["GET", "POST"])
    @has_access
    @permission_name("add")
    def new(self):
        values = _form_values()
        errors: dict = {}
        if request.method == "POST":
            try:
                # The same answer whether or not the number was registered already, by
                # anyone (issue 12, F8): a partner cannot test who is registered.
                subscribers.register_without_telling(
                    values,
                    organisation_of(),
                    g.user,
                    validate_now=values.get("validate_now", False),
                )
                flash(
                    _(
                        "Registration recorded. If this number or address was registered "
                        "already, nothing is added and she receives a message telling her how "
                        "to manage her subscription."
                    ),
                    "success",
                )
                return redirect(url_for("SubscriberView.list"))
            except subscribers.SubscriberError as error:
                transactions.undo()
                errors = error.errors
                flash(str(error.message), "danger")
        return self.render_template(
            "subscribers/form.html",
            values=values,
            errors=errors,
            subscriber=None,
            **_vocabularies(),
        )

    @expose("/<int:subscriber_id>")
    @has_access
    @permission_name("show")
    def show(self, subscriber_id: int):
        subscriber = self._get(subscriber_id)
        contact = subscribers.contact_display(subscriber)
        audit.record("subscriber_viewed", subscriber)
        deliveries = subscribers.recent_deliveries(subscriber)
        return self.render_template(
            "subscribers/show.html",
            subscriber=subscriber,
            contact=contact,
            deliveries=deliveries,
            **_vocabularies(),
        )

    @expose("/<int:subscriber_id>/edit", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def edit(self, subscriber_id: int):
        subscriber = self._get(subscriber_id)
        if subscriber.status == "unsubscribed":
            flash(_("She unsubscribed: register her again instead."), "warning")
            return redirect(url_for("SubscriberView.show", subscriber_id=subscriber.id))
        values = _form_values(subscriber)
        errors: dict = {}
        if request.method == "POST":
            try:
                subscribers.update_details(subscriber, values, g.user)
                flash(_("Changes saved."), "success")
                return redirect(url_for("SubscriberView.show", subscriber_id=subscriber.id))
            except subscribers.SubscriberError as error:
                transactions.undo()
                errors = error.errors
                flash(str(error.message), "danger")
        return self.render_template(
            "subscribers/form.html",
            values=values,
            errors=errors,
            subscriber=subscriber,
            **_vocabularies(),
        )

    @expose("/<int:subscriber_id>/<any(validate, pause, resume):action>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def change_status(self, subscriber_id: int, action: str):
        subscriber = self._get(subscriber_id)
        function, message = ACTIONS[action]
        try:
            function(subscriber, g.user)
            flash(str(message), "success")
        except subscribers.SubscriberError as error:
            transactions.undo()
            flash(str(error.message), "warning")
        return redirect(url_for("SubscriberView.show", subscriber_id=subscriber.id))

    @expose("/<int:subscriber_id>/unsubscribe", methods=["POST"])
    @has_access
    @permission_name("edit")
    def unsubscribe(self, subscriber_id: int):
        subscriber = self._get(subscriber_id)
        if subscribers.unsubscribe(subscriber, "staff", g.user):
            flash(
                _("She is unsubscribed. Her number and address will be erased within a day."),
                "success",
            )
        else:
            flash(_("She had already unsubscribed."), "info")
        return redirect(url_for("SubscriberView.show", subscriber_id=subscriber.id))

    @expose("/import", methods=["GET", "POST"])
    @has_access
    @permission_name("add")
    def import_csv(self):
        report = None
        if request.method == "POST":
            upload = request.files.get("file")
            content = upload.read(subscribers.IMPORT_MAX_BYTES + 1) if upload else b""
            if not content:
                flash(_("Choose a CSV file."), "warning")
            else:
                report = subscribers.import_csv(
                    content,
                    organisation_of(),
                    g.user,
                    validate_now=request.form.get("validate_now") == "on",
                )
                if report.error:
                    transactions.undo()
                    flash(report.error, "danger")
                    report = None
        return self.render_template("subscribers/import.html", report=report, **_vocabularies())


class SubscriberCountsView(BaseView):
    """How many workers alerts reach, without anyone's details (cells under 5 suppressed)."""

    route_base = "/subscriber-counts"
    default_view = "counts"
    base_permissions = ["can_counts"]
    access = {MODERATOR: ALL, COORDINATOR: ALL, ADMIN: ALL}

    @expose("/")
    @has_access
    def counts(self):
        return self.render_template(
            "subscribers/counts.html", counts=subscribers.counts(), **_vocabularies()
        )


def register(appbuilder) -> None:
    subscriber_view = appbuilder.add_view(
        SubscriberView,
        "subscribers",
        label=_l("Subscribers"),
        icon="fa-users",
        category="Subscribers",
        category_label=_l("Subscribers"),
        category_icon="fa-mobile",
    )
    appbuilder.add_link(
        "subscribers_new",
        href="/subscribers/new",
        label=_l("Register a subscriber"),
        icon="fa-user-plus",
        category="Subscribers",
        baseview=subscriber_view,
    )
    appbuilder.add_link(
        "subscribers_import",
        href="/subscribers/import",
        label=_l("Import subscribers (CSV)"),
        icon="fa-upload",
        category="Subscribers",
        baseview=subscriber_view,
    )
    appbuilder.add_view(
        SubscriberCountsView,
        "subscriber_counts",
        label=_l("Subscriber counts"),
        icon="fa-bar-chart",
        category="Subscribers",
    )
