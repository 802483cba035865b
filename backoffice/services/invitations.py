"""Staff accounts by invitation: nobody types someone else's password.

* An Admin creates the account (names, email, roles, association: the stock user form,
  without password); it starts inactive, with no usable password, and sensitive roles wait
  for a second Admin as for any account (``services/grants.py``).
* ``issue`` makes a single-use link valid ``INVITATION_HOURS`` (72 by default) and answers
  its token, which only the email carries: the database keeps its SHA-256, the audit trail
  and the logs never see it. A new link replaces any open one of the account.
* Following the link, the person sets her own password (the rules of
  ``services/passwords.py``); ``accept`` activates the account and spends the link. Her
  second factor is enrolled next, on the sign-in's enrolment page (views/invitations.py).
* A locked-out person gets the same kind of link (``reset``): it sets a new password only
  (her second factor stays; resetting it is a grant request).
* A used, expired, replaced or revoked link changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from urllib.parse import urlencode

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.sign_in import StaffInvitation
from backoffice.models.user import StaffUser, new_session_token
from backoffice.services import audit, mailer
from backoffice.services.passwords import password_problem

INVITATION = "invitation"
RESET = "reset"
PURPOSES = (INVITATION, RESET)
# A stored password no hash ever matches (Werkzeug refuses a hash without "$"): an invited
# account cannot be signed in to before its owner chose her password.
UNUSABLE_PASSWORD = "!invited"  # noqa: S105 - a marker, not a password
_TOKEN_BYTES = 32
_MAX_TOKEN = 100

# Why a link does not open (the page says it in the reader's language).
UNKNOWN, USED, EXPIRED, REVOKED = "unknown", "used", "expired", "revoked"


class InvitationRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode("utf-8", "ignore")).hexdigest()


def hours_valid() -> int:
    return int(current_app.config.get("INVITATION_HOURS") or 72)


def purpose_for(user: StaffUser) -> str:
    """A link to an account never signed in to (no password yet) is an invitation, otherwise
    a reset."""
    return INVITATION if user.password == UNUSABLE_PASSWORD else RESET


def may_receive_link(user: StaffUser) -> bool:
    """An account in use, or one still awaiting its owner; never one that was closed (a link
    would reopen it)."""
    return bool(user.email) and (user.active or user.password == UNUSABLE_PASSWORD)


def prepare_new_account(user: StaffUser) -> None:
    """A new account waits, inactive and without password, for its owner to follow her link."""
    user.active = False
    user.password = UNUSABLE_PASSWORD


def issue(user: StaffUser, inviter: StaffUser | None) -> tuple[StaffInvitation, str]:
    """A new link for ``user`` (replacing any open one); answers it and its token."""
    now = utcnow()
    _revoke_open(user, now)
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    invitation = StaffInvitation(
        user_id=user.id,
        purpose=purpose_for(user),
        token_hash=token_hash(token),
        created_by_id=getattr(inviter, "id", None),
        created_at=now,
        expires_at=now + dt.timedelta(hours=hours_valid()),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "invitation_sent",
        object_type="User",
        object_id=user.id,
        organisation_id=user.organisation_id,
        details={"invitation": invitation.id, "purpose": invitation.purpose},
    )
    return invitation, token


def link_for(token: str) -> str:
    """The address the email gives: on ``PUBLIC_BASE_URL`` (never the request's Host header,
    which a client chooses), the token in the query string (left out of access logs)."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return f"{base}/invitation/?{urlencode({'token': token})}"


def send(user: StaffUser, invitation: StaffInvitation, token: str) -> None:
    """The email with the link, in the default language of the staff interface. Raises
    ``mailer.MailError`` (whose message names neither the recipient nor the link)."""
    link = link_for(token)
    locale = str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "fr")
    with force_locale(locale):
        hours = hours_valid()
        if invitation.purpose == INVITATION:
            subject = _("Your account on the Jasmine back office")
            opening = _(
                "An account was created for you on the Jasmine back office. Follow this "
                "link to choose your password and set up your second factor (an "
                "authenticator app on your phone):"
            )
        else:
            subject = _("Choose a new password for the Jasmine back office")
            opening = _(
                "An administrator sent you this link to choose a new password for the "
                "Jasmine back office:"
            )
        validity = ngettext(
            "The link works once, for %(num)d hour. If you did not expect this message, "
            "ignore it and tell your association.",
            "The link works once, for %(num)d hours. If you did not expect this message, "
            "ignore it and tell your association.",
            hours,
        )
        greeting = _("Hello %(name)s,", name=user.first_name)
        body = f"{greeting}\n\n{opening}\n\n{link}\n\n{validity}\n"
    mailer.send_email(user.email, subject, body)


def find(token: str) -> tuple[StaffInvitation | None, str | None]:
    """The invitation of this token if it still opens, else (None or it, why not)."""
    if not token or len(token) > _MAX_TOKEN:
        return None, UNKNOWN
    invitation = db.session.scalar(
        select(StaffInvitation).where(StaffInvitation.token_hash == token_hash(token))
    )
    return invitation, problem_of(invitation)


def _owner(invitation: StaffInvitation) -> StaffUser:
    return db.session.get(StaffUser, invitation.user_id)


def problem_of(invitation: StaffInvitation | None) -> str | None:
    if invitation is None:
        return UNKNOWN
    if invitation.used_at is not None:
        return USED
    if invitation.revoked_at is not None or not may_receive_link(_owner(invitation)):
        return REVOKED  # withdrawn, or its account closed since it was sent
    if invitation.expires_at <= utcnow():
        return EXPIRED
    return None


def accept(invitation: StaffInvitation, password: str, confirmation: str) -> StaffUser:
    """Set the person's own password, activate her account and spend the link.
    ``InvitationRefused`` (with the reason, in the reader's language) changes nothing."""
    if problem_of(invitation) is not None:
        raise InvitationRefused(_("This link no longer works."))
    user = _owner(invitation)
    if password != confirmation:
        raise InvitationRefused(_("The two passwords are not the same."))
    words = [user.username, user.first_name, user.last_name, user.email]
    problem = password_problem(password or "", words)
    if problem:
        raise InvitationRefused(problem)
    invitation.used_at = utcnow()
    user.password = generate_password_hash(
        password,
        method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )
    user.active = True
    user.fail_login_count = 0
    user.session_token = new_session_token()  # any session opened before ends here
    db.session.flush()
    audit.record(
        "invitation_accepted",
        object_type="User",
        object_id=user.id,
        organisation_id=user.organisation_id,
        actor=user,
        details={"invitation": invitation.id, "purpose": invitation.purpose},
    )
    return user


def open_invitation(user: StaffUser) -> StaffInvitation | None:
    return db.session.scalar(
        select(StaffInvitation)
        .where(
            StaffInvitation.user_id == user.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
            StaffInvitation.expires_at > utcnow(),
        )
        .order_by(StaffInvitation.id.desc())
        .limit(1)
    )


def revoke(user: StaffUser) -> bool:
    """Stop the account's open links; answers whether there was one."""
    revoked = _revoke_open(user, utcnow())
    if revoked:
        audit.record(
            "invitation_revoked",
            object_type="User",
            object_id=user.id,
            organisation_id=user.organisation_id,
            details={"invitations": revoked},
        )
    return bool(revoked)


def _revoke_open(user: StaffUser, now: dt.datetime) -> list[int]:
    rows = db.session.scalars(
        select(StaffInvitation).where(
            StaffInvitation.user_id == user.id,
            StaffInvitation.used_at.is_(None),
            StaffInvitation.revoked_at.is_(None),
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    db.session.flush()
    return [row.id for row in rows]
