"""Bidirectional control characters: removed from text shown to staff.

U+202A–U+202E (embeddings, overrides), U+2066–U+2069 (isolates) and U+200E/U+200F (marks)
let a sender reorder what a reader sees ("Trojan Source"): a name or a reference could
display as another. No testimony needs them; scripts written right to left (Arabic) display
correctly without them, so they are stripped at intake and at display.

Numbers, plates and references kept in reading order inside right-to-left text.

In an Arabic line the bidi algorithm shows "+33 2 61 91 97 82" as "82 97 91 61 2 33+":
nothing in it is strongly left-to-right. One rule for every right-to-left view (alert
previews, the printable alert sheet): a value without Arabic or Hebrew letters is isolated
left to right; any other value is isolated with its own direction (``<bdi>``).
Registered as the Jinja filter ``isolate`` (backoffice.views.formatting, reports_pdf).
"""

from __future__ import annotations

import unicodedata

from markupsafe import Markup, escape

BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
) | {"\u200e", "\u200f"}
_REMOVE = {ord(c): None for c in BIDI_CONTROLS}


def strip_bidi_controls(text: str) -> str:
    """``text`` without bidirectional control characters (a Markup stays a Markup)."""
    return text.translate(_REMOVE)


_RIGHT_TO_LEFT_CLASSES = ("R", "AL")


def is_left_to_right(value: str) -> bool:
    return not any(unicodedata.bidirectional(char) in _RIGHT_TO_LEFT_CLASSES for char in value)


def isolate(value) -> Markup:
    """``<bdi dir="ltr">+33 2 61 91 97 82</bdi>``; ``<bdi>`` around right-to-left text."""
    if value is None or value == "":
        return Markup("")
    text = str(value)
    if is_left_to_right(text):
        return Markup('<bdi dir="ltr">%s</bdi>') % escape(value)
    return Markup("<bdi>%s</bdi>") % escape(value)
