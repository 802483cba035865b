"""« Mes sessions »: the browsers signed in to one's account, and ending one of them."""

from __future__ import annotations

from flask import abort, flash, g, redirect, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from backoffice.security import ROLES, SESSION_KEY
from backoffice.services import staff_sessions


class SessionsView(BaseView):
    route_base = "/account/sessions"
    default_view = "sessions"
    base_permissions = ["can_sessions"]
    method_permission_name = {"sessions": "sessions", "end": "sessions"}
    # Every staff role, whichever roles exist: it is one's own account.
    access = {role: ("can_sessions",) for role in ROLES}
    class_permission_name = "SessionsView"

    @expose("/")
    @has_access
    def sessions(self):
        current = staff_sessions.current_id(session.get(SESSION_KEY))
        return self.render_template(
            "backoffice/sessions.html",
            sessions=staff_sessions.live_sessions(g.user),
            current=current,
            form=FlaskForm(),
        )

    @expose("/<int:session_id>/end", methods=["POST"])
    @has_access
    def end(self, session_id: int):
        record = staff_sessions.own_session(g.user, session_id)
        if record is None:
            abort(404)  # another user's session is answered like one that does not exist
        staff_sessions.end(record, reason="ended_by_user")
        flash(_("The session was ended."), "success")
        return redirect(url_for("SessionsView.sessions"))
