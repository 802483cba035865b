"""Optional TOTP second factor for staff accounts (RFC 6238, through pyotp).

The shared secret is confidential: it is sealed with a root-derived key and bound to the
user's row, never stored or logged in clear. A code is accepted once (the last accepted
time step is remembered), with one step of clock drift either way.
"""

from __future__ import annotations

import pyotp

from backoffice.services import audit
from backoffice.services.confidential import keyring
from backoffice.services.crypto import associated_data

ISSUER = "Jasmine back office"


def _aad(user) -> bytes:
    return associated_data("ab_user", "totp_secret", str(user.id), None)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def is_enabled(user) -> bool:
    return bool(getattr(user, "totp_secret", None))


def _secret_of(user) -> str:
    return keyring().open(user.totp_secret, _aad(user))


def code_is_valid(secret: str, code: str) -> bool:
    code = (code or "").replace(" ", "")
    return code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def enable(user, secret: str, code: str) -> bool:
    """Turn the second factor on once the user proved the authenticator app has the secret."""
    if not code_is_valid(secret, code):
        return False
    user.totp_secret = keyring().seal(secret, _aad(user))
    audit.record("second_factor_enabled", object_type="User", object_id=user.id)
    return True


def disable(user, code: str) -> bool:
    if not is_enabled(user) or not code_is_valid(_secret_of(user), code):
        return False
    user.totp_secret = None
    audit.record("second_factor_disabled", object_type="User", object_id=user.id)
    return True


def verify_login(user, code: str) -> bool:
    ok = is_enabled(user) and code_is_valid(_secret_of(user), code)
    audit.record(
        "login_second_factor",
        object_type="User",
        object_id=user.id,
        outcome="success" if ok else "failure",
        actor=user,
    )
    return ok


def reset(user) -> None:
    """Forget the user's factor (a lost phone): the user enrols again. Who may ask and who
    approves is the caller's rule (an Admin's request, a second Admin's approval).

    The login branch has the same function, which also forgets recovery codes: at merge,
    keep that one."""
    user.totp_secret = None
    audit.record("second_factor_reset", object_type="User", object_id=user.id)
