"""« Mes notifications »: one's own notices (list, unread count in the navigation, mark read)
and one's notice settings (channels, own mobile, quiet hours, on duty).

Every staff role has the page; each user sees only her own notices (another user's notice
is answered like one that does not exist). The rules live in ``services/staff_notices.py``.
"""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from backoffice.extensions import db
from backoffice.models.staff_notice import StaffNotice
from backoffice.security import ROLES
from backoffice.services import staff_notices
from backoffice.transactions import undo
from backoffice.views.arguments import page_arg

PERMISSION = "can_notifications"


class NotificationsView(BaseView):
    route_base = "/account/notifications"
    default_view = "notifications"
    base_permissions = [PERMISSION]
    method_permission_name = {
        "notifications": "notifications",
        "open_notice": "notifications",
        "read": "notifications",
        "read_all": "notifications",
        "settings": "notifications",
    }
    # Every staff role, whichever roles exist: they are one's own notices.
    access = {role: (PERMISSION,) for role in ROLES}
    class_permission_name = "NotificationsView"

    @expose("/")
    @has_access
    def notifications(self):
        return self.render_template(
            "notifications/list.html",
            page=staff_notices.notices_of(g.user, page_arg()),
            unread=unread_notice_count(),
            levels=staff_notices.LEVELS,
            rule_texts=staff_notices.RULE_TEXTS,
            form=FlaskForm(),
        )

    def _own(self, notice_id: int) -> StaffNotice:
        notice = db.session.get(StaffNotice, notice_id)
        if notice is None or notice.user_id != g.user.id:
            abort(404)
        return notice

    @expose("/<int:notice_id>/open", methods=["POST"])
    @has_access
    def open_notice(self, notice_id: int):
        notice = self._own(notice_id)
        staff_notices.mark_read(g.user, notice.id)
        return redirect(notice.path)

    @expose("/<int:notice_id>/read", methods=["POST"])
    @has_access
    def read(self, notice_id: int):
        notice = self._own(notice_id)
        staff_notices.mark_read(g.user, notice.id)
        flash(_("Notice marked as read."), "success")
        return redirect(url_for("NotificationsView.notifications"))

    @expose("/read-all", methods=["POST"])
    @has_access
    def read_all(self):
        if staff_notices.mark_read(g.user):
            flash(_("All notices marked as read."), "success")
        return redirect(url_for("NotificationsView.notifications"))

    @expose("/settings", methods=["GET", "POST"])
    @has_access
    def settings(self):
        form = FlaskForm()
        errors: dict[str, str] = {}
        if request.method != "POST":
            values = _stored_settings(g.user)  # her number decrypted (audited) to be shown
        else:
            if not form.validate_on_submit():
                abort(400)
            values = {
                "by_email": request.form.get("by_email") == "on",
                "by_sms": request.form.get("by_sms") == "on",
                "phone": request.form.get("phone", "")[:60],
                "quiet_start": request.form.get("quiet_start", "")[:10],
                "quiet_end": request.form.get("quiet_end", "")[:10],
                "on_duty": request.form.get("on_duty") == "on",
            }
            try:
                staff_notices.save_settings(g.user, **values)
            except staff_notices.NoticeSettingsError as refused:
                undo()
                errors = refused.errors
            else:
                flash(_("Your notice settings were saved."), "success")
                return redirect(url_for("NotificationsView.settings"))
        return self.render_template(
            "notifications/settings.html",
            form=form,
            values=values,
            errors=errors,
            has_email=bool((g.user.email or "").strip()),
        ), (400 if errors else 200)


def _stored_settings(user) -> dict:
    settings = staff_notices.settings_of(user.id)
    return {
        "by_email": settings.by_email,
        "by_sms": settings.by_sms,
        "phone": staff_notices.phone_of(settings) or "",
        "quiet_start": settings.quiet_start.strftime("%H:%M") if settings.quiet_start else "",
        "quiet_end": settings.quiet_end.strftime("%H:%M") if settings.quiet_end else "",
        "on_duty": settings.on_duty,
    }


def unread_notice_count() -> int:
    """For the navigation: the signed-in user's unread notices (0 when signed out)."""
    user = g.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    if "unread_notices" in g:  # counted with the user at sign-in check (security.load_user)
        return g.unread_notices
    return staff_notices.unread_count(user)


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(NotificationsView)
    current_app.jinja_env.globals["unread_notice_count"] = unread_notice_count
