"""Browsing the audit trail: the data-protection officer (reads it, runs its check) and
Admins (account incidents). Coordinators keep aggregated figures only. Read-only by
construction."""

from __future__ import annotations

import re

from flask import Response, g, request
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import lazy_gettext as _l

from backoffice.models.audit import AuditEvent
from backoffice.security import ADMIN, ALL, DATA_PROTECTION, READ
from backoffice.services import audit, audit_journal
from backoffice.services.timezones import zone_of_user
from backoffice.transactions import streamed_after_commit
from backoffice.views.arguments import page_arg
from backoffice.views.base import BackofficeModelView, Interface
from backoffice.views.formatting import local_time

# What a user name or a reference is made of (anything else, a NUL included, is dropped).
_TERM = re.compile(r"[^\w.@:+-]")


def _term(name: str, length: int) -> str:
    return _TERM.sub("", request.args.get(name) or "")[:length]


def _journal_filters() -> dict:
    """The journal's filters from the query string: system rows shown or not, one person
    (user name), one reference."""
    return {
        "include_system": request.args.get("system") == "1",
        "who": _term("who", 128),
        "reference": _term("reference", 64),
    }


class AuditEventView(BackofficeModelView):
    """The trail as sentences (``journal``, the menu's page) and as raw events (FAB's list
    and show pages, with each event's details)."""

    route_base = "/audit"
    default_view = "journal"
    datamodel = Interface(AuditEvent)
    access = {ADMIN: READ, DATA_PROTECTION: READ}
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Audit trail")
    list_empty = _l("No event recorded yet.")
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
    formatters_columns = {"occurred_at": local_time}
    label_columns = {
        "occurred_at": _l("When"),
        "actor_name": _l("Who"),
        "organisation_id": _l("Organisation"),
        "action": _l("Action"),
        "object_type": _l("Object"),
        "object_id": _l("Reference"),
        "outcome": _l("Outcome"),
        "details": _l("Details"),
    }

    @expose("/journal/")
    @has_access
    @permission_name("list")
    def journal(self):
        filters = _journal_filters()
        page, entries = audit_journal.journal(page_arg(), **filters)
        query = {key: value for key, value in filters.items() if value and key != "include_system"}
        if filters["include_system"]:
            query["system"] = "1"
        return self.render_template(
            "backoffice/audit_journal.html",
            page=page,
            entries=entries,
            filters=filters,
            query=query,
            appbuilder=self.appbuilder,
        )

    @expose("/journal/export.csv")
    @has_access
    @permission_name("list")
    def journal_export(self):
        filters = _journal_filters()
        zone = zone_of_user(g.user)
        body = streamed_after_commit(lambda: audit_journal.export_csv(**filters, zone=zone))
        audit.record(
            "audit_exported",
            object_type="AuditEvent",
            details={"system": filters["include_system"]},
        )
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="audit-trail.csv"'},
        )


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
