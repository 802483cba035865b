"""API clients (website, app, partner tools), managed by Admins. A key is shown only once.

An Admin disables a client (untick "active": its key is refused at the next request),
rotates its key (the new key is shown once; the old one keeps working for the grace period
the Admin chooses, 0 to 7 days) and deletes it (the row is only marked, so that the reports
and checks it sent keep their history).

The request commits once, after the page showing the key was built: if that commit fails,
the error page replaces it and the key that was never stored is never shown.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField
from wtforms.validators import NumberRange, Optional

from backoffice import transactions
from backoffice.models.api_client import ApiClient
from backoffice.security import ADMIN, ALL
from backoffice.services import api_keys, audit
from backoffice.views.arguments import form_int, parse_int
from backoffice.views.base import BackofficeModelView, Interface
from backoffice.views.formatting import local_time


class SoftDeleting(Interface):
    """Deleting a client marks it deleted (its reports and checks still refer to it)."""

    def delete(self, item, commit: bool = True) -> None:
        self._flush(lambda: api_keys.soft_delete(item))

    def delete_all(self, items) -> None:
        self._flush(lambda: [api_keys.soft_delete(item) for item in items])


class FilterNotDeleted(BaseFilter):
    name = "Not deleted"
    arg_name = "not_deleted"

    def apply(self, query, value):
        return query.filter(ApiClient.deleted_at.is_(None))


class ApiClientView(BackofficeModelView):
    route_base = "/api-clients"
    datamodel = SoftDeleting(ApiClient)
    access = {ADMIN: ALL}
    base_filters = [["deleted_at", FilterNotDeleted, None]]
    list_title = _l("API clients")
    list_empty = _l("No API client yet.")
    show_title = _l("API client")
    add_title = _l("Add an API client")
    edit_title = _l("Edit an API client")
    show_template = "backoffice/api_client_show.html"
    list_columns = ["name", "key_prefix", "active", "last_used_at", "created_at"]
    show_columns = [
        "name",
        "description",
        "key_prefix",
        "active",
        "check_rate_per_minute",
        "previous_key_expires_at",
        "last_used_at",
        "created_at",
    ]
    add_columns = ["name", "description", "check_rate_per_minute"]
    edit_columns = ["name", "description", "active", "check_rate_per_minute"]
    validators_columns = {
        "check_rate_per_minute": [Optional(), NumberRange(min=1, max=1_000_000)],
    }
    description_columns = {
        "check_rate_per_minute": _l(
            "Identifier checks a minute for all the workers of this client together. Empty: "
            "the default (6,000)."
        ),
    }
    search_columns = ["name", "active"]
    label_columns = {
        "name": _l("Name"),
        "description": _l("Description"),
        "key_prefix": _l("Key begins with"),
        "active": _l("Active"),
        "check_rate_per_minute": _l("Checks a minute"),
        "previous_key_expires_at": _l("Previous key valid until"),
        "last_used_at": _l("Last used"),
        "created_at": _l("Created"),
    }
    # FAB makes a non-nullable column's field required: an unticked box ("inactive") then
    # failed validation and a client could not be disabled.
    edit_form_extra_fields = {"active": BooleanField(_l("Active"))}
    formatters_columns = {
        "last_used_at": local_time,
        "created_at": local_time,
        "previous_key_expires_at": local_time,
    }

    def pre_add(self, item) -> None:
        g.new_api_key = api_keys.issue_key(item)

    def post_add(self, item) -> None:
        audit.record("api_client_created", item)

    def post_add_redirect(self):
        return self._show_key_once(getattr(g, "new_api_key", None))

    def post_update(self, item) -> None:
        audit.record("api_client_updated", item, details={"active": bool(item.active)})

    def post_delete(self, item) -> None:
        audit.record("api_client_deleted", object_type="ApiClient", object_id=item.id)

    @expose("/rotate/<pk>", methods=["GET", "POST"])
    @has_access
    def rotate(self, pk: str):
        """Choose the grace period, then see the new key once."""
        pk = parse_int(pk)  # a hostile number is a 404, not a 500
        client = self.datamodel.get(pk, self._base_filters) if pk is not None else None
        if client is None:
            abort(404)
        if request.method == "POST":
            try:
                key = api_keys.rotate(client, form_int("grace_days", -1))
            except api_keys.KeyRefused as error:
                transactions.undo()
                flash(str(error.message), "danger")
                return redirect(url_for(".rotate", pk=pk))
            return self._show_key_once(key)
        return self.render_template(
            "backoffice/api_key_rotate.html",
            client=client,
            max_days=api_keys.MAX_GRACE_DAYS,
            appbuilder=self.appbuilder,
        )

    def _show_key_once(self, key: str | None):
        return self.render_template(
            "backoffice/api_key_once.html", key=key, appbuilder=self.appbuilder
        )
