"""Roles, permissions, the organisation boundary and the account security rules.

* Roles are those of DESIGN.md. Each view declares, in its ``access`` attribute, which role
  gets which of its permissions; ``sync_roles`` makes the database match, at start-up and
  through ``flask --app wsgi roles sync``. A view without a declaration is refused to every
  role, and the access-matrix test fails until someone decides.
* FAB's admin role is a technical "Superuser" that nobody holds, because FAB grants that role
  every permission of every view, reports and case notes included. The Admin of DESIGN.md
  manages accounts, organisations and API clients, and reads no confidential data.
* The organisation boundary is one rule, ``scope_condition``: services use ``scoped`` and
  ``scoped_get``, FAB views ``ScopedModelView`` (views/base.py), on every list, show, edit,
  delete, search, action and related-field query.
* Rules ask for capabilities (``can``), never for role names; ``CAPABILITIES`` says which role
  grants which, and ``roles sync`` stores them with the views' permissions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import click
from flask import current_app, g, has_request_context, request, session
from flask_appbuilder.api import BaseApi
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import joinedload

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.sign_in import StaffSession
from backoffice.models.staff_notice import StaffNotice
from backoffice.models.user import StaffUser, new_session_token
from backoffice.services import audit, login_delay, second_factor, staff_sessions

log = logging.getLogger(__name__)
# The cookie's key for the server-side session token (services/staff_sessions.py).
SESSION_KEY = "staff_session"

ADMIN = "Admin"
MODERATOR = "Moderator"
SOCIAL_WORKER = "SocialWorker"
COORDINATOR = "Coordinator"
OUTREACH = "Outreach"
PARTNER_RELAY = "PartnerRelay"
# Reads the audit trail and runs its checks (the data-protection officer's role).
DATA_PROTECTION = "DataProtection"
ROLES = (ADMIN, MODERATOR, SOCIAL_WORKER, COORDINATOR, OUTREACH, PARTNER_RELAY, DATA_PROTECTION)
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
}


class DisabledSecurityApi(BaseApi):
    """FAB's JWT login API is not offered: staff sign in through the login page only, where
    delays, the second factor, audit and session rules apply."""

    resource_name = "security"


class BackofficeSecurityManager(SecurityManager):
    user_model = StaffUser
    security_api = DisabledSecurityApi

    def __init__(self, appbuilder) -> None:
        from backoffice.views.second_factor import TwoStepAuthDBView
        from backoffice.views.users import (
            GroupView,
            RoleView,
            StaffResetPasswordView,
            StaffUserView,
        )

        self.userdbmodelview = StaffUserView
        self.resetpasswordview = StaffResetPasswordView
        # FAB's login-count chart tells nobody anything useful and fails on a bad argument.
        self.userstatschartview = None
        self.rolemodelview = RoleView
        self.groupmodelview = GroupView
        self.authdbview = TwoStepAuthDBView
        super().__init__(appbuilder)
        from backoffice.views.base import Interface

        # FAB's own account views flush too: the request commits once, with their audit.
        self.userdbmodelview.datamodel = Interface(self.user_model)
        self.rolemodelview.datamodel = Interface(self.role_model)

    # -- sessions ------------------------------------------------------------------------
    def load_user(self, pk):
        """Session ids are ``<user id>.<session token>``: a changed token ends the session.

        The cookie must also name a live server-side session of this user, opened in a
        browser with this user agent (services/staff_sessions.py): a cookie replayed from
        another browser, or after sign-out, signs nobody in.
        """
        user_id, _, token = str(pk).partition(".")
        if not user_id.isdigit():
            return None
        user, record = self._user_and_session(int(user_id))
        if user is None or not user.is_active or token != user.session_token:
            return None
        if has_request_context():
            agent = request.headers.get("User-Agent", "")
            if not session.get(SESSION_KEY) or not staff_sessions.check(record, user.id, agent):
                return None
        if second_factor.required_for(user) and not second_factor.is_enabled(user):
            return None  # given a role that needs one since signing in: enrol first
        return user

    def _user_and_session(self, user_id: int):
        """The user with what every page asks next (the roles for the permissions, the
        organisation for the reader's time zone) and this cookie's server-side session
        record, in one query."""
        User = self.user_model
        statement = select(User).where(User.id == user_id)
        statement = statement.options(joinedload(User.roles), joinedload(User.organisation))
        if not has_request_context():
            return db.session.scalars(statement).unique().first(), None
        condition = staff_sessions.record_condition(session.get(SESSION_KEY))
        # The navigation's unread-notice count rides along (views/notifications.py): every
        # page shows it, and a query of its own would be one more on every page.
        unread = (
            select(func.count())
            .select_from(StaffNotice)
            .where(StaffNotice.user_id == user_id, StaffNotice.read_at.is_(None))
            .scalar_subquery()
        )
        statement = statement.add_columns(StaffSession, unread)
        statement = statement.outerjoin(StaffSession, condition)
        row = db.session.execute(statement).unique().first()
        if row is None:
            return None, None
        g.unread_notices = row[2]
        return row[0], row[1]

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        """FAB's check, answered from the user's permissions loaded once per request.

        FAB asks the database once per check: a page's menu alone made ~27 queries.
        """
        if not has_request_context() or not getattr(user, "is_authenticated", False):
            return super()._has_view_access(user, permission_name, view_name)
        return (permission_name, view_name) in permissions_of(user)

    def end_all_sessions(self, user: StaffUser, *, keep_current: bool = False) -> None:
        """End every session of the account (deactivation, password change), or every
        other one (``keep_current``: the session that changed the password)."""
        user.session_token = new_session_token()
        keep = session.get(SESSION_KEY) if keep_current and has_request_context() else None
        staff_sessions.end_all(user.id, keep_token=keep)

    # -- authentication ------------------------------------------------------------------
    def update_user_auth_stat(self, user, success=True) -> None:
        """FAB's counters after the password check. A right password alone is not a sign-in
        (the second factor may follow): ``sign_in`` counts it. A wrong one is counted for
        the "failed attempts since your last login" notice, and audited."""
        if success:
            return
        user.fail_login_count = (user.fail_login_count or 0) + 1
        audit.record("login_failed", object_type="User", object_id=user.id, outcome="failure")
        # The request answers with a redirect to the login page; the count must stay.
        transactions.keep_on_failure()

    def sign_in(self, user: StaffUser) -> int:
        """Complete a sign-in (password, and second factor when it applies): a new session,
        the audit of the login, the counters. Answers the failed attempts since the last
        sign-in, for the user to be told."""
        failures = user.fail_login_count or 0
        # A new session for a new login: nothing from before the login survives it.
        session.clear()
        agent = request.headers.get("User-Agent", "")
        session[SESSION_KEY] = staff_sessions.open_session(user, agent)
        session["started_at"] = int(utcnow().timestamp())
        session.permanent = True
        login_user(user, remember=False)
        user.fail_login_count = 0
        user.login_count = (user.login_count or 0) + 1
        user.last_login = dt.datetime.now()  # FAB's column, in FAB's convention
        audit.record(
            "login",
            object_type="User",
            object_id=user.id,
            actor=user,
            details={"failures_since_last_login": failures} if failures else None,
        )
        return failures

    def on_user_logout(self, user) -> None:
        staff_sessions.end_token(session.get(SESSION_KEY))
        session.clear()
        audit.record("logout", object_type="User", object_id=user.id, actor=user)

    def add_user(self, *args, **kwargs):
        _refuse_fab_account_commands()
        return super().add_user(*args, **kwargs)

    def reset_password(self, userid, password) -> None:
        _refuse_fab_account_commands()
        super().reset_password(userid, password)
        user = self.get_user_by_id(userid)
        own = has_request_context() and current_user.is_authenticated and current_user.id == userid
        self.end_all_sessions(user, keep_current=own)
        audit.record("password_changed", object_type="User", object_id=user.id)
        # FAB's ``fab reset-password`` command calls this outside any request or unit of work
        # (FAB itself has just committed the new password): its audit event is kept here.
        self.session.commit()
        if own:
            login_user(user)  # keep the session that made the change, end the others


FAB_ACCOUNT_COMMANDS = frozenset({"create-admin", "create-user", "reset-password"})


def _refuse_fab_account_commands() -> None:
    """FAB's ``fab create-admin / create-user / reset-password`` give roles and passwords with
    nobody's approval (``create-admin`` even the all-powerful Superuser): refused. Flask
    resolves FAB's commands before the application loads, so they are stopped here, where
    they reach the security manager; ``flask users …`` opens grant requests instead."""
    context = click.get_current_context(silent=True)
    parent = context.parent if context is not None else None
    if parent is None or parent.info_name != "fab":
        return
    if context.info_name in FAB_ACCOUNT_COMMANDS:
        raise click.ClickException(
            f"`fab {context.info_name}` is disabled: a second Admin approves every grant. "
            "Use `flask --app wsgi users create|request` (see `users --help`)."
        )


def unlock(user: StaffUser) -> None:
    """An Admin's reset of the sign-in delays of an account (from every address)."""
    for name in {user.username, user.email} - {None, ""}:  # one signs in with either
        login_delay.clear(name)
    audit.record("account_unlocked", object_type="User", object_id=user.id)


# -- capabilities: what rules ask for ------------------------------------------------------
# Rules never test role names: they ask ``can(capability)``. Roles are data that grant
# capabilities (stored as FAB permissions on the ``Capabilities`` view menu and synced by
# ``roles sync`` with the views' own permissions), as Superset's security manager does.
CAPABILITY_MENU = "Capabilities"
CAPABILITIES: dict[str, tuple[str, ...]] = {
    # Statistics of every organisation (aggregated only) / of one's own organisation.
    "read_all_statistics": (ADMIN, MODERATOR, COORDINATOR, DATA_PROTECTION),
    "read_own_statistics": (SOCIAL_WORKER,),
    "build_funder_report": (COORDINATOR,),
    # May be assigned cases, and receives the cases' digests and notices.
    "hold_cases": (SOCIAL_WORKER,),
    # Runs outreach rounds (may own a round).
    "run_outreach": (OUTREACH,),
    # May be named an Outreach lead (the marker an Admin grants): edits the team's message
    # texts and the list of platforms once named.
    "lead_outreach": (OUTREACH,),
    # Reviews reports and publishes alerts.
    "moderate": (MODERATOR,),
    # Erasing one report on request (services/report_erasure.py).
    "erase_reports": (MODERATOR, DATA_PROTECTION),
    # Approves or refuses another Admin's grant request (services/grants.py).
    "approve_grants": (ADMIN,),
    # Changes a verified directory entry's contact details directly, and reviews partner
    # associations' changes to them (the entry's owner organisation may too).
    "review_directory_changes": (COORDINATOR,),
    # Reviews and publishes information sheets written by someone else.
    "publish_information": (MODERATOR, COORDINATOR),
    # Checks an identifier against the published alerts for a worker met in the field (the
    # roles that meet workers); moderators' own check also searches reports.
    "check_identifiers": (MODERATOR, SOCIAL_WORKER, OUTREACH, PARTNER_RELAY),
    # Is told when a dangerous report waits unclaimed (besides every moderator).
    "watch_report_queue": (COORDINATOR,),
    # Follows the reports its association filed (their outcome) and answers the moderators'
    # questions about them (services/questions.py).
    "answer_filed_reports": (PARTNER_RELAY,),
}


# What each capability lets its holder do, as the roles screen says it (views/role_labels.py).
CAPABILITY_DESCRIPTIONS = {
    "read_all_statistics": _l("Read the statistics of every association (aggregated)"),
    "read_own_statistics": _l("Read the statistics of one's own association"),
    "build_funder_report": _l("Build the funder report"),
    "hold_cases": _l("Be assigned cases and receive their digests"),
    "run_outreach": _l("Run outreach rounds"),
    "lead_outreach": _l("Be named outreach lead (message texts, platforms)"),
    "moderate": _l("Review reports and publish alerts"),
    "erase_reports": _l("Erase a report on request"),
    "approve_grants": _l("Approve or refuse another Admin's access requests"),
    "review_directory_changes": _l("Review changes to verified directory entries"),
    "publish_information": _l("Review and publish information sheets"),
    "check_identifiers": _l("Check an identifier against the published alerts"),
    "watch_report_queue": _l("Be told when a dangerous report waits unclaimed"),
    "answer_filed_reports": _l(
        "Follow the reports one's association filed and answer the moderators' questions"
    ),
}


def permissions_of(user) -> set[tuple[str, str]]:
    """(permission, view menu) pairs the user's roles grant, read once per request."""
    if user is None or not getattr(user, "is_authenticated", True):
        return set()
    if has_request_context():
        cache = g.get("_permission_cache")
        if cache is not None and cache[0] == user.id:
            return cache[1]
    granted = _query_permissions([role.id for role in user.roles])
    if has_request_context():
        g._permission_cache = (user.id, granted)
    return granted


def _query_permissions(role_ids: list[int]) -> set[tuple[str, str]]:
    from flask_appbuilder.security.sqla.models import (
        Permission,
        PermissionView,
        ViewMenu,
        assoc_permissionview_role,
    )

    if not role_ids:
        return set()
    rows = db.session.execute(
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


def can(capability: str, actor=None) -> bool:
    """Whether the actor (default: the signed-in user) has the capability."""
    if capability not in CAPABILITIES:
        raise KeyError(f"Unknown capability {capability!r}")
    actor = actor if actor is not None else current_user_or_none()
    return (capability, CAPABILITY_MENU) in permissions_of(actor)


def roles_with(capability: str) -> set[str]:
    """Names of the roles that grant the capability (as stored by ``roles sync``)."""
    from flask_appbuilder.security.sqla.models import (
        Permission,
        PermissionView,
        Role,
        ViewMenu,
        assoc_permissionview_role,
    )

    if capability not in CAPABILITIES:
        raise KeyError(f"Unknown capability {capability!r}")
    rows = db.session.scalars(
        select(Role.name)
        .join(assoc_permissionview_role, assoc_permissionview_role.c.role_id == Role.id)
        .join(PermissionView, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
        .join(Permission, PermissionView.permission_id == Permission.id)
        .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
        .where(Permission.name == capability, ViewMenu.name == CAPABILITY_MENU)
    )
    return set(rows)


def holders(capability: str, organisation_id: int | None = None) -> Select:
    """A select of the active staff users who have the capability (in one organisation)."""
    from flask_appbuilder.security.sqla.models import (
        Permission,
        PermissionView,
        ViewMenu,
        assoc_permissionview_role,
        assoc_user_role,
    )

    if capability not in CAPABILITIES:
        raise KeyError(f"Unknown capability {capability!r}")
    granted_roles = (
        select(assoc_permissionview_role.c.role_id)
        .join(PermissionView, assoc_permissionview_role.c.permission_view_id == PermissionView.id)
        .join(Permission, PermissionView.permission_id == Permission.id)
        .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
        .where(Permission.name == capability, ViewMenu.name == CAPABILITY_MENU)
    )
    users_with_role = select(assoc_user_role.c.user_id).where(
        assoc_user_role.c.role_id.in_(granted_roles)
    )
    statement = select(StaffUser).where(
        StaffUser.active.is_(True), StaffUser.id.in_(users_with_role)
    )
    if organisation_id is not None:
        statement = statement.where(StaffUser.organisation_id == organisation_id)
    return statement.order_by(StaffUser.first_name, StaffUser.last_name, StaffUser.id)


# -- the organisation boundary ------------------------------------------------------------
# One rule for every path: a row of an organisation-owned model is visible to an actor of the
# same organisation, and to nobody else; an actor without an organisation sees no such row.
# Services use ``scoped`` / ``scoped_get``; FAB views extend ``ScopedModelView`` (views/base.py),
# whose filter applies the same rule.


@dataclass(frozen=True)
class OrganisationActor:
    """A job, a command or a test acting for one organisation (``acting_for``)."""

    organisation_id: int


def acting_for(organisation_id: int) -> OrganisationActor:
    return OrganisationActor(organisation_id)


class OutOfScope(LookupError):
    """The row does not exist for this actor (absent, or another organisation's): a 404."""


def current_user_or_none() -> StaffUser | None:
    user = getattr(g, "user", None) if has_request_context() else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def organisation_of(actor=None) -> int | None:
    """The organisation an actor acts for, or None.

    An actor is a staff user (default: the signed-in one), an ``OrganisationActor``, or a row
    of an organisation-owned model (to follow that row's scope, e.g. a round's contacts).
    """
    actor = actor if actor is not None else current_user_or_none()
    return getattr(actor, "organisation_id", None)


def scope_condition(model, actor=None):
    """The WHERE clause limiting ``model`` to the actor's organisation (false without one).

    For organisation-owned models, and for staff users (the colleagues of one's team).
    """
    if not hasattr(model, "organisation_id"):
        raise TypeError(f"{model.__name__} has no organisation")
    organisation_id = organisation_of(actor)
    if organisation_id is None:
        return false()
    return model.organisation_id == organisation_id


def scoped(statement: Select, model, actor=None) -> Select:
    """Limit a select on an organisation-owned model to the actor's organisation."""
    return statement.where(scope_condition(model, actor))


def scoped_query(model, actor=None) -> Select:
    """``select(model)`` limited to the actor's organisation."""
    return scoped(select(model), model, actor)


def scoped_get(model, row_id, actor=None, *, options=()):
    """The row ``row_id`` of ``model`` if the actor's organisation owns it; ``OutOfScope``
    otherwise (answered as 404, the same as a row that does not exist)."""
    try:
        row_id = int(row_id)
    except (TypeError, ValueError):
        raise OutOfScope(model.__name__) from None
    statement = scoped_query(model, actor).where(model.id == row_id)
    # Read whole (``unique``): options may load collections in the same query.
    row = db.session.scalars(statement.options(*options)).unique().one_or_none()
    if row is None:
        raise OutOfScope(model.__name__)
    return row


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
    for capability, roles in CAPABILITIES.items():
        for role in roles:
            grants[role].setdefault(CAPABILITY_MENU, set()).add(capability)
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
    """Create the roles and make their permissions exactly what the views declare (the
    caller's unit of work commits)."""
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
    sm.session.flush()


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
