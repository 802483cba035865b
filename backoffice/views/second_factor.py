"""The login page with an optional second step, and the page to turn TOTP on or off."""

from __future__ import annotations

import time

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from backoffice import transactions
from backoffice.security import (
    ROLES,
)
from backoffice.services import second_factor

PENDING_SECONDS = 300


class CodeForm(FlaskForm):
    code = StringField(_l("Six-digit code"), validators=[DataRequired(), Length(min=6, max=7)])


class TwoStepAuthDBView(AuthDBView):
    """FAB's password login, then the code when the account has a second factor."""

    @expose("/login/", methods=["GET", "POST"])
    def login(self):
        response = super().login()
        user = g.user if getattr(g.user, "is_authenticated", False) else None
        if request.method == "POST" and user is not None and second_factor.is_enabled(user):
            # The password was right: hold the login until the code is given.
            session.clear()
            session["second_factor_user"] = user.id
            session["second_factor_since"] = int(time.time())
            session["second_factor_next"] = get_safe_redirect(request.args.get("next", ""))
            return redirect(url_for(f"{type(self).__name__}.second_step"))
        return response

    @expose("/logout/", methods=["POST"])
    def logout(self):
        """A POST with the CSRF token (the global CSRF protection checks it): a link from
        another site cannot sign anyone out."""
        return super().logout()

    @expose("/login/code", methods=["GET", "POST"])
    def second_step(self):
        user_id = session.get("second_factor_user")
        since = session.get("second_factor_since", 0)
        if user_id is None or time.time() - since > PENDING_SECONDS:
            session.clear()
            return redirect(self.appbuilder.get_url_for_login)
        form = CodeForm()
        if form.validate_on_submit():
            user = self.appbuilder.sm.get_user_by_id(user_id)
            ok = user is not None and second_factor.verify_login(user, form.code.data)
            if ok:
                next_url = session.get("second_factor_next") or self.appbuilder.get_url_for_index
                session.clear()
                session["started_at"] = int(time.time())
                session.permanent = True
                login_user(user, remember=False)
                return redirect(next_url)
            transactions.keep_on_failure()  # the refused code stays in the audit trail
            flash(_("This code is not valid. Try the current one."), "warning")
        return self.render_template(
            "backoffice/second_factor_login.html", form=form, appbuilder=self.appbuilder
        )


class SecondFactorView(BaseView):
    route_base = "/account/second-factor"
    default_view = "settings"
    base_permissions = ["can_settings"]
    access = {
        role: ("can_settings",)
        for role in ROLES  # every staff role
    }
    class_permission_name = "SecondFactorView"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def settings(self):
        user = g.user
        form = CodeForm()
        enabled = second_factor.is_enabled(user)
        if not enabled and "pending_totp_secret" not in session:
            session["pending_totp_secret"] = second_factor.new_secret()
        if form.validate_on_submit():
            if enabled:
                changed = second_factor.disable(user, form.code.data)
            else:
                changed = second_factor.enable(user, session["pending_totp_secret"], form.code.data)
            if changed:
                session.pop("pending_totp_secret", None)
                flash(_("Your second factor settings were saved."), "success")
                return redirect(url_for("SecondFactorView.settings"))
            flash(_("This code is not valid. Try the current one."), "warning")
        secret = None if enabled else session.get("pending_totp_secret")
        return self.render_template(
            "backoffice/second_factor.html",
            form=form,
            enabled=enabled,
            secret=secret,
            uri=second_factor.provisioning_uri(user, secret) if secret else None,
        )
