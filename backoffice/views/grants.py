"""The "Access requests" screen: Admins approve or refuse each other's grant requests.

Nobody decides a request about their own account, and nobody approves their own request
(``services/grants.py`` says so, whoever calls it); a refused attempt is audited.
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.grant import GrantRequest
from backoffice.security import ADMIN, ALL
from backoffice.services import grants
from backoffice.views.arguments import parse_int

KIND_LABELS = {
    "roles": _l("Roles that read confidential data"),
    "organisation": _l("Organisation"),
    "second_factor_reset": _l("Second factor reset"),
    "password_reset": _l("Password reset"),
}
STATE_LABELS = {
    "pending": _l("Pending"),
    "approved": _l("Approved"),
    "refused": _l("Refused"),
}


class GrantRequestView(BaseView):
    route_base = "/access-requests"
    default_view = "list"
    class_permission_name = "GrantRequestView"
    base_permissions = ["can_list", "can_decide"]
    access = {ADMIN: ALL}

    @expose("/")
    @has_access
    def list(self):
        return self.render_template(
            "backoffice/access_requests.html",
            pending=grants.pending(),
            decided=grants.recent_decisions(),
            kinds=KIND_LABELS,
            states=STATE_LABELS,
            me=g.user,
            appbuilder=self.appbuilder,
        )

    @expose("/<request_id>/decide", methods=["POST"])
    @has_access
    def decide(self, request_id: str):
        request_id = parse_int(request_id)  # a hostile number is a 404, not a 500
        if request_id is None:
            abort(404)
        # Locked: two Admins deciding the same request at once decide it once.
        grant = db.session.scalar(
            select(GrantRequest).where(GrantRequest.id == request_id).with_for_update()
        )
        if grant is None:
            abort(404)
        approving = request.form.get("decision") == "approve"
        if not approving and request.form.get("decision") != "refuse":
            abort(400)
        reason = (request.form.get("reason") or "")[:500]
        try:
            if approving:
                grants.approve(grant, g.user, reason)
            else:
                grants.refuse(grant, g.user, reason)
        except grants.GrantRefused as error:
            transactions.undo()
            grant = db.session.get(GrantRequest, request_id)
            grants.record_refused_decision(grant, g.user, error)
            flash(str(error.message), "danger")
            return redirect(url_for(".list"))
        flash(
            _l("Request approved: the change applies.") if approving else _l("Request refused."),
            "success",
        )
        return redirect(url_for(".list"))
