"""Roles, permissions, the organisation boundary and the account security rules.

* Roles are those of DESIGN.md. Each view declares, in its ``access`` attribute, which role
  gets which of its permissions; ``sync_roles`` makes the database match, at start-up and
  through ``flask --app wsgi roles sync``. A view without a declaration is refused to every
  role, and the access-matrix test fails until someone decides.
* FAB's admin role is a technical "Superuser" that nobody holds, because FAB grants that role
  every permission of every view, reports and case notes included. The Admin of DESIGN.md
  manages accounts, organisations and API clients, and reads no confidential data.
* The organisation boundary is ``current_organisation_id()``: ``scoped()`` adds it to service
  queries and ``ScopedModelView`` (views/base.py) to every FAB list, show, edit, delete,
  action and related-field query.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import abort, current_app, g, has_request_context, session
from flask_appbuilder.api import BaseApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_login import current_user, login_user
from sqlalchemy import Select

from backoffice.models.base import utcnow
from backoffice.models.user import StaffUser, new_session_token
from backoffice.services import audit

log = logging.getLogger(__name__)

ADMIN = "Admin"
MODERATOR = "Moderator"
SOCIAL_WORKER = "SocialWorker"
COORDINATOR = "Coordinator"
OUTREACH = "Outreach"
PARTNER_RELAY = "PartnerRelay"
ROLES = (ADMIN, MODERATOR, SOCIAL_WORKER, COORDINATOR, OUTREACH, PARTNER_RELAY)
SUPERUSER = "Superuser"

# Permission sets a view can grant to a role in its ``access`` declaration.
ALL = "__all__"
READ = ("can_list", "can_show")

# FAB's own views: who may use them. Everything else of FAB's stays with nobody.
SELF_SERVICE = {
    "UserDBModelView": ("can_userinfo", "resetmypassword", "userinfoedit"),
    "ResetMyPasswordView": ("can_this_form_get", "can_this_form_post"),
    "UserInfoEditView": ("can_this_form_get", "can_this_form_post"),
}
ADMIN_FAB_VIEWS = {
    "UserDBModelView": ALL,
    "ResetPasswordView": ALL,
    "RoleModelView": READ,
    "UserStatsChartView": ALL,
}


class DisabledSecurityApi(BaseApi):
    """FAB's JWT login API is not offered: staff sign in through the login page only, where
    lock-out, audit and session rules apply."""

    resource_name = "security"


class BackofficeSecurityManager(SecurityManager):
    user_model = StaffUser
    security_api = DisabledSecurityApi

    def __init__(self, appbuilder) -> None:
        from backoffice.views.second_factor import TwoStepAuthDBView
        from backoffice.views.users import StaffUserView

        self.userdbmodelview = StaffUserView
        self.authdbview = TwoStepAuthDBView
        super().__init__(appbuilder)

    # -- sessions ------------------------------------------------------------------------
    def load_user(self, pk):
        """Session ids are ``<user id>.<session token>``: a changed token ends the session."""
        user_id, _, token = str(pk).partition(".")
        if not user_id.isdigit():
            return None
        user = self.get_user_by_id(int(user_id))
        if user is None or not user.is_active or token != user.session_token:
            return None
        if _is_locked(user):
            return None
        return user

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        """FAB's check, answered from the user's permissions loaded once per request.

        FAB asks the database once per check: a page's menu alone made ~27 queries.
        """
        if not has_request_context() or not getattr(user, "is_authenticated", False):
            return super()._has_view_access(user, permission_name, view_name)
        cache = g.get("_permission_cache")
        if cache is None or cache[0] != user.id:
            cache = g._permission_cache = (user.id, self._permissions_of(user))
        return (permission_name, view_name) in cache[1]

    def _permissions_of(self, user) -> set[tuple[str, str]]:
        from flask_appbuilder.security.sqla.models import (
            Permission,
            PermissionView,
            ViewMenu,
            assoc_permissionview_role,
        )
        from sqlalchemy import select

        role_ids = [role.id for role in self.get_user_roles(user)]
        rows = self.session.execute(
            select(Permission.name, ViewMenu.name)
            .join(PermissionView, PermissionView.permission_id == Permission.id)
            .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
            .join(
                assoc_permissionview_role,
                assoc_permissionview_role.c.permission_view_id == PermissionView.id,
            )
            .where(assoc_permissionview_role.c.role_id.in_(role_ids))
        )
        return {(permission, view) for permission, view in rows}

    def end_all_sessions(self, user: StaffUser) -> None:
        user.session_token = new_session_token()

    # -- authentication ------------------------------------------------------------------
    def auth_user_db(self, username, password):
        user = self.find_user(username=username) if username else None
        if user is not None and _is_locked(user):
            audit.record("login_refused_locked", object_type="User", object_id=user.id)
            self.session.commit()
            return None
        return super().auth_user_db(username, password)

    def on_user_login(self, user) -> None:
        # A new session for a new login: nothing from before the login survives it.
        session.clear()
        session["started_at"] = int(utcnow().timestamp())
        session.permanent = True
        audit.record("login", object_type="User", object_id=user.id, actor=user)
        self.session.commit()

    def on_user_login_failed(self, user) -> None:
        threshold = current_app.config["LOGIN_LOCKOUT_THRESHOLD"]
        if (user.fail_login_count or 0) >= threshold:
            minutes = current_app.config["LOGIN_LOCKOUT_MINUTES"]
            user.locked_until = utcnow() + dt.timedelta(minutes=minutes)
            self.end_all_sessions(user)
            audit.record("account_locked", object_type="User", object_id=user.id)
        audit.record("login_failed", object_type="User", object_id=user.id, outcome="failure")
        self.session.commit()

    def on_user_logout(self, user) -> None:
        self.end_all_sessions(user)
        audit.record("logout", object_type="User", object_id=user.id, actor=user)
        self.session.commit()

    def reset_password(self, userid, password) -> None:
        super().reset_password(userid, password)
        user = self.get_user_by_id(userid)
        self.end_all_sessions(user)
        audit.record("password_changed", object_type="User", object_id=user.id)
        self.session.commit()
        if has_request_context() and current_user.is_authenticated and current_user.id == userid:
            login_user(user)  # keep the session that made the change, end the others


def _is_locked(user: StaffUser) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


def unlock(user: StaffUser) -> None:
    """The unlock path for an Admin: clears the lock-out and the failure count."""
    user.locked_until = None
    user.fail_login_count = 0
    audit.record("account_unlocked", object_type="User", object_id=user.id)


# -- the organisation boundary ------------------------------------------------------------
class NoOrganisation(PermissionError):
    """A user without an organisation asked for organisation-owned data."""


def current_user_or_none() -> StaffUser | None:
    user = getattr(g, "user", None) if has_request_context() else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def current_organisation_id() -> int:
    """The organisation every query for owned rows is limited to.

    Called by FAB's ``FilterEqualFunction`` on every query; a user with no organisation
    gets -1, which matches no row, rather than every row.
    """
    user = current_user_or_none()
    organisation_id = getattr(user, "organisation_id", None)
    return organisation_id if organisation_id is not None else -1


def scoped(statement: Select, model, organisation_id: int | None = None) -> Select:
    """Limit a select on an organisation-owned model to one organisation (default: mine)."""
    if not getattr(model, "__organisation_owned__", False):
        raise TypeError(f"{model.__name__} is not organisation-owned")
    if organisation_id is None:
        organisation_id = current_organisation_id()
    return statement.where(model.organisation_id == organisation_id)


def require_same_organisation(row) -> None:
    """404 when a row loaded by id belongs to another organisation (actions, custom pages)."""
    if row is None or row.organisation_id != current_organisation_id():
        abort(404)


def user_has_role(*names: str) -> bool:
    user = current_user_or_none()
    return user is not None and user.has_role(*names)


# -- roles and permissions ------------------------------------------------------------------
def declared_access(appbuilder) -> dict[str, dict[str, set[str]]]:
    """role -> view name -> permissions, from the views' declarations and FAB's own views."""
    grants: dict[str, dict[str, set[str]]] = {role: {} for role in ROLES}
    for view in appbuilder.baseviews:
        name = view.class_permission_name
        available = set(view.base_permissions or [])
        declaration = getattr(view, "access", None) or {}
        if name in ADMIN_FAB_VIEWS:
            declaration = {**declaration, ADMIN: ADMIN_FAB_VIEWS[name]}
        for role, permissions in declaration.items():
            chosen = available if permissions == ALL else set(permissions) & available
            grants[role].setdefault(name, set()).update(chosen)
        if name in SELF_SERVICE:
            for role in ROLES:
                grants[role].setdefault(name, set()).update(set(SELF_SERVICE[name]) & available)
    _grant_menus(appbuilder, grants)
    return grants


def _grant_menus(appbuilder, grants: dict[str, dict[str, set[str]]]) -> None:
    """A menu entry shows for a role that may use its view; a category for any child."""
    for role, views in grants.items():
        usable = {
            name
            for name, permissions in views.items()
            if permissions
            - {
                "can_userinfo",
                "resetmypassword",
                "userinfoedit",
                "can_this_form_get",
                "can_this_form_post",
            }
        }
        for item in appbuilder.menu.get_list():
            children = [c for c in item.childs if c.name != "-"] or [item]
            shown = [
                c
                for c in children
                if c.baseview is not None and c.baseview.class_permission_name in usable
            ]
            for child in shown:
                grants[role].setdefault(child.name, set()).add("menu_access")
            if shown and item.childs:
                grants[role].setdefault(item.name, set()).add("menu_access")


def sync_roles(appbuilder) -> None:
    """Create the roles and make their permissions exactly what the views declare."""
    sm = appbuilder.sm
    for role_name, views in declared_access(appbuilder).items():
        role = sm.add_role(role_name)
        wanted = set()
        for view_name, permissions in views.items():
            for permission in permissions:
                pv = sm.find_permission_view_menu(permission, view_name)
                if pv is None:
                    pv = sm.add_permission_view_menu(permission, view_name)
                wanted.add(pv)
        for pv in list(role.permissions):
            if pv not in wanted:
                sm.del_permission_role(role, pv)
        for pv in wanted:
            if pv not in role.permissions:
                sm.add_permission_role(role, pv)
    sm.add_role(SUPERUSER)
    sm.add_role(current_app.config.get("AUTH_ROLE_PUBLIC", "Public"))
    sm.session.commit()


def commit_pending_audit(response):
    """Commit audit events written by read-only requests (views that never commit)."""
    if getattr(g, "audit_pending", False) and response.status_code < 500:
        from backoffice.extensions import db

        try:
            db.session.commit()
        except Exception:  # the response must not leak the failure; the log says it
            log.exception("Could not commit audit events")
            db.session.rollback()
    return response


def enforce_absolute_timeout() -> None:
    """End a session older than SESSION_ABSOLUTE_HOURS, however active it was."""
    if not has_request_context() or "_user_id" not in session:
        return  # only signed-in sessions have an age; others must not get a cookie for it
    started = session.get("started_at")
    now = int(utcnow().timestamp())
    if started is None:
        session["started_at"] = now
        session.permanent = True
        return
    limit = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    if now - int(started) > limit:
        session.clear()
