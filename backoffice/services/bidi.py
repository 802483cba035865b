"""Bidirectional control characters: removed from text shown to staff.

U+202A–U+202E (embeddings, overrides), U+2066–U+2069 (isolates) and U+200E/U+200F (marks)
let a sender reorder what a reader sees ("Trojan Source"): a name or a reference could
display as another. No testimony needs them; scripts written right to left (Arabic) display
correctly without them, so they are stripped at intake and at display.
"""

from __future__ import annotations

BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)] + [chr(c) for c in range(0x2066, 0x206A)]
) | {"\u200e", "\u200f"}
_REMOVE = {ord(c): None for c in BIDI_CONTROLS}


def strip_bidi_controls(text: str) -> str:
    """``text`` without bidirectional control characters (a Markup stays a Markup)."""
    return text.translate(_REMOVE)
