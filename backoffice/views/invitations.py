"""The page an invitation's link opens (no sign-in): choose one's password, then the second
factor on the sign-in's enrolment page (services/invitations.py says the rules).

The link carries its token in the query string, which the access logs leave out
(deploy/gunicorn.conf.py, nginx): the first GET checks it, keeps only the invitation's id in
the signed session cookie and redirects to the same page without it, so the token is
neither in the address bar nor in a Referer afterwards. Every request here is rate limited
like the login form (``AUTH_RATE_LIMIT``).
"""

from __future__ import annotations

from flask import redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import no_cache
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.sign_in import StaffInvitation
from backoffice.models.user import StaffUser
from backoffice.services import invitations, second_factor
from backoffice.services.passwords import MAX_LENGTH
from backoffice.views.second_factor import hold_sign_in

_SESSION_KEY = "invitation"


class ChoosePasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    conf_password = PasswordField(
        _l("Confirm password"), validators=[DataRequired(), Length(max=MAX_LENGTH)]
    )


def _refusal_message(problem: str | None) -> str:
    if problem == invitations.USED:
        return _("This link was already used. Sign in with the password you chose.")
    if problem == invitations.EXPIRED:
        return _("This link has expired. Ask your association's administrator for a new one.")
    if problem == invitations.REVOKED:
        return _(
            "This link was replaced or withdrawn. Use the latest one you received, or ask "
            "your association's administrator."
        )
    return _("This link is not valid. Check that you copied it whole, or ask for a new one.")


class InvitationView(BaseView):
    """Public: the link is the credential."""

    route_base = "/invitation"
    default_view = "choose_password"
    base_permissions: list[str] = []
    access: dict = {}

    @expose("/", methods=["GET", "POST"])
    @no_cache
    def choose_password(self):
        token = request.args.get("token")
        if token is not None:
            invitation, problem = invitations.find(token)
            session.pop(_SESSION_KEY, None)
            if problem is not None:
                return self._refused(problem)
            session[_SESSION_KEY] = invitation.id
            return redirect(url_for("InvitationView.choose_password"))
        invitation = self._held()
        problem = invitations.problem_of(invitation)
        if problem is not None:
            session.pop(_SESSION_KEY, None)
            return self._refused(problem)
        form = ChoosePasswordForm()
        error = None
        if form.validate_on_submit():
            try:
                user = invitations.accept(invitation, form.password.data, form.conf_password.data)
            except invitations.InvitationRefused as refused:
                error = refused.message
                transactions.undo()
            else:
                return self._next_step(user)
        elif request.method == "POST":
            error = _("Type your new password twice.")
        user = db.session.get(StaffUser, invitation.user_id)
        return self.render_template(
            "backoffice/invitation.html",
            form=form,
            error=error,
            purpose=invitation.purpose,
            first_name=user.first_name if user else "",
            appbuilder=self.appbuilder,
        ), (400 if error else 200)

    def _held(self) -> StaffInvitation | None:
        invitation_id = session.get(_SESSION_KEY)
        if not isinstance(invitation_id, int):
            return None
        return db.session.get(StaffInvitation, invitation_id)

    def _refused(self, problem: str):
        status = 404 if problem == invitations.UNKNOWN else 410
        page = self.render_template(
            "backoffice/invitation.html",
            form=None,
            error=_refusal_message(problem),
            purpose=None,
            first_name="",
            appbuilder=self.appbuilder,
        )
        return page, status

    def _next_step(self, user):
        """The password is set: the second factor next (enrolment, or the code of the
        factor she has already), then she is signed in."""
        session.pop(_SESSION_KEY, None)
        next_url = self.appbuilder.get_url_for_index
        if second_factor.is_enabled(user):
            return hold_sign_in(user, user.username, next_url, "second_step")
        second_factor.pending_secret(user)
        return hold_sign_in(user, user.username, next_url, "enrol")


def register(appbuilder) -> None:
    view = appbuilder.add_view_no_menu(InvitationView)
    sm = appbuilder.sm
    if sm.is_auth_limited:  # the login form's limit, on every request of the link's page
        sm.limiter.limit(sm.auth_rate_limit)(view.blueprint)
