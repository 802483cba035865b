"""FAB's password hook (``FAB_PASSWORD_COMPLEXITY_VALIDATOR``), fed with whose password it is.

FAB hands the hook the password alone; the account it belongs to is the form's (a new
account), the one in ``?pk=`` (an Admin resetting it) or the signed-in user (their own).
"""

from __future__ import annotations

from flask import g, has_request_context, request
from flask_appbuilder.exceptions import PasswordComplexityValidationError

from backoffice.extensions import db
from backoffice.models.user import StaffUser
from backoffice.services.passwords import password_problem
from backoffice.views.arguments import int_arg

_FIELDS = ("username", "first_name", "last_name", "email")


def validate_password(password: str) -> None:
    problem = password_problem(password or "", _account_words())
    if problem:
        raise PasswordComplexityValidationError(problem)


def _account_words() -> list[str]:
    if not has_request_context():
        return []
    words = [request.form.get(name, "") for name in _FIELDS]
    account = None
    pk = int_arg("pk")
    if pk is not None:
        account = db.session.get(StaffUser, pk)
    elif getattr(getattr(g, "user", None), "is_authenticated", False):
        account = g.user
    if account is not None:
        words.extend(getattr(account, name, "") or "" for name in _FIELDS)
    return words
