"""Normalisation of aggressor identifiers (phone, email, plate, pseudonym, URL).

Identifiers are stored encrypted and found through a keyed blind index (HMAC) of their
*normalised* value (DESIGN.md, "lookup" data). A lookup can only match when two spellings of
the same identifier give byte-for-byte the same string, so every function here is pure,
deterministic and idempotent: ``normalise(k, normalise(k, x)) == normalise(k, x)``.

Design choices, and why:

- Every value is first NFKC-normalised and trimmed, so full-width characters typed with a
  Chinese keyboard, no-break spaces pasted from a web page or Arabic-Indic digits give the same
  result as plain ASCII input.
- Phones become E.164 (``+33612345678``): the one spelling that carries no national habit.
  National (leading 0) numbers are read as French; foreign numbers must be written in
  international form (``+32…`` or ``0032…``). French overseas numbers dialled the metropolitan
  way (``0690 12 34 56``, ``+33 690…``) are mapped to their own country code (``+590…``), which
  is what the phone network and the ``phonenumbers`` library consider canonical. Only
  ``is_valid_number`` is trusted: ``is_possible_number`` checks nothing but length, and
  accepting impossible numbers would let typos in, which then never match anything.
- Emails are lower-cased entirely, local part included. RFC 5321 says the local part is case
  sensitive, but every mainstream provider ignores case, and here a missed match (an aggressor
  not recognised) is far worse than a theoretical false one. The domain is IDNA-encoded
  (A-label form) so ``bücher.ch`` and ``xn--bcher-kva.ch`` match.
- Pseudonyms are case-folded (``str.casefold``, the Unicode caseless-matching operation, which
  handles ß, Turkish dotted I, Greek sigma…) with inner whitespace collapsed and any leading
  ``@`` removed. The platform is *not* part of the value: the same pseudonym on two sites
  should still match; callers store the platform apart.
- Plates: French SIV (``AB-123-CD``) and old FNI (``1234 AB 75``) formats get their official
  spelling; any other plate is reduced to upper-case ASCII letters and digits. Letters that
  SIV never issues (I, O, U, SS…) are accepted anyway: a witness may misread a plate and a
  rejection would lose the report. Cyrillic and Greek letters that look Latin (Bulgarian,
  Ukrainian, Greek plates typed on a native keyboard) are mapped to Latin, and diacritics
  are dropped (German ``MÜ`` becomes ``MU``).
- URLs are canonicalised (https, lower-case IDNA host, no ``www.``, default port, fragment,
  trailing slash or tracking parameters; sorted query) so a shared profile link matches the
  one typed by hand.

Error messages never contain the value itself: exceptions end up in logs, and clear
identifiers must never be logged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from urllib.parse import SplitResult, parse_qsl, quote, unquote, urlencode, urlsplit

import idna
import phonenumbers
from email_validator import EmailNotValidError, validate_email

KINDS: tuple[str, ...] = ("phone", "email", "plate", "pseudonym", "url")

DEFAULT_REGION = "FR"
PSEUDONYM_MAX_LENGTH = 100
PLATFORM_MAX_LENGTH = 100


class InvalidIdentifier(ValueError):
    """A value that cannot be normalised as the given kind.

    ``kind`` is the kind asked for (None when guessing), ``reason`` a short code (``empty``,
    ``unknown_kind``, ``too_short``, ``too_long``, ``letters``, ``characters``, ``invalid``)
    so views can pick a translated message; ``str(exc)`` is a plain English sentence.
    """

    def __init__(self, kind: str | None, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.message = message


# --- shared helpers -------------------------------------------------------------------------


def _prepare(kind: str | None, value: object) -> str:
    """NFKC and trim; reject non-text, blank and unencodable (lone surrogate) values."""
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, "The identifier must be text.", "invalid")
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        raise InvalidIdentifier(kind, "The identifier is empty.", "empty")
    # Lone surrogates (accepted by json.loads) would only fail later, when hashing.
    if any(unicodedata.category(ch) == "Cs" for ch in text):
        raise InvalidIdentifier(kind, "The identifier contains invalid characters.", "characters")
    return text


def _ascii_digits(text: str) -> str:
    """Replace any Unicode decimal digit (Arabic-Indic, Devanagari…) by its ASCII digit."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


# --- phones ---------------------------------------------------------------------------------

