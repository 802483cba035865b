"""API clients (website, app, partner tools), managed by Admins. A key is shown only once.

The request commits once, after the page showing the key was built: if that commit fails,
the error page replaces it and the key that was never stored is never shown.
"""

from __future__ import annotations

from flask import g
from flask_appbuilder.actions import action
from flask_babel import lazy_gettext as _l
from wtforms.validators import NumberRange, Optional

from backoffice.models.api_client import ApiClient
from backoffice.security import ADMIN, ALL
from backoffice.services import api_keys, audit
from backoffice.views.base import BackofficeModelView, Interface
from backoffice.views.formatting import local_time


class ApiClientView(BackofficeModelView):
    route_base = "/api-clients"
    datamodel = Interface(ApiClient)
    access = {ADMIN: ALL}
    list_title = _l("API clients")
    show_title = _l("API client")
    add_title = _l("Add an API client")
    edit_title = _l("Edit an API client")
    list_columns = ["name", "key_prefix", "active", "last_used_at", "created_at"]
    show_columns = [
        "name",
        "description",
        "key_prefix",
        "active",
        "check_rate_per_minute",
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
        "last_used_at": _l("Last used"),
        "created_at": _l("Created"),
    }
    formatters_columns = {"last_used_at": local_time, "created_at": local_time}

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

    @action(
        "new_key",
        _l("Issue a new key"),
        _l("The current key will stop working at once. Continue?"),
        "fa-key",
        multiple=False,
    )
    def new_key(self, item):
        client = item[0] if isinstance(item, list) else item
        key = api_keys.issue_key(client)
        audit.record("api_client_key_issued", client)
        return self._show_key_once(key)

    def _show_key_once(self, key: str | None):
        return self.render_template(
            "backoffice/api_key_once.html", key=key, appbuilder=self.appbuilder
        )
