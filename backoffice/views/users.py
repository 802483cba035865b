"""Staff accounts, managed by Admins: FAB's user view with the organisation and unlocking.

Admins never type someone else's password: a new account is an invitation by email (the
person chooses her password and second factor, services/invitations.py), and a locked-out
person gets a new link ("Send a sign-in link"); the add form has no password field.

What would open confidential data (a sensitive role, another organisation, a second-factor
or password reset of someone else) is held back and becomes a grant request that a second
Admin decides (``services/grants.py``, the "Access requests" screen); the rest of an edit
applies at once.
"""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, request
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterNotEqual
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.views import (
    ResetPasswordView,
    RoleModelView,
    UserDBModelView,
    UserGroupModelView,
)
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import StringField
from wtforms.validators import Length, Optional

from backoffice import security
from backoffice.extensions import db
from backoffice.models.user import StaffUser
from backoffice.services import audit, grants, invitations
from backoffice.services.mailer import MailError
from backoffice.views.arguments import parse_int
from backoffice.views.base import DoomsFailedHooks, ScopedActions

log = logging.getLogger(__name__)

# The buttons of an account's page.
_SHOW_ACTIONS = ("send_link", "revoke_link")

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
        "email",
        "organisation",
        "roles",
        "grant_reason",
    ]
    edit_columns = [
        "first_name",
        "last_name",
        "username",
        "active",
        "email",
        "organisation",
        "roles",
        "grant_reason",
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
    # Shown to the Admin who decides the requests this form opens (never stored on the user).
    edit_form_extra_fields = {
        "grant_reason": StringField(
            _l("Reason, for a change that needs another Admin"),
            validators=[Optional(), Length(max=500)],
        )
    }
    # No password fields: the person chooses hers from the invitation's link.
    add_form_extra_fields = edit_form_extra_fields

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        # FAB's "Reset Password" of someone else is not offered: she gets a sign-in link.
        self.actions.pop("resetpasswords", None)

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's account page, whose one button was "Reset Password": the sign-in link
        buttons instead (a POST each, with the CSRF token)."""
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        actions = {name: self.actions[name] for name in _SHOW_ACTIONS if name in self.actions}
        widgets = self._get_show_widget(pk, item, actions=actions)
        self.update_redirect()
        return self.render_template(
            self.show_template,
            pk=pk,
            title=self.show_title,
            widgets=widgets,
            appbuilder=self.appbuilder,
            related_views=self._related_views,
        )

    def process_form(self, form, is_created: bool) -> None:
        """Before FAB writes the form on the account: remember the account as it was."""
        if not is_created:
            user = db.session.get(StaffUser, int(request.view_args["pk"]))
            g.account_before = grants.snapshot(user)
            g.account_was_active = bool(user.active)

    def pre_add(self, item) -> None:
        # A new account starts in its organisation, inactive and without password until its
        # owner follows her invitation; sensitive roles wait for approval.
        invitations.prepare_new_account(item)
        before = {
            "roles": [],
            "organisation_id": item.organisation.id if item.organisation else None,
        }
        g.held_changes = grants.hold_sensitive_changes(item, before)

    def post_add(self, item) -> None:
        requests = grants.open_requests(item, g.pop("held_changes", []), g.user, _reason(item))
        audit.record(
            "user_created",
            object_type="User",
            object_id=item.id,
            organisation_id=item.organisation_id,
            details={"after": grants.snapshot(item), "pending": [r.id for r in requests]},
        )
        _flash_pending(requests)
        _send_links([item])

    def pre_update(self, item) -> None:
        g.held_changes = grants.hold_sensitive_changes(item, g.account_before)
        if not item.active:
            self.appbuilder.sm.end_all_sessions(item)
            if g.account_was_active:  # closed now: a link must not reopen it (an account
                invitations.revoke(item)  # still awaiting its owner keeps its invitation)

    def post_update(self, item) -> None:
        requests = grants.open_requests(item, g.pop("held_changes", []), g.user, _reason(item))
        audit.record(
            "user_updated",
            object_type="User",
            object_id=item.id,
            organisation_id=item.organisation_id,
            details={
                "before": {**g.account_before, "active": g.account_was_active},
                "after": {**grants.snapshot(item), "active": bool(item.active)},
                "pending": [r.id for r in requests],
            },
        )
        _flash_pending(requests)

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

    @action(
        "send_link",
        _l("Send a sign-in link"),
        _l(
            "Send each selected person a new link by email to choose her password (an "
            "invitation, or a new password for an account already in use)?"
        ),
        "fa-envelope",
    )
    def send_link(self, items):
        _send_links(items if isinstance(items, list) else [items])
        return redirect(self.get_redirect())

    @action(
        "revoke_link",
        _l("Withdraw the sign-in link"),
        _l("Withdraw the links sent to the selected people? They will no longer work."),
        "fa-ban",
    )
    def revoke_link(self, items):
        users = items if isinstance(items, list) else [items]
        revoked = sum(invitations.revoke(user) for user in users)
        flash(
            ngettext("%(num)d link withdrawn.", "%(num)d links withdrawn.", revoked),
            "success" if revoked else "info",
        )
        return redirect(self.get_redirect())

    @action(
        "reset_second_factor",
        _l("Reset the second factor"),
        _l("Ask another Admin to approve a reset of the second factor of these accounts?"),
        "fa-mobile",
        single=False,
    )
    def reset_second_factor(self, items):
        users = items if isinstance(items, list) else [items]
        requests = [grants.request_second_factor_reset(user, g.user) for user in users]
        _flash_pending(requests)
        return redirect(self.get_redirect())


def _send_links(users) -> None:
    """A new link to each person by email; an account without email, or a closed one (the
    link would reopen it: an Admin reopens it by ticking "active"), gets none."""
    sent = failed = closed = 0
    for user in users:
        if user.email and not invitations.may_receive_link(user):
            closed += 1
            continue
        if not user.email:
            failed += 1
            continue
        invitation, token = invitations.issue(user, g.user)
        try:
            invitations.send(user, invitation, token)
        except MailError:
            log.warning("A sign-in link could not be sent (account %s).", user.id)
            invitations.revoke(user)  # a link nobody received is worth nothing
            failed += 1
        else:
            sent += 1
    if sent:
        flash(
            ngettext(
                "%(num)d sign-in link sent by email.", "%(num)d sign-in links sent by email.", sent
            ),
            "success",
        )
    if closed:
        flash(
            ngettext(
                "%(num)d account is closed: reopen it (tick “active”) before sending a link.",
                "%(num)d accounts are closed: reopen them (tick “active”) before sending a link.",
                closed,
            ),
            "warning",
        )
    if failed:
        flash(
            ngettext(
                "%(num)d link could not be sent: check the address and the mail server, then "
                "use “Send a sign-in link”.",
                "%(num)d links could not be sent: check the addresses and the mail server, "
                "then use “Send a sign-in link”.",
                failed,
            ),
            "warning",
        )


def _reason(item) -> str | None:
    return getattr(item, "grant_reason", None)


def _flash_pending(requests) -> None:
    if requests:
        message = ngettext(
            "%(num)d change awaits the approval of another Admin (Access requests).",
            "%(num)d changes await the approval of another Admin (Access requests).",
            len(requests),
        )
        flash(message, "warning")


class StaffResetPasswordView(ResetPasswordView):
    """FAB's "reset password" form: one's own password only. Admins never type someone
    else's: the person gets a link by email ("Send a sign-in link" on the user list)."""

    class_permission_name = "ResetPasswordView"
    message = _l(
        "Nobody chooses another person's password: send her a sign-in link instead (user "
        "list, “Send a sign-in link”)."
    )

    def form_post(self, form) -> None:
        user_id = parse_int(request.args.get("pk"))  # a hostile number is a 404, not a 500
        target = db.session.get(StaffUser, user_id) if user_id is not None else None
        if target is None:
            abort(404)
        if target.id == g.user.id:
            self.appbuilder.sm.reset_password(target.id, form.password.data)
            flash(str(_l("Password changed.")), "info")
            return
        flash(str(self.message), "warning")


class RoleView(ScopedActions, RoleModelView):
    """FAB's role list (read by Admins), with its action routes made safe, in words: each
    role's permissions grouped by area (views/role_labels.py, the filters
    ``permission_areas`` and ``permission_summary`` of its templates), not "can show on
    CaseView"."""

    class_permission_name = "RoleModelView"
    list_title = _l("Roles")
    show_title = _l("Role")
    label_columns = {"name": _l("Role"), "permissions": _l("What the role may do")}
    # Searching by permission would list every "can … on …" pair: by name only.
    search_columns = ["name"]


class GroupView(ScopedActions, UserGroupModelView):
    """FAB's group list (used by nobody), with its action routes made safe."""

    class_permission_name = "UserGroupModelView"