_PHONE_PUNCTUATION = frozenset("+.-()/")
# Overseas departments and collectivities share the French plan when dialled from France
# (0590…, 0696…) but have their own country code in E.164.
_OVERSEAS_REGIONS: tuple[str, ...] = ("GP", "MQ", "GF", "RE", "YT")
_SAINT_PIERRE_PREFIX = "508"
# National-number prefixes the French plan gives the overseas departments (ARCEP ranges):
# only numbers starting so are worth re-parsing per region, which is slow.
_OVERSEAS_PREFIXES: tuple[str, ...] = (
    "590",
    "690",
    "691",
    "596",
    "696",
    "697",
    "594",
    "694",
    "262",
    "263",
    "692",
    "693",
    "269",
    "639",
    "508",
)


def _is_dash(ch: str) -> bool:
    return unicodedata.category(ch) == "Pd"


def _is_phone_char(ch: str) -> bool:
    return ch.isdecimal() or ch.isspace() or ch in _PHONE_PUNCTUATION or _is_dash(ch)


def _check_phone_text(text: str) -> str:
    """Reject letters and stray characters before phonenumbers tries to make sense of them."""
    if text[:4].lower() == "tel:":  # pasted from a tel: link
        text = text[4:].strip()
    if any(ch.isalpha() for ch in text):
        raise InvalidIdentifier("phone", "A phone number cannot contain letters.", "letters")
    if not all(_is_phone_char(ch) for ch in text):
        raise InvalidIdentifier(
            "phone",
            "A phone number can only contain digits, spaces, dots, dashes, brackets and a "
            "leading +.",
            "characters",
        )
    plus_ok = "+" not in text or (text.count("+") == 1 and text.lstrip("( ").startswith("+"))
    if not plus_ok:
        raise InvalidIdentifier("phone", "The + sign may only begin a phone number.", "characters")
    # phonenumbers takes plain spaces only, and ASCII digits are simpler to count.
    text = _ascii_digits(" ".join(text.split()))
    digits = sum(ch.isdigit() for ch in text)
    if digits < 6:
        raise InvalidIdentifier("phone", "This phone number is too short.", "too_short")
    return text


_TOO_SHORT = ("too_short", "This phone number is too short.")
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.TOO_SHORT_NSN: _TOO_SHORT,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: _TOO_SHORT,
    phonenumbers.NumberParseException.TOO_LONG: ("too_long", "This phone number is too long."),
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: (
        "invalid",
        "This phone number has an unknown country code.",
    ),
}


