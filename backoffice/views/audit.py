"""Browsing the audit trail (Admins and Coordinators). Read-only by construction."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from backoffice.models.audit import AuditEvent
from backoffice.security import ADMIN, COORDINATOR, READ
from backoffice.views.base import BackofficeModelView, Interface


class AuditEventView(BackofficeModelView):
    route_base = "/audit"
    datamodel = Interface(AuditEvent)
    access = {ADMIN: READ, COORDINATOR: READ}
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Audit trail")
    list_columns = [
        "occurred_at",
        "actor_name",
        "organisation_id",
        "action",
        "object_type",
        "object_id",
        "outcome",
    ]
    show_columns = [*list_columns, "details"]
    search_columns = ["occurred_at", "actor_name", "action", "object_type", "object_id", "outcome"]
    base_order = ("occurred_at", "desc")
    page_size = 50
    label_columns = {
        "occurred_at": _l("When (UTC)"),
        "actor_name": _l("Who"),
        "organisation_id": _l("Organisation"),
        "action": _l("Action"),
        "object_type": _l("Object"),
        "object_id": _l("Reference"),
        "outcome": _l("Outcome"),
        "details": _l("Details"),
    }
