"""Password policy (OWASP ASVS 5.0 level 2): length and guessability, not composition rules.

At least 12 characters, up to 128, any characters. Guessability is judged by zxcvbn, which
ships large lists of common passwords, names and words and knows the usual tricks (years,
substitutions, keyboard walks): the score must be at least ``MIN_SCORE``. Score 3 (fewer
than 10^10 guesses) still lets ``Summer2024!!`` and ``Jasmine2026!!`` through, hence 4. The
user's own username, name and email count as known words, and so does the demo password
published in the README. Hashing stays FAB's default (scrypt through Werkzeug).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
MIN_SCORE = 4
# The demo accounts' password, printed in the README (config.py uses it in development).
DEFAULT_DEMO_PASSWORD = "demo-jasmine-2026"  # noqa: S105 (published on purpose)
# Words of this deployment an attacker tries first, on top of zxcvbn's own lists.
DEPLOYMENT_WORDS = ("jasmine", "backoffice", "medecinsdumonde", "demo")


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why the password is refused, in the user's language, or None when it is acceptable.

    ``user_inputs``: the account's username, names and email (and their parts), which an
    attacker who knows the account tries first.
    """
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must have at most %(n)d characters.", n=MAX_LENGTH)
    if password == DEFAULT_DEMO_PASSWORD:
        return _("This password is published; choose another one.")
    inputs = _words(user_inputs)
    result = zxcvbn(password, user_inputs=[*inputs, *DEPLOYMENT_WORDS])
    if result["score"] >= MIN_SCORE:
        return None
    if any(m.get("dictionary_name") == "user_inputs" for m in result["sequence"]):
        return _(
            "This password contains your name, username or email, or the name of this "
            "service; choose another one."
        )
    return _(
        "This password is too easy to guess (a common password, a word with a year, a "
        "keyboard pattern…). A few unrelated words make a strong one."
    )


def _words(user_inputs: Iterable[str]) -> list[str]:
    """Each input whole and split at the usual separators (``marie.dupont@x.fr``)."""
    words: list[str] = []
    for value in user_inputs:
        value = (value or "").strip().lower()
        if not value:
            continue
        words.append(value)
        for separator in "@.-_+ ":
            value = value.replace(separator, " ")
        words.extend(part for part in value.split() if len(part) >= 3)
    return words
