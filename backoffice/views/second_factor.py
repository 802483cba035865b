"""Signing in: password, growing delays, the second factor (enrolment when mandatory), and
the page where a signed-in user manages their second factor.

The password step never signs anyone in by itself when a second factor applies: the cookie
then holds only the pending user's id (no secret), for ``PENDING_SECONDS``. "login" is
audited by ``sign_in``, after the last step.
"""

from __future__ import annotations

import time

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, no_cache
from flask_appbuilder.security.forms import LoginForm_db
from flask_appbuilder.security.views import AuthDBView
from flask_appbuilder.utils.base import get_safe_redirect
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from backoffice import transactions
from backoffice.security import ROLES
from backoffice.services import login_delay, second_factor

# How long the password step holds: for the code, and for a first enrolment (installing an
# authenticator app takes longer).
PENDING_SECONDS = {"second_step": 300, "enrol": 900}


class CodeForm(FlaskForm):
    # Six digits, or a recovery code (XXXX-XXXX-XXXX-XXXX).
    code = StringField(_l("Code"), validators=[DataRequired(), Length(min=6, max=24)])
    action = HiddenField()


def _flash_wait(seconds: int) -> None:
    flash(
        ngettext(
            "Too many failed attempts: wait %(num)d second before trying again.",
            "Too many failed attempts: wait %(num)d seconds before trying again.",
            seconds,
        ),
        "warning",
    )


def _flash_recovery_codes_left(left: int) -> None:
    flash(
        ngettext(
            "You signed in with a recovery code: %(num)d is left. Make new ones from your "
            "second factor page.",
            "You signed in with a recovery code: %(num)d are left. Make new ones from your "
            "second factor page.",
            left,
        ),
        "warning",
    )


def _wrong_code(user, login_name: str) -> None:
    """A wrong code counts like a wrong password (same delay, same notice next time)."""
    login_delay.record_failure(login_name, request.remote_addr)
    user.fail_login_count = (user.fail_login_count or 0) + 1
    transactions.keep_on_failure()
    flash(_("This code is not valid. Try the current one."), "warning")


def hold_sign_in(user, name: str, next_url: str | None, step: str):
    """The password was right (or was just chosen, views/invitations.py): hold the sign-in
    until the next step ("second_step" or "enrol") is done."""
    session.clear()
    session.update(
        second_factor_user=user.id,
        second_factor_since=int(time.time()),
        second_factor_step=step,
        second_factor_next=next_url,
        login_name=name,
    )
    return redirect(url_for(f"TwoStepAuthDBView.{step}"))


