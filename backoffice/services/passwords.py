"""Password policy (OWASP ASVS 5.0 level 2): length, not composition rules.

At least 12 characters, up to 128, any characters; common and breached passwords from a
bundled list are refused, as are passwords made of one repeated character. Hashing stays
FAB's default (scrypt through Werkzeug).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_babel import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 128
_COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


@cache
def _common_passwords() -> frozenset[str]:
    lines = _COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why the password is refused, in the user's language, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must have at most %(n)d characters.", n=MAX_LENGTH)
    if len(set(password)) == 1 or password.lower() in _common_passwords():
        return _("This password is too common; choose another one.")
    return None


def validate_password(password: str) -> None:
    """FAB's FAB_PASSWORD_COMPLEXITY_VALIDATOR hook."""
    problem = password_problem(password or "")
    if problem:
        raise PasswordComplexityValidationError(problem)
