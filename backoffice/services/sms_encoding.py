"""SMS length arithmetic: GSM 03.38 (GSM-7) versus UCS-2, segments, and safe splitting.

An SMS carries 140 bytes: 160 GSM-7 septets or 70 UTF-16 code units. A concatenated message
loses 6 bytes per part to its header, leaving 153 septets or 67 code units. One character
outside GSM-7 switches the whole message to UCS-2, which is why Latin-script alerts are
transliterated (``to_gsm7``) before they are sent: it keeps them at 160 characters a part.

Pure functions, no I/O: the dispatcher and the alert preview both use them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# 3GPP TS 23.038 default alphabet (0x1B, the escape to the extension table, excluded).
# 0x09 is the capital C-cedilla "Ç" in the standard; the lower-case "ç" is NOT in the set.
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each of these is sent as ESC + code, so it costs two septets.
GSM7_EXTENSION: frozenset[str] = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}

# Typography and letters that have a close GSM-7 equivalent. Anything with diacritics not in
# this table falls back to Unicode decomposition (ș → s, ã → a, ç → c, À → A...).
_TRANSLITERATIONS: dict[str, str] = {
    "\u00a0": " ",  # no-break space (French typography)
    "\u202f": " ",  # narrow no-break space
    "\u2009": " ",  # thin space
    "\u2007": " ",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u00b7": ".",  # French inclusive writing: inscrit·e → inscrit.e
    "œ": "oe",
    "Œ": "OE",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
}


def _septets(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _utf16_units(char: str) -> int:
    # Characters outside the Basic Multilingual Plane (most emoji) need a surrogate pair.
    return 2 if ord(char) > 0xFFFF else 1


def is_gsm7(text: str) -> bool:
    """Whether ``text`` can be sent in the GSM-7 alphabet (basic set plus extension table)."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _encoding(text: str) -> str:
    return GSM7 if is_gsm7(text) else UCS2


def _weight(encoding: str) -> Callable[[str], int]:
    return _septets if encoding == GSM7 else _utf16_units


def _count(text: str, encoding: str) -> int:
    weight = _weight(encoding)
    return sum(weight(char) for char in text)


def _hard_split(text: str, encoding: str) -> list[str]:
    """Greedy split at the part limit, never inside an escape pair or a surrogate pair.

    Working on code points keeps a surrogate pair whole; weighing each code point (2 for an
    extension character or an astral character) keeps its two units in the same part.
    """
    weight, limit = _weight(encoding), PART_LIMIT[encoding]
    parts: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(text):
        cost = weight(char)
        if used + cost > limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def _word_split(text: str, encoding: str) -> list[str]:
    """Split at the part limit, cutting after the last space of each part when there is one."""
    weight, limit = _weight(encoding), PART_LIMIT[encoding]
    parts: list[str] = []
    start = 0
    while _count(text[start:], encoding) > limit:
        used, end, last_space = 0, start, -1
        while used + weight(text[end]) <= limit:
            used += weight(text[end])
            if text[end] == " ":
                last_space = end
            end += 1
        # The space stays at the end of its part so that the parts join back to the text.
        cut = last_space + 1 if last_space > start else end
        parts.append(text[start:cut])
        start = cut
    parts.append(text[start:])
    return parts


def split_sms(text: str) -> list[str]:
    """The parts of a concatenated SMS: ``"".join(parts) == text`` and each part fits.

    A text that fits one SMS is one part. Longer texts are cut at spaces when that does not
    cost an extra (billed) segment, otherwise at the limit; an extension escape pair or a
    UTF-16 surrogate pair is never cut.
    """
    if not text:
        return []
    encoding = _encoding(text)
    if _count(text, encoding) <= SINGLE_LIMIT[encoding]:
        return [text]
    hard = _hard_split(text, encoding)
    by_words = _word_split(text, encoding)
    return by_words if len(by_words) <= len(hard) else hard


def sms_parts(text: str) -> tuple[str, int, int]:
    """(encoding, segments, characters counted) for ``text``.

    Characters are counted the way the network bills them: septets for GSM-7 (an extension
    character counts 2), UTF-16 code units for UCS-2 (an emoji counts 2). An empty text is
    zero segments.
    """
    encoding = _encoding(text)
    count = _count(text, encoding)
    if count == 0:
        return encoding, 0, 0
    if count <= SINGLE_LIMIT[encoding]:
        return encoding, 1, count
    return encoding, len(_hard_split(text, encoding)), count


def to_gsm7(text: str) -> str:
    """Transliterate what has a GSM-7 look-alike; leave other characters untouched.

    Used for SMS in Latin-script languages (fr, en, es, pt, ro): Romanian ș ț ă â î and
    Portuguese ã õ ç ê are not GSM-7 and would turn the whole message into UCS-2 (70
    characters a part instead of 160). Accents that GSM-7 has (é è à ù ñ ü...) are kept.
    Characters with no Latin equivalent (Cyrillic, an emoji) stay as they are: the message
    then goes as UCS-2 rather than losing meaning.
    """
    return "".join(_gsm7_char(char) for char in text)


def _gsm7_char(char: str) -> str:
    if char in GSM7_BASIC or char in GSM7_EXTENSION:
        return char
    if char in _TRANSLITERATIONS:
        return _TRANSLITERATIONS[char]
    base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return base if base and is_gsm7(base) else char