class TwoStepAuthDBView(AuthDBView):
    """FAB's password login, then the code (or the enrolment, when mandatory)."""

    @expose("/login/", methods=["GET", "POST"])
    @no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm_db()
        if not form.validate_on_submit():
            return self.render_template(
                self.login_template, title=self.title, form=form, appbuilder=self.appbuilder
            )
        next_url = get_safe_redirect(request.args.get("next", ""))
        name, address = form.username.data, request.remote_addr
        wait = login_delay.seconds_to_wait(name, address)
        if wait:
            _flash_wait(wait)
            return redirect(self.appbuilder.get_url_for_login_with(next_url))
        user = self.appbuilder.sm.auth_user_db(name, form.password.data)
        if not user:
            login_delay.record_failure(name, address)
            flash(str(self.invalid_login_message), "warning")
            return redirect(self.appbuilder.get_url_for_login_with(next_url))
        if second_factor.is_enabled(user):
            return self._hold(user, name, next_url, "second_step")
        if second_factor.required_for(user):
            second_factor.pending_secret(user)  # made now (a POST), shown by the next page
            return self._hold(user, name, next_url, "enrol")
        return self._finish(user, name, next_url)

    def _hold(self, user, name: str, next_url: str, step: str):
        return hold_sign_in(user, name, next_url, step)

    def _pending(self):
        """The user whose password was accepted in this browser a moment ago, or None."""
        user_id = session.get("second_factor_user")
        since = session.get("second_factor_since", 0)
        limit = PENDING_SECONDS.get(session.get("second_factor_step"), 0)
        if user_id is None or time.time() - since > limit:
            return None
        user = self.appbuilder.sm.get_user_by_id(user_id)
        return user if user is not None and user.is_active else None

    def _finish(self, user, name: str, next_url: str | None):
        failures = self.appbuilder.sm.sign_in(user)
        login_delay.clear(name, request.remote_addr)
        if failures:
            flash(
                ngettext(
                    "%(num)d failed sign-in attempt since your last login.",
                    "%(num)d failed sign-in attempts since your last login.",
                    failures,
                ),
                "warning",
            )
        return redirect(next_url or self.appbuilder.get_url_for_index)

    @expose("/logout/", methods=["POST"])
    def logout(self):
        """A POST with the CSRF token (the global CSRF protection checks it): a link from
        another site cannot sign anyone out. Ends this browser's session only."""
        return super().logout()

    @expose("/login/code", methods=["GET", "POST"])
    @no_cache
    def second_step(self):
        user = self._pending()
        if user is None:
            session.clear()
            return redirect(self.appbuilder.get_url_for_login)
        if not second_factor.is_enabled(user):
            return redirect(url_for(f"{type(self).__name__}.enrol"))
        form = CodeForm()
        name = session.get("login_name", user.username)
        if form.validate_on_submit():
            wait = login_delay.seconds_to_wait(name, request.remote_addr)
            if wait:
                _flash_wait(wait)
            elif method := second_factor.verify_login(user, form.code.data):
                answer = self._finish(user, name, session.get("second_factor_next"))
                if method == "recovery":  # after the sign-in, whose new session keeps it
                    _flash_recovery_codes_left(second_factor.recovery_codes_left(user))
                return answer
            else:
                _wrong_code(user, name)
        return self.render_template(
            "backoffice/second_factor_login.html", form=form, appbuilder=self.appbuilder
        )

    @expose("/login/enrol", methods=["GET", "POST"])
    @no_cache
    def enrol(self):
        """Mandatory enrolment: nothing else is reachable until it is done."""
        user = self._pending()
        if user is None or not second_factor.has_pending(user):
            if user is not None and second_factor.is_enabled(user):
                return redirect(url_for(f"{type(self).__name__}.second_step"))
            session.clear()
            return redirect(self.appbuilder.get_url_for_login)
        form = CodeForm()
        name = session.get("login_name", user.username)
        if form.validate_on_submit():
            wait = login_delay.seconds_to_wait(name, request.remote_addr)
            codes = None if wait else second_factor.confirm_enrolment(user, form.code.data)
            if wait:
                _flash_wait(wait)
            elif codes is None:
                _wrong_code(user, name)
            else:
                next_url = session.get("second_factor_next") or self.appbuilder.get_url_for_index
                self._finish(user, name, next_url)
                return self.render_template(
                    "backoffice/recovery_codes.html", codes=codes, next_url=next_url
                )
        secret = second_factor.pending_secret(user)
        uri = second_factor.provisioning_uri(user, secret)
        return self.render_template(
            "backoffice/second_factor_enrol.html",
            form=form,
            required=second_factor.required_for(user),
            secret=secret,
            uri=uri,
            qr=second_factor.qr_svg(uri),
            appbuilder=self.appbuilder,
        )


class SecondFactorView(BaseView):
    route_base = "/account/second-factor"
    default_view = "settings"
    base_permissions = ["can_settings"]
    method_permission_name = {"settings": "settings", "start": "settings"}
    # Every staff role, whichever roles exist: it is one's own account.
    access = {role: ("can_settings",) for role in ROLES}
    class_permission_name = "SecondFactorView"

    @expose("/", methods=["GET", "POST"])
    @has_access
    def settings(self):
        user = g.user
        form = CodeForm()
        if form.validate_on_submit():
            answer = self._act(user, form)
            if answer is not None:
                return answer
        enabled = second_factor.is_enabled(user)
        secret = uri = None
        if not enabled and second_factor.has_pending(user):
            secret = second_factor.pending_secret(user)
            uri = second_factor.provisioning_uri(user, secret)
        return self.render_template(
            "backoffice/second_factor.html",
            form=form,
            enabled=enabled,
            required=second_factor.required_for(user),
            codes_left=second_factor.recovery_codes_left(user) if enabled else 0,
            secret=secret,
            uri=uri,
            qr=second_factor.qr_svg(uri) if uri else None,
        )

    @expose("/start", methods=["POST"])
    @has_access
    def start(self):
        """Begin an enrolment: the secret is made and kept on the server."""
        if not second_factor.is_enabled(g.user):
            second_factor.pending_secret(g.user)
        return redirect(url_for("SecondFactorView.settings"))

    def _act(self, user, form: CodeForm):
        wait = login_delay.seconds_to_wait(user.username, request.remote_addr)
        if wait:
            _flash_wait(wait)
            return None
        code, action = form.code.data, form.action.data
        if action == "confirm":
            codes = second_factor.confirm_enrolment(user, code)
        elif action == "regenerate":
            codes = second_factor.regenerate_recovery_codes(user, code)
        elif action == "disable":
            codes = [] if second_factor.disable(user, code) else None
        else:
            return None
        if codes is None:
            _wrong_code(user, user.username)
            return None
        if not codes:
            flash(_("Your second factor settings were saved."), "success")
            return redirect(url_for("SecondFactorView.settings"))
        return self.render_template(
            "backoffice/recovery_codes.html",
            codes=codes,
            next_url=url_for("SecondFactorView.settings"),
        )
