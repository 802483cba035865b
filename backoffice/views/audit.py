"""Browsing the audit trail: the data-protection officer (reads it, runs its check) and
Admins (account incidents). Coordinators keep aggregated figures only. Read-only by
construction."""

from __future__ import annotations

from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l

from backoffice.models.audit import AuditEvent
from backoffice.security import ADMIN, ALL, DATA_PROTECTION, READ
from backoffice.services import audit
from backoffice.views.base import BackofficeModelView, Interface


class AuditEventView(BackofficeModelView):
    route_base = "/audit"
    datamodel = Interface(AuditEvent)
    access = {ADMIN: READ, DATA_PROTECTION: READ}
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


class AuditCheckView(BaseView):
    """``flask audit verify`` from the screen, for the data-protection officer."""

    route_base = "/audit-check"
    default_view = "verify"
    class_permission_name = "AuditCheckView"
    base_permissions = ["can_verify"]
    access = {DATA_PROTECTION: ALL}

    @expose("/")
    @has_access
    def verify(self):
        altered = audit.verify()
        audit.record(
            "audit_verified",
            object_type="AuditEvent",
            outcome="failure" if altered else "success",
            details={"altered": len(altered) if hasattr(altered, "__len__") else bool(altered)},
        )
        return self.render_template(
            "backoffice/audit_verify.html", altered=altered, appbuilder=self.appbuilder
        )
