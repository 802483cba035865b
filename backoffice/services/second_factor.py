"""The TOTP second factor (RFC 6238, through pyotp), mandatory for some roles.

* Mandatory for the roles of ``SECOND_FACTOR_REQUIRED_ROLES`` (those that read confidential
  data): such a user is sent to enrolment after the password and is not signed in until
  enrolled (views/second_factor.py). Other users may turn it on.
* The shared secret is confidential: sealed with a root-derived key bound to the user's
  row, never stored or logged in clear. The secret being enrolled is kept the same way in
  ``totp_pending_secret``, on the server, never in the cookie.
* A code is accepted once: the last accepted time step is remembered per user, and only a
  later step is accepted (one step of clock drift either way).
* Ten recovery codes, shown once when made, stored as SHA-256 hashes (80 random bits each:
  a fast hash is enough), each usable once, regenerable with a valid code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from flask import current_app
from sqlalchemy import delete, func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.sign_in import RecoveryCode
from backoffice.services import audit
from backoffice.services.confidential import keyring
from backoffice.services.crypto import associated_data

ISSUER = "Jasmine back office"
RECOVERY_CODES = 10
_DRIFT_STEPS = 1


def _aad(user, column: str = "totp_secret") -> bytes:
    return associated_data("ab_user", column, str(user.id), None)


def required_for(user) -> bool:
    """Whether the user's roles make the second factor mandatory (the setting's roles)."""
    required = set(current_app.config.get("SECOND_FACTOR_REQUIRED_ROLES") or ())
    return bool(required & {role.name for role in user.roles})


def secret_aad(user, column: str = "totp_secret") -> bytes:
    """The binding of a sealed secret of the account (for key rotation's re-sealing)."""
    return _aad(user, column)


def is_enabled(user) -> bool:
    return bool(getattr(user, "totp_secret", None))


def _secret_of(user) -> str:
    return keyring().open(user.totp_secret, _aad(user))


# -- enrolment ------------------------------------------------------------------------------
def pending_secret(user) -> str:
    """The secret being enrolled, made and kept (sealed) on the server the first time."""
    if user.totp_pending_secret:
        return keyring().open(user.totp_pending_secret, _aad(user, "totp_pending_secret"))
    secret = pyotp.random_base32()
    user.totp_pending_secret = keyring().seal(secret, _aad(user, "totp_pending_secret"))
    return secret


def has_pending(user) -> bool:
    return bool(user.totp_pending_secret)


def provisioning_uri(user, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, drawn here (no third-party service)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")


def confirm_enrolment(user, code: str) -> list[str] | None:
    """Turn the factor on once the app proved it has the pending secret; answers the
    recovery codes to show once, or None when the code is wrong."""
    if not user.totp_pending_secret:
        return None
    secret = pending_secret(user)
    step = _matching_step(secret, code, None)
    if step is None:
        return None
    user.totp_secret = keyring().seal(secret, _aad(user))
    user.totp_pending_secret = None
    user.totp_last_step = step
    audit.record("second_factor_enabled", object_type="User", object_id=user.id, actor=user)
    return _new_recovery_codes(user)


def disable(user, code: str) -> bool:
    """Turn an optional factor off (with a valid code); a mandatory one stays."""
    if required_for(user) or not is_enabled(user) or not _accept_totp(user, code):
        return False
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("second_factor_disabled", object_type="User", object_id=user.id)
    return True


def reset(user) -> None:
    """Forget the user's factor and recovery codes (a lost phone): a user whose role needs
    one enrols again at the next sign-in. Who may ask and who approves is the caller's rule
    (an Admin's request, a second Admin's approval)."""
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record("second_factor_reset", object_type="User", object_id=user.id)


# -- codes ------------------------------------------------------------------------------------
def _normalise(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").upper()


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    """The time step the code belongs to, if valid and later than ``last_step``."""
    code = _normalise(code)
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in range(now_step - _DRIFT_STEPS, now_step + _DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue  # this step, or an earlier one, was used already: a replay
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_totp(user, code: str) -> bool:
    step = _matching_step(_secret_of(user), code, user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def _code_hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode("ascii", "ignore")).hexdigest()


def _new_recovery_codes(user) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(10)).decode("ascii")  # 16 chars, 80 bits
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(c)) for c in codes)
    db.session.flush()
    return codes


def _accept_recovery_code(user, code: str) -> bool:
    if len(_normalise(code)) != 16:
        return False
    row = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def recovery_codes_left(user) -> int:
    return db.session.scalar(
        select(func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


def regenerate_recovery_codes(user, code: str) -> list[str] | None:
    """New codes (the old ones stop working), with a valid authenticator code."""
    if not is_enabled(user) or not _accept_totp(user, code):
        return None
    audit.record("recovery_codes_regenerated", object_type="User", object_id=user.id)
    return _new_recovery_codes(user)


def verify_login(user, code: str) -> str | None:
    """The second step of a sign-in: an authenticator code, or an unused recovery code.
    Answers which was used ("totp" or "recovery"), or None when the code is refused."""
    method = None
    if is_enabled(user):
        if _accept_totp(user, code):
            method = "totp"
        elif _accept_recovery_code(user, code):
            method = "recovery"
    audit.record(
        "login_second_factor",
        object_type="User",
        object_id=user.id,
        outcome="success" if method else "failure",
        details={"recovery_code": True} if method == "recovery" else None,
        actor=user,
    )
    return method
