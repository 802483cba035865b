"""Normalisation of aggressor identifiers: real-world formats, rejections, and properties.

The blind index only finds an identifier when every spelling of it normalises to the same
string, so the properties below (idempotence, format-insensitivity) matter as much as the
tables.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from backoffice.services.identifiers import (
    KINDS,
    InvalidIdentifier,
    display,
    guess_kind,
    normalise,
    try_normalise,
)

QUICK = settings(max_examples=200, deadline=None)

# --- phones -------------------------------------------------------------------------------

FRENCH_MOBILE = "+33612345678"


@pytest.mark.parametrize(
    "value",
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "06-12-34-56-78",
        "0612345678",
        "+33 6 12 34 56 78",
        "+33 (0)6 12 34 56 78",
        "+33 06 12 34 56 78",
        "(+33) 6 12 34 56 78",
        "0033 6 12 34 56 78",
        "0033612345678",
        "0033 (0)6 12 34 56 78",
        "+33612345678",
        "  06 12 34 56 78  ",
        "06\u00a012\u00a034\u00a056\u00a078",  # no-break spaces, pasted from a web page
        "+33\u202f6\u202f12\u202f34\u202f56\u202f78",  # narrow no-break spaces
        "06\t12 34\n56 78",
        "06/12/34/56/78",
        "06 – 12 – 34 – 56 – 78",  # en dashes
        "０６ １２ ３４ ５６ ７８",  # full-width digits (Chinese keyboard)
        "٠٦١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "tel:+33612345678",
        "612345678",
    ],
)
def test_french_mobile_formats_give_e164(value: str) -> None:
    assert normalise("phone", value) == FRENCH_MOBILE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("01 42 68 53 00", "+33142685300"),
        ("07 81 23 45 67", "+33781234567"),
        ("+32 470 12 34 56", "+32470123456"),  # Belgium
        ("0032 470 12 34 56", "+32470123456"),
        ("+41 79 123 45 67", "+41791234567"),  # Switzerland
        ("+34 612 34 56 78", "+34612345678"),  # Spain
        ("+40 712 345 678", "+40712345678"),  # Romania
        ("+359 88 123 4567", "+359881234567"),  # Bulgaria
        ("+351 912 345 678", "+351912345678"),  # Portugal
        ("+44 7911 123456", "+447911123456"),  # United Kingdom
        ("+49 151 23456789", "+4915123456789"),  # Germany
        ("+39 312 345 6789", "+393123456789"),  # Italy
        ("+380 50 123 4567", "+380501234567"),  # Ukraine
        ("+7 912 345-67-89", "+79123456789"),  # Russia
        ("+86 138 0013 8000", "+8613800138000"),  # China
        ("+212 612-345678", "+212612345678"),  # Morocco
        ("+1 202-456-1111", "+12024561111"),  # United States
    ],
)
def test_other_numbers_give_e164(value: str, expected: str) -> None:
    assert normalise("phone", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Overseas numbers dialled the metropolitan way get their own country code.
        ("0690 00 12 34", "+590690001234"),  # Guadeloupe mobile
        ("+33 6 90 00 12 34", "+590690001234"),
        ("+590 690 00 12 34", "+590690001234"),
        ("0590 20 12 34", "+590590201234"),  # Guadeloupe landline
        ("0596 30 12 34", "+596596301234"),  # Martinique landline
        ("0696 20 12 34", "+596696201234"),  # Martinique mobile
        ("0694 20 12 34", "+594694201234"),  # French Guiana
        ("0692 12 34 56", "+262692123456"),  # Réunion
        ("+262 692 12 34 56", "+262692123456"),
        ("0639 01 23 45", "+262639012345"),  # Mayotte
        ("0508 55 12 34", "+508551234"),  # Saint-Pierre-et-Miquelon
        ("+687 75 12 34", "+687751234"),  # New Caledonia
        ("+689 87 12 34 56", "+68987123456"),  # French Polynesia
    ],
)
def test_overseas_numbers(value: str, expected: str) -> None:
    assert normalise("phone", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("0612", "too_short"),
        ("12345", "too_short"),
        ("06 12 34 56 7a", "letters"),
        ("06 CALL ME", "letters"),
        ("+33 6 12 34 56 78 9", "invalid"),
        ("00 00 00 00 00", "invalid"),
        ("+44 7700 900123", "invalid"),  # reserved for fiction by Ofcom
        ("+999 123456789", "invalid"),  # no such country code
        ("06#12345678", "characters"),
        ("6+12345678", "characters"),
        ("06 12 34 56 78 / 06 98 76 54 32", "too_long"),
        ("", "empty"),
        ("  \u00a0 ", "empty"),
    ],
)
def test_invalid_phones(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("phone", value)
    assert caught.value.kind == "phone"
    assert caught.value.reason == reason
    assert str(caught.value).endswith(".")


# --- emails -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("someone@example.org", "someone@example.org"),
        ("  someone@example.org\n", "someone@example.org"),
        ("Marc.Dupont@Exemple.FR", "marc.dupont@exemple.fr"),
        ("MARC75@GMAIL.COM", "marc75@gmail.com"),
        ("marc+annonces@gmail.com", "marc+annonces@gmail.com"),  # no provider-specific rules
        ("ｍａｒｃ＠ｅｘａｍｐｌｅ．ｏｒｇ", "marc@example.org"),  # full-width
        ("Müller@Bücher.CH", "müller@xn--bcher-kva.ch"),
        ("müller@xn--bcher-kva.ch", "müller@xn--bcher-kva.ch"),
        ("иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"),
    ],
)
def test_emails(value: str, expected: str) -> None:
    assert normalise("email", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "marc",
        "marc@",
        "@example.org",
        "marc@localhost",
        "marc@@example.org",
        "marc dupont@example.org",
        "marc@exa mple.org",
        "Marc <marc@example.org>",
        "marc@example..org",
    ],
)
def test_invalid_emails(value: str) -> None:
    with pytest.raises(InvalidIdentifier, match="not valid") as caught:
        normalise("email", value)
    assert caught.value.kind == "email"


# --- plates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AB-123-CD", "AB-123-CD"),
        ("ab-123-cd", "AB-123-CD"),
        ("AB123CD", "AB-123-CD"),
        ("ab 123 cd", "AB-123-CD"),
        ("  Ab.123.cD ", "AB-123-CD"),
        ("AB–123–CD", "AB-123-CD"),  # en dashes
        ("ＡＢ－１２３－ＣＤ", "AB-123-CD"),  # full-width
        ("OI-100-SS", "OI-100-SS"),  # letters SIV never issues: accepted, witnesses misread
        ("1234 AB 75", "1234 AB 75"),
        ("1234ab75", "1234 AB 75"),
        ("1234-AB-75", "1234 AB 75"),
        ("1234  ab  75", "1234 AB 75"),
        ("7 A 13", "7 A 13"),
        ("123 ABC 2A", "123 ABC 2A"),  # Corsica
        ("45 AB 2b", "45 AB 2B"),
        ("123 AB 974", "123 AB 974"),  # Réunion
        ("B-MW 1234", "BMW1234"),  # Germany
        ("MÜ-AB 123", "MUAB123"),  # German umlaut folded
        ("1-ABC-234", "1ABC234"),  # Belgium
        ("СА 1234 ВХ", "CA1234BX"),  # Bulgaria, typed in Cyrillic
        ("ΙΚΒ-1234", "IKB1234"),  # Greece, typed in Greek
        ("AB 12", "AB12"),
    ],
)
def test_plates(value: str, expected: str) -> None:
    assert normalise("plate", value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("A", "too_short"),
        ("---", "too_short"),
        ("ABCDEFGHIJKLM", "too_long"),
        ("AB#123", "characters"),
        ("AB/123", "characters"),
        ("🚗 AB-123-CD", "characters"),
        ("", "empty"),
    ],
)
def test_invalid_plates(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("plate", value)
    assert (caught.value.kind, caught.value.reason) == ("plate", reason)


# --- pseudonyms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Marc75", "marc75"),
        ("@Marc75", "marc75"),
        ("  @marc75 ", "marc75"),
        ("@@marc75", "marc75"),
        ("Marc   du  75", "marc du 75"),
        ("Marc\u00a0du\t75", "marc du 75"),
        ("ＭＡＲＣ７５", "marc75"),  # full-width
        ("mar\u200bc75", "marc75"),  # zero-width space
        ("Straße", "strasse"),
        ("ΣΟΦΟΣ", "σοφοσ"),
        ("Jean-Loup_92", "jean-loup_92"),
        ("Café", "café"),
        ("Cafe\u0301", "café"),  # decomposed accent
    ],
)
def test_pseudonyms(value: str, expected: str) -> None:
    assert normalise("pseudonym", value) == expected


def test_pseudonym_platform_is_validated_but_not_part_of_the_value() -> None:
    on_one_site = normalise("pseudonym", "Marc75", platform="an ad site")
    assert on_one_site == normalise("pseudonym", "@marc75", platform="Instagram") == "marc75"
    assert normalise("pseudonym", "Marc75", platform="") == "marc75"
    with pytest.raises(InvalidIdentifier, match="platform"):
        normalise("pseudonym", "Marc75", platform="x" * 101)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("@", "empty"), ("  @ @ ", "empty"), ("\u200b", "empty"), ("x" * 101, "too_long")],
)
def test_invalid_pseudonyms(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("pseudonym", value)
    assert (caught.value.kind, caught.value.reason) == ("pseudonym", reason)


def test_pseudonym_of_100_characters_is_accepted() -> None:
    assert normalise("pseudonym", "X" * 100) == "x" * 100


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/marc", "https://example.com/marc"),
        ("http://example.com/marc", "https://example.com/marc"),
        ("example.com/marc", "https://example.com/marc"),
        ("//example.com/marc", "https://example.com/marc"),
        ("HTTPS://WWW.EXAMPLE.COM/marc/", "https://example.com/marc"),
        ("www.example.com/marc#photos", "https://example.com/marc"),
        ("https://example.com:443/marc", "https://example.com/marc"),
        ("http://example.com:80/marc", "https://example.com/marc"),
        ("https://example.com:8443/marc", "https://example.com:8443/marc"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com./Marc", "https://example.com/Marc"),  # path case kept
        (
            "https://www.instagram.com/marc75/?igshid=abc&utm_source=ig&utm_MEDIUM=x",
            "https://instagram.com/marc75",
        ),
        ("https://example.com/p?id=3&fbclid=xyz&a=1&gclid=q", "https://example.com/p?a=1&id=3"),
        ("https://example.com/p?b=2&a=1", "https://example.com/p?a=1&b=2"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
        ("https://Bücher.ch/profil", "https://xn--bcher-kva.ch/profil"),
        ("https://xn--bcher-kva.ch/profil", "https://xn--bcher-kva.ch/profil"),
        ("https://www.tiktok.com/@marc.75", "https://tiktok.com/@marc.75"),
        ("www.www.example.com/", "https://example.com"),
        ("www.com", "https://www.com"),  # "www" kept when nothing else would be left
        ("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ｍａｒｃ", "https://example.com/marc"),
    ],
)
def test_urls(value: str, expected: str) -> None:
    assert normalise("url", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "localhost",
        "https://localhost/marc",
        "ftp://example.com/marc",
        "javascript://example.com",
        "https://user:secret@example.com/",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://exa mple.com/",
        "https://[::1]/marc",
        "https://example..com/",
        "https:///marc",
        "https://bad\u200bhost.com/",
    ],
)
def test_invalid_urls(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("url", value)
    assert caught.value.kind == "url"


# --- shared behaviour ---------------------------------------------------------------------


def test_unknown_kind() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("fax", "01 42 68 53 00")
    assert (caught.value.kind, caught.value.reason) == ("fax", "unknown_kind")
    assert isinstance(caught.value, ValueError)


def test_non_text_value_is_invalid() -> None:
    with pytest.raises(InvalidIdentifier):
        normalise("phone", None)  # type: ignore[arg-type]


def test_lone_surrogate_is_invalid() -> None:
    with pytest.raises(InvalidIdentifier):
        normalise("pseudonym", "marc\ud800")


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("phone", "06 12 34 56 7a"),
        ("email", "marc dupont@example.org"),
        ("plate", "AB#123#CD"),
        ("pseudonym", "Marc" * 30),
        ("url", "ftp://example.com/marc"),
    ],
)
def test_messages_never_contain_the_value(kind: str, value: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(kind, value)
    assert value not in str(caught.value)
    assert str(caught.value)[0].isupper()


def test_try_normalise() -> None:
    assert try_normalise("phone", "06 12 34 56 78") == FRENCH_MOBILE
    assert try_normalise("phone", "nope") is None
    assert try_normalise("fax", "06 12 34 56 78") is None


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("phone", "06 12 34 56 78", "+33 6 12 34 56 78"),
        ("phone", "+32 470 12 34 56", "+32 470 12 34 56"),
        ("phone", "0690 00 12 34", "+590 690 00 12 34"),
        ("plate", "ab123cd", "AB-123-CD"),
        ("plate", "1234ab75", "1234 AB 75"),
        ("email", "Marc@Example.org", "marc@example.org"),
        ("pseudonym", "@Marc75", "marc75"),
        ("url", "www.example.com/marc/", "https://example.com/marc"),
    ],
)
def test_display(kind: str, value: str, shown: str) -> None:
    assert display(kind, normalise(kind, value)) == shown


def test_display_tolerates_a_stored_value_it_cannot_parse() -> None:
    assert display("phone", "garbage") == "garbage"
    with pytest.raises(InvalidIdentifier):
        display("fax", "+33612345678")


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("06 12 34 56 78", "phone"),
        ("+33 6 12 34 56 78", "phone"),
        ("0033 (0)6 12 34 56 78", "phone"),
        ("+32 470 12 34 56", "phone"),
        ("someone@example.org", "email"),
        ("Marc.Dupont@Exemple.FR", "email"),
        ("@marc.dupont", "pseudonym"),
        ("@marc75", "pseudonym"),
        ("https://example.com", "url"),
        ("http://example.com/marc", "url"),
        ("www.example.com", "url"),
        ("instagram.com/marc75", "url"),
        ("tiktok.com/@marc.75", "url"),
        ("escort-annonces.fr", "url"),
        ("AB-123-CD", "plate"),
        ("ab123cd", "plate"),
        ("1234 AB 75", "plate"),
        ("Marc75", "pseudonym"),
        ("jean.dupont", "pseudonym"),
        ("Le grand Marc", "pseudonym"),
        ("06 12", "pseudonym"),  # too few digits to be a phone
    ],
)
def test_guess_kind(value: str, kind: str) -> None:
    assert guess_kind(value) == kind


@pytest.mark.parametrize("value", ["", "   ", "\u00a0\t"])
def test_guess_kind_rejects_blank(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        guess_kind(value)
    assert caught.value.reason == "empty"


def test_kinds() -> None:
    assert KINDS == ("phone", "email", "plate", "pseudonym", "url")


# --- properties ---------------------------------------------------------------------------

SEPARATORS = ["", " ", ".", "-", "\u00a0", "  "]


@st.composite
def french_numbers(draw: st.DrawFn) -> str:
    """A French national significant number (9 digits) that is valid."""
    nsn = draw(st.sampled_from("12345679")) + draw(st.text("0123456789", min_size=8, max_size=8))
    assume(try_normalise("phone", "+33" + nsn) is not None)
    return nsn


@st.composite
def grouped(draw: st.DrawFn, digits: str) -> str:
    """Digits cut into random groups joined by random separators."""
    out = ""
    for index, digit in enumerate(digits):
        if index:
            out += draw(st.sampled_from(SEPARATORS))
        out += digit
    return out


@st.composite
def french_phone_spellings(draw: st.DrawFn, nsn: str) -> str:
    prefix = draw(st.sampled_from(["0", "+33", "+33 ", "0033", "0033 ", "+33 (0)", "+33(0) "]))
    body = draw(grouped(nsn))
    return prefix + body


@QUICK
@given(data=st.data(), nsn=french_numbers())
def test_property_phone_spellings_are_equal(data: st.DataObject, nsn: str) -> None:
    first = data.draw(french_phone_spellings(nsn))
    second = data.draw(french_phone_spellings(nsn))
    assert normalise("phone", first) == normalise("phone", second)
    assert normalise("phone", first) == normalise("phone", normalise("phone", first))
    assert guess_kind(first) == "phone"


@st.composite
def plates(draw: st.DrawFn) -> str:
    """A compact plate: French SIV, French FNI, or foreign."""
    letters, digits = "ABCDEFGHJKLMNPQRSTVWXYZ", "0123456789"
    siv = st.tuples(
        st.text(letters, min_size=2, max_size=2),
        st.text(digits, min_size=3, max_size=3),
        st.text(letters, min_size=2, max_size=2),
    )
    fni = st.tuples(
        st.text(digits, min_size=1, max_size=4),
        st.text(letters, min_size=1, max_size=3),
        st.sampled_from(["75", "13", "2A", "2B", "974", "01"]),
    )
    foreign = st.text(letters + digits, min_size=2, max_size=12).map(lambda s: (s,))
    return "".join(draw(st.one_of(siv, fni, foreign)))


@st.composite
def plate_spellings(draw: st.DrawFn, compact: str) -> str:
    out = ""
    for index, char in enumerate(compact):
        if index:
            out += draw(st.sampled_from(["", " ", "-", ".", " - "]))
        out += char.lower() if draw(st.booleans()) else char
    return out


@QUICK
@given(data=st.data(), compact=plates())
def test_property_plate_spellings_are_equal(data: st.DataObject, compact: str) -> None:
    first = data.draw(plate_spellings(compact))
    second = data.draw(plate_spellings(compact))
    expected = normalise("plate", compact)
    assert normalise("plate", first) == normalise("plate", second) == expected
    assert normalise("plate", expected) == expected


@QUICK
@given(compact=plates())
def test_property_french_plates_are_guessed(compact: str) -> None:
    shown = normalise("plate", compact)
    if "-" in shown or " " in shown:  # SIV or FNI layout
        assert guess_kind(shown) == "plate"
        assert guess_kind(compact.lower()) == "plate"


@QUICK
@given(st.emails())
def test_property_email_idempotent(value: str) -> None:
    first = try_normalise("email", value)
    assume(first is not None)
    assert normalise("email", first) == first
    assert normalise("email", value.upper()) == first
    if "/" not in value:  # "site.com/@name.x" is a URL, so a "/" before the @ is not guessed
        assert guess_kind(value) == "email"


@QUICK
@given(
    local=st.text(st.characters(categories=["Ll", "Lu", "Lo", "Nd"]), min_size=1, max_size=20),
    domain=st.sampled_from(["example.org", "Bücher.ch", "пример.рф", "例え.jp"]),
)
def test_property_unicode_email_idempotent(local: str, domain: str) -> None:
    first = try_normalise("email", f"{local}@{domain}")
    assume(first is not None)
    assert normalise("email", first) == first


@QUICK
@given(st.text(min_size=1, max_size=120))
def test_property_pseudonym_idempotent(value: str) -> None:
    first = try_normalise("pseudonym", value)
    assume(first is not None)
    assert normalise("pseudonym", first) == first
    assert normalise("pseudonym", "@" + value.upper()) == normalise("pseudonym", value.lower())


@st.composite
def urls(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical URL and a messy spelling of it."""
    label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
    host = (
        ".".join(draw(st.lists(label, min_size=1, max_size=3)))
        + "."
        + draw(st.sampled_from(["com", "fr", "org", "be"]))
    )
    assume(not host.startswith("www."))
    segment = st.text(st.characters(categories=["L", "N"]) | st.sampled_from("-_.~@"), min_size=1)
    path = "".join("/" + s for s in draw(st.lists(segment, max_size=3)))
    word = st.from_regex(r"[a-z0-9%]{0,6}", fullmatch=True)
    query = draw(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), word))
    scheme = draw(st.sampled_from(["", "http://", "https://", "HTTP://", "//"]))
    www = draw(st.sampled_from(["", "www.", "WWW."]))
    port = draw(st.sampled_from(["", ":80", ":443"]))
    tracking = draw(st.sampled_from(["", "utm_source=x", "fbclid=abc", "gclid=1"]))
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    slash = draw(st.sampled_from(["", "/"]))
    messy_host = host.upper() if draw(st.booleans()) else host
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    messy_pairs = [f"{k}={v}" for k, v in reversed(sorted(query.items()))] + [tracking]
    messy_query = "&".join(p for p in messy_pairs if p)
    canonical = normalise("url", f"https://{host}{path}?{canonical_query}")
    messy = f"{scheme}{www}{messy_host}{port}{path}{slash}?{messy_query}{fragment}"
    return canonical, messy


@QUICK
@given(urls())
def test_property_url_spellings_are_equal(pair: tuple[str, str]) -> None:
    canonical, messy = pair
    assert normalise("url", messy) == canonical
    assert normalise("url", canonical) == canonical
    if messy.lower().startswith(("http", "www")):
        assert guess_kind(messy) == "url"


@QUICK
@given(kind=st.sampled_from(KINDS), value=st.text())
def test_property_arbitrary_text_only_raises_invalid_identifier(kind: str, value: str) -> None:
    try:
        result = normalise(kind, value)
    except InvalidIdentifier as exc:
        assert exc.kind == kind
        assert str(exc)
        return
    assert normalise(kind, result) == result
    assert isinstance(display(kind, result), str)


@QUICK
@given(st.text().filter(str.strip))
def test_property_guess_kind_never_raises_on_non_blank(value: str) -> None:
    assert guess_kind(value) in KINDS
