"""Staff accounts, managed by Admins: FAB's user view with the organisation and unlocking."""

from __future__ import annotations

from flask import flash, redirect
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterNotEqual
from flask_appbuilder.security.views import RoleModelView, UserDBModelView, UserGroupModelView
from flask_babel import lazy_gettext as _l

from backoffice import security
from backoffice.services import audit
from backoffice.views.base import DoomsFailedHooks, ScopedActions

_ASSIGNABLE_ROLES = [
    ["name", FilterNotEqual, "Superuser"],
    ["name", FilterNotEqual, "Public"],
]


class StaffUserView(ScopedActions, DoomsFailedHooks, UserDBModelView):
    route_base = "/users"
    # Keep FAB's permission name: its profile and password pages refer to it.
    class_permission_name = "UserDBModelView"

    list_columns = ["first_name", "last_name", "username", "organisation", "roles", "active"]
    show_fieldsets = [
        (_l("User info"), {"fields": ["username", "active", "organisation", "roles"]}),
        (_l("Personal Info"), {"fields": ["first_name", "last_name", "email"]}),
        (
            _l("Audit info"),
            {
                "fields": [
                    "last_login",
                    "login_count",
                    "fail_login_count",
                    "created_on",
                    "changed_on",
                ],
                "expanded": False,
            },
        ),
    ]
    user_show_fieldsets = [
        (_l("User info"), {"fields": ["username", "organisation", "roles", "last_login"]}),
        (_l("Personal Info"), {"fields": ["first_name", "last_name", "email"], "expanded": True}),
    ]
    add_columns = [
        "first_name",
        "last_name",
        "username",
        "active",
        "email",
        "organisation",
        "roles",
        "password",
        "conf_password",
    ]
    edit_columns = [
        "first_name",
        "last_name",
        "username",
        "active",
        "email",
        "organisation",
        "roles",
    ]
    search_columns = ["first_name", "last_name", "username", "organisation", "roles", "active"]
    label_columns = {
        "first_name": _l("First name"),
        "last_name": _l("Last name"),
        "username": _l("Username"),
        "email": _l("Email"),
        "active": _l("Active"),
        "roles": _l("Roles"),
        "organisation": _l("Organisation"),
        "last_login": _l("Last login"),
        "login_count": _l("Login count"),
        "fail_login_count": _l("Failed logins"),
        "created_on": _l("Created on"),
        "changed_on": _l("Changed on"),
        "password": _l("Password"),
        "conf_password": _l("Confirm password"),
    }
    add_form_query_rel_fields = {"roles": _ASSIGNABLE_ROLES}
    edit_form_query_rel_fields = {"roles": _ASSIGNABLE_ROLES}
    validators_columns = {}

    def post_add(self, item) -> None:
        audit.record("user_created", object_type="User", object_id=item.id)

    def pre_update(self, item) -> None:
        if not item.active:
            self.appbuilder.sm.end_all_sessions(item)

    def post_update(self, item) -> None:
        audit.record(
            "user_updated",
            object_type="User",
            object_id=item.id,
            details={"roles": sorted(r.name for r in item.roles), "active": bool(item.active)},
        )

    def post_delete(self, item) -> None:
        audit.record("user_deleted", object_type="User", object_id=item.id)

    @action(
        "unlock",
        _l("Reset sign-in delays"),
        _l("Reset the sign-in delays of the selected accounts?"),
        "fa-unlock",
        single=False,
    )
    def unlock(self, items):
        for user in items if isinstance(items, list) else [items]:
            security.unlock(user)
        flash(str(_l("Sign-in delays reset.")), "success")
        return redirect(self.get_redirect())


class RoleView(ScopedActions, RoleModelView):
    """FAB's role list (read by Admins), with its action routes made safe."""

    class_permission_name = "RoleModelView"


class GroupView(ScopedActions, UserGroupModelView):
    """FAB's group list (used by nobody), with its action routes made safe."""

    class_permission_name = "UserGroupModelView"