def _parse_phone(text: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        reason, message = _PARSE_ERRORS.get(
            exc.error_type, ("invalid", "This is not a phone number.")
        )
        raise InvalidIdentifier("phone", message, reason) from exc


def _overseas(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """The overseas E.164 form of a +33 number dialled the metropolitan way, if there is one."""
    national = str(number.national_number)
    if not national.startswith(_OVERSEAS_PREFIXES):
        return None
    attempts = [("0" + national, region) for region in _OVERSEAS_REGIONS]
    if national.startswith(_SAINT_PIERRE_PREFIX):
        attempts.append(("+508" + national[3:], None))
    for text, region in attempts:
        try:
            candidate = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(candidate):
            return candidate
    return None


def _normalise_phone(text: str) -> str:
    number = _parse_phone(_check_phone_text(text))
    if number.country_code == 33:
        number = _overseas(number) or number
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("phone", "This is not a valid phone number.", "invalid")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _display_phone(normalised: str) -> str:
    try:
        number = phonenumbers.parse(normalised, None)
    except phonenumbers.NumberParseException:
        return normalised  # stored before a rule change: show it rather than fail a page
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


# --- emails ---------------------------------------------------------------------------------


def _normalise_email(text: str) -> str:
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        # The library's explanation names at most offending characters, never the address.
        raise InvalidIdentifier(
            "email", f"This email address is not valid: {exc}", "invalid"
        ) from exc
    # Whole address lower-cased: providers ignore case in practice and a missed match is
    # worse than a false one here (see the module docstring).
    return f"{result.local_part.lower()}@{result.ascii_domain}"


# --- plates ---------------------------------------------------------------------------------

# Cyrillic (bg, ru, uk) and Greek letters allowed on plates because they look Latin.
_PLATE_HOMOGLYPHS = str.maketrans(
    "АВЕКМНОРСТУХІ" + "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "ABEKMHOPCTYXI" + "ABEZHIKMNOPTYX",
)
_PLATE_SEPARATORS = frozenset("._·")
_SIV = re.compile(r"([A-Z]{2})([0-9]{3})([A-Z]{2})")
# Number, series letters, department: 2 digits, Corsica 2A/2B, overseas 97x.
_FNI = re.compile(r"([0-9]{1,4})([A-Z]{1,3})(97[0-9]|2[AB]|[0-9]{2})")
_PLATE_CHARS = re.compile(r"[A-Z0-9]+")


def _compact_plate(text: str) -> str:
    """Upper-case ASCII letters and digits only, separators removed."""
    text = unicodedata.normalize("NFKD", text.upper()).translate(_PLATE_HOMOGLYPHS)
    kept = (
        ch
        for ch in text
        if not (ch.isspace() or _is_dash(ch) or ch in _PLATE_SEPARATORS)
        and unicodedata.category(ch) != "Mn"  # diacritics, split off by NFKD
    )
    return "".join(kept)


def _normalise_plate(text: str) -> str:
    compact = _compact_plate(text)
    if len(compact) < 2:
        raise InvalidIdentifier("plate", "This licence plate is too short.", "too_short")
    if not _PLATE_CHARS.fullmatch(compact):
        raise InvalidIdentifier(
            "plate",
            "A licence plate can only contain letters, digits, spaces, dashes and dots.",
            "characters",
        )
    if len(compact) > 12:
        raise InvalidIdentifier("plate", "This licence plate is too long.", "too_long")
    if match := _SIV.fullmatch(compact):
        return "-".join(match.groups())
    if match := _FNI.fullmatch(compact):
        return " ".join(match.groups())
    return compact


# --- pseudonyms -----------------------------------------------------------------------------

_LEADING_AT = re.compile(r"^[@\s]+")


def _fold(text: str) -> str:
    """Case-fold then NFKC, repeated until stable (casefold can un-normalise a string)."""
    for _ in range(4):
        folded = unicodedata.normalize("NFKC", text.casefold())
        if folded == text:
            break
        text = folded
    return text


def _normalise_pseudonym(text: str) -> str:
    # Invisible characters (zero-width spaces, controls) are copy-paste noise or evasion.
    visible = "".join(
        ch for ch in text if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    pseudo = _LEADING_AT.sub("", " ".join(_fold(visible).split()))
    if not pseudo:
        raise InvalidIdentifier("pseudonym", "The pseudonym is empty.", "empty")
    if len(pseudo) > PSEUDONYM_MAX_LENGTH:
        raise InvalidIdentifier(
            "pseudonym",
            f"A pseudonym cannot be longer than {PSEUDONYM_MAX_LENGTH} characters.",
            "too_long",
        )
    return pseudo


def _check_platform(kind: str, platform: object) -> None:
    """The platform is stored apart by callers; here it is only checked."""
    if platform is None:
        return
    if not isinstance(platform, str):
        raise InvalidIdentifier(kind, "The platform name must be text.", "invalid")
    if len(platform.strip()) > PLATFORM_MAX_LENGTH:
        raise InvalidIdentifier(
            kind,
            f"A platform name cannot be longer than {PLATFORM_MAX_LENGTH} characters.",
            "too_long",
        )


# --- URLs -----------------------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})")
_TRACKING_PARAMS = frozenset({"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid"})
_DEFAULT_PORTS = frozenset({80, 443})
# RFC 3986 pchar plus "/": left as is when re-encoding the path.
_PATH_SAFE = "/:@!$&'()*+,;=~"


def _url_error(message: str, reason: str = "invalid") -> InvalidIdentifier:
    return InvalidIdentifier("url", message, reason)


def _split_url(text: str) -> SplitResult:
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise _url_error("A web address cannot contain spaces or invisible characters.")
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise _url_error("Only web addresses (http or https) are accepted.")
    rest = text[scheme.end() :] if scheme else text.removeprefix("//")
    try:
        return urlsplit("https://" + rest)
    except ValueError as exc:  # e.g. an unbalanced IPv6 bracket
        raise _url_error("This web address is not valid.") from exc


def _url_host(netloc: str, hostname: str | None) -> str:
    if "@" in netloc:
        raise _url_error("A web address with a user name or password is not accepted.")
    host = (hostname or "").rstrip(".")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise _url_error("The site name in this web address is not valid.") from exc
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise _url_error("A web address needs a site name such as example.org.")
    while labels[0] == "www" and len(labels) > 2:  # a loop, so the result is stable
        labels.pop(0)  # www.example.org and example.org are the same profile
    return ".".join(labels)


def _url_port(parts: SplitResult) -> str:
    try:
        port = parts.port
    except ValueError as exc:
        raise _url_error("The port in this web address is not valid.") from exc
    # Both 80 and 443 go: the result is always https, and keeping ":443" would not be stable.
    return "" if port is None or port in _DEFAULT_PORTS else f":{port}"


def _url_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [
        (key, value)
        for key, value in pairs
        if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
    ]
    return urlencode(sorted(kept))


def _normalise_url(text: str) -> str:
    parts = _split_url(text)
    host = _url_host(parts.netloc, parts.hostname)
    port = _url_port(parts)
    # Decode then re-encode, so "%c3%a9", "%C3%A9" and "é" give the same path.
    path = quote(unquote(parts.path), safe=_PATH_SAFE).rstrip("/")
    query = _url_query(parts.query)
    return f"https://{host}{port}{path}" + (f"?{query}" if query else "")


# --- public API -----------------------------------------------------------------------------

_NORMALISERS: dict[str, Callable[[str], str]] = {
    "phone": _normalise_phone,
    "email": _normalise_email,
    "plate": _normalise_plate,
    "pseudonym": _normalise_pseudonym,
    "url": _normalise_url,
}


def normalise(kind: str, value: str, *, platform: str | None = None) -> str:
    """The canonical form of ``value`` as a ``kind`` identifier, used for the blind index.

    ``platform`` (where a pseudonym or URL was seen) is validated but never changes the value.
    Raises InvalidIdentifier for an unknown kind or a value that is not a valid identifier.
    """
    if kind not in _NORMALISERS:
        raise InvalidIdentifier(kind, "Unknown identifier kind.", "unknown_kind")
    _check_platform(kind, platform)
    return _NORMALISERS[kind](_prepare(kind, value))


def try_normalise(kind: str, value: str, *, platform: str | None = None) -> str | None:
    """Like normalise, but None instead of raising."""
    try:
        return normalise(kind, value, platform=platform)
    except InvalidIdentifier:
        return None


def display(kind: str, normalised: str) -> str:
    """The human form of a normalised identifier, for publication in alerts."""
    if kind not in _NORMALISERS:
        raise InvalidIdentifier(kind, "Unknown identifier kind.", "unknown_kind")
    if kind == "phone":
        return _display_phone(normalised)
    # Plates are normalised to their display spelling already; the others read as they are.
    return normalised


# guess_kind patterns: the first that matches wins, in the order of guess_kind.
_URL_PREFIX = re.compile(r"(https?://|www\.)", re.IGNORECASE)
_EMAIL_LIKE = re.compile(r"[^@\s/]+@[^@\s/]+\.[^@\s/]+")
_DOMAIN_LIKE = re.compile(r"([a-z0-9-]+\.)+([a-z]{2,})(/\S*)?", re.IGNORECASE)
# Bare domains without a path are only taken for URLs with these TLDs ("jean.dupont" is not).
_COMMON_TLDS = frozenset({"com", "net", "org", "info", "io", "co", "me", "tv", "app"}) | frozenset(
    {"eu", "fr", "be", "ch", "lu", "es", "pt", "it", "de", "uk", "ro", "bg", "ru", "ua", "cn"}
)


def _looks_like_url(text: str) -> bool:
    match = _DOMAIN_LIKE.fullmatch(text)
    return bool(match) and (match.group(3) is not None or match.group(2).lower() in _COMMON_TLDS)


def _looks_like_phone(text: str) -> bool:
    text = text.removeprefix("tel:").removeprefix("TEL:")
    digits = sum(ch.isdecimal() for ch in text)
    return digits >= 8 and all(_is_phone_char(ch) for ch in text)


def _looks_like_plate(text: str) -> bool:
    compact = _compact_plate(text)
    return bool(_SIV.fullmatch(compact) or _FNI.fullmatch(compact)) and all(
        ch.isalnum() or ch.isspace() or _is_dash(ch) or ch in _PLATE_SEPARATORS for ch in text
    )


def guess_kind(value: str) -> str:
    """The most likely kind of a raw value; "pseudonym" when nothing else fits.

    Raises InvalidIdentifier only for an empty or blank value.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidIdentifier(None, "The identifier is empty.", "empty")
    text = unicodedata.normalize("NFKC", value).strip()
    if text.startswith("@"):
        return "pseudonym"
    if _URL_PREFIX.match(text):
        return "url"
    if _EMAIL_LIKE.fullmatch(text):
        return "email"
    if _looks_like_url(text):
        return "url"
    if _looks_like_phone(text):
        return "phone"
    if _looks_like_plate(text):
        return "plate"
    return "pseudonym"
