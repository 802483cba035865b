"""Four-eyes grants: no single account opens confidential data to anyone, itself included.

A grant or removal of a role of ``sensitive_roles()`` (those of ``FOUR_EYES_ROLES`` and the
roles that approve grants), a change of organisation, a reset of someone's second factor
and a password reset of another user do not take effect when an Admin makes them: they
become a pending ``GrantRequest``. Another Admin (one holding ``approve_grants``, neither
the requester nor the person concerned) approves it, which applies the change, or refuses
it. Every step is audited with the state before and after.

The user screens and the ``flask users`` commands call ``hold_sensitive_changes`` on the
account they are about to save (which puts the sensitive part back as it was and returns
it) and then ``open_requests`` once the account exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from backoffice import security
from backoffice.extensions import db
from backoffice.models import grant as kinds
from backoffice.models.base import utcnow
from backoffice.models.grant import GrantRequest
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser, new_session_token
from backoffice.services import audit, second_factor


class GrantRefused(Exception):
    """A request cannot be decided, or a change cannot be requested, by this person."""

    def __init__(self, code: str, message: object) -> None:
        super().__init__(code)
        self.code = code  # for the audit trail, the same in every language
        self.message = message


@dataclass(frozen=True)
class HeldChange:
    kind: str
    before: dict
    after: dict


def sensitive_roles() -> set[str]:
    """Roles whose grant or removal needs a second Admin."""
    configured = set(current_app.config.get("FOUR_EYES_ROLES") or ())
    return configured | security.roles_with("approve_grants")


def snapshot(user: StaffUser) -> dict:
    """What the audit trail and the requests record of an account: roles and organisation."""
    organisation = _organisation(user)
    return {
        "roles": sorted(role.name for role in user.roles),
        "organisation_id": organisation.id if organisation else None,
        "organisation": organisation.name if organisation else None,
    }


def _organisation(user: StaffUser) -> Organisation | None:
    if user.organisation is not None:
        return user.organisation
    if user.organisation_id is not None:
        return db.session.get(Organisation, user.organisation_id)
    return None


def hold_sensitive_changes(user: StaffUser, before: dict) -> list[HeldChange]:
    """Put back the sensitive part of the changes made on ``user`` since ``before`` (a
    ``snapshot``), and return it; the other changes stay and apply at once."""
    with db.session.no_autoflush:
        held = [*_hold_roles(user, before), *_hold_organisation(user, before)]
    return held


def _hold_roles(user: StaffUser, before: dict) -> list[HeldChange]:
    sensitive = sensitive_roles()
    was = set(before["roles"]) & sensitive
    wanted = {role.name for role in user.roles} & sensitive
    if was == wanted:
        return []
    user.roles = [role for role in user.roles if role.name not in sensitive] + _roles(was)
    return [HeldChange(kinds.ROLES, {"roles": sorted(was)}, {"roles": sorted(wanted)})]


def _hold_organisation(user: StaffUser, before: dict) -> list[HeldChange]:
    organisation = _organisation(user)
    wanted = organisation.id if organisation else None
    if wanted == before["organisation_id"]:
        return []
    previous = before["organisation_id"]
    user.organisation = db.session.get(Organisation, previous) if previous else None
    user.organisation_id = previous
    return [
        HeldChange(
            kinds.ORGANISATION,
            _organisation_state(previous),
            _organisation_state(wanted),
        )
    ]


def _organisation_state(organisation_id: int | None) -> dict:
    organisation = db.session.get(Organisation, organisation_id) if organisation_id else None
    return {
        "organisation_id": organisation_id,
        "organisation": organisation.name if organisation else None,
    }


def _roles(names) -> list:
    sm = current_app.appbuilder.sm
    return [sm.find_role(name) for name in sorted(names) if sm.find_role(name) is not None]


def open_requests(
    target: StaffUser, held: list[HeldChange], requester: StaffUser, reason: str | None = None
) -> list[GrantRequest]:
    """Record the held changes as pending requests (the caller's transaction commits)."""
    return [
        request_change(target, change.kind, change.before, change.after, requester, reason)
        for change in held
    ]


def request_change(
    target: StaffUser,
    kind: str,
    before: dict,
    after: dict,
    requester: StaffUser,
    reason: str | None = None,
    *,
    password_hash: str | None = None,
) -> GrantRequest:
    if requester is None or getattr(requester, "id", None) is None:
        raise GrantRefused("no_requester", _l("A grant request needs a named requester."))
    grant = GrantRequest(
        requester_id=requester.id,
        target_id=target.id,
        kind=kind,
        before=before,
        after=after,
        state=kinds.PENDING,
        reason=(reason or "").strip()[:500] or None,
        password_hash=password_hash,
    )
    db.session.add(grant)
    db.session.flush()
    audit.record(
        "grant_requested",
        grant,
        actor=requester,
        details={"kind": kind, "target": target.id, "before": before, "after": after},
    )
    return grant


def request_second_factor_reset(
    target: StaffUser, requester: StaffUser, reason: str | None = None
) -> GrantRequest:
    enabled = bool(target.totp_secret)
    return request_change(
        target,
        kinds.SECOND_FACTOR_RESET,
        {"second_factor": enabled},
        {"second_factor": False},
        requester,
        reason,
    )


def request_password_reset(
    target: StaffUser, password: str, requester: StaffUser, reason: str | None = None
) -> GrantRequest:
    """The new password is kept only as its hash until a second Admin decides."""
    return request_change(
        target,
        kinds.PASSWORD_RESET,
        {},
        {},
        requester,
        reason,
        password_hash=generate_password_hash(password),
    )


def pending() -> list[GrantRequest]:
    return list(
        db.session.scalars(
            select(GrantRequest)
            .where(GrantRequest.state == kinds.PENDING)
            .order_by(GrantRequest.created_at, GrantRequest.id)
        )
    )


def recent_decisions(limit: int = 50) -> list[GrantRequest]:
    return list(
        db.session.scalars(
            select(GrantRequest)
            .where(GrantRequest.state != kinds.PENDING)
            .order_by(GrantRequest.decided_at.desc(), GrantRequest.id.desc())
            .limit(limit)
        )
    )


def check_decider(grant: GrantRequest, decider: StaffUser, *, approving: bool) -> None:
    """Raise ``GrantRefused`` unless ``decider`` may decide ``grant`` this way."""
    if grant.state != kinds.PENDING:
        raise GrantRefused("already_decided", _l("This request was already decided."))
    if not security.can("approve_grants", decider):
        raise GrantRefused("not_an_approver", _l("Only an Admin may decide access requests."))
    if decider.id == grant.target_id:
        raise GrantRefused("own_account", _l("Nobody decides a request about their own account."))
    if approving and decider.id == grant.requester_id:
        raise GrantRefused(
            "own_request", _l("Nobody approves their own request: another Admin must.")
        )


def approve(grant: GrantRequest, approver: StaffUser, reason: str | None = None) -> None:
    """Apply the change and close the request; ``GrantRefused`` changes nothing."""
    check_decider(grant, approver, approving=True)
    _APPLY[grant.kind](grant)
    _close(grant, approver, kinds.APPROVED, reason)


def refuse(grant: GrantRequest, decider: StaffUser, reason: str | None = None) -> None:
    check_decider(grant, decider, approving=False)
    _close(grant, decider, kinds.REFUSED, reason)


def record_refused_decision(grant: GrantRequest, decider: StaffUser, error: GrantRefused) -> None:
    """An attempt the rules refused (a self-approval…) stays in the audit trail."""
    audit.record(
        "grant_decision_refused",
        grant,
        actor=decider,
        outcome="denied",
        details={"kind": grant.kind, "target": grant.target_id, "reason": error.code},
    )


def _close(grant: GrantRequest, decider: StaffUser, state: str, reason: str | None) -> None:
    grant.state = state
    grant.decided_by_id = decider.id
    grant.decided_at = utcnow()
    grant.password_hash = None  # never kept beyond the decision
    if reason and reason.strip():
        grant.reason = "\n".join(filter(None, [grant.reason, reason.strip()]))[:500]
    db.session.flush()
    audit.record(
        f"grant_{state}",
        grant,
        actor=decider,
        details={
            "kind": grant.kind,
            "target": grant.target_id,
            "requester": grant.requester_id,
            "before": grant.before,
            "after": grant.after,
        },
    )


def _target(grant: GrantRequest) -> StaffUser:
    return db.session.get(StaffUser, grant.target_id)


def _stale() -> GrantRefused:
    return GrantRefused(
        "stale", _l("The account changed since this request: refuse it and ask again.")
    )


def _apply_roles(grant: GrantRequest) -> None:
    user = _target(grant)
    before = snapshot(user)
    sensitive = sensitive_roles()
    if set(before["roles"]) & sensitive != set(grant.before["roles"]):
        raise _stale()
    kept = [role for role in user.roles if role.name not in sensitive]
    user.roles = kept + _roles(grant.after["roles"])
    _audit_account_change(user, before)


def _apply_organisation(grant: GrantRequest) -> None:
    user = _target(grant)
    before = snapshot(user)
    if before["organisation_id"] != grant.before["organisation_id"]:
        raise _stale()
    user.organisation_id = grant.after["organisation_id"]
    user.organisation = (
        db.session.get(Organisation, user.organisation_id) if user.organisation_id else None
    )
    user.session_token = new_session_token()  # what they saw belonged to the old association
    _audit_account_change(user, before)


def _apply_second_factor_reset(grant: GrantRequest) -> None:
    user = _target(grant)
    second_factor.reset(user)
    user.session_token = new_session_token()


def _apply_password_reset(grant: GrantRequest) -> None:
    if not grant.password_hash:
        raise _stale()
    user = _target(grant)
    user.password = grant.password_hash
    user.session_token = new_session_token()
    audit.record("password_changed", user, object_type="User", details={"by": "grant"})


def _audit_account_change(user: StaffUser, before: dict) -> None:
    db.session.flush()
    audit.record(
        "user_updated",
        user,
        object_type="User",
        organisation_id=user.organisation_id,
        details={"before": before, "after": snapshot(user), "by": "grant"},
    )


_APPLY = {
    kinds.ROLES: _apply_roles,
    kinds.ORGANISATION: _apply_organisation,
    kinds.SECOND_FACTOR_RESET: _apply_second_factor_reset,
    kinds.PASSWORD_RESET: _apply_password_reset,
}
