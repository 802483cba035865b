"""GSM-7 / UCS-2 detection, segment counting and splitting of SMS."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.services.sms_encoding import (
    GSM7_EXTENSION,
    PART_LIMIT,
    SINGLE_LIMIT,
    is_gsm7,
    sms_parts,
    split_sms,
    to_gsm7,
)

EMOJI = "\U0001f600"  # 😀, outside the BMP: a UTF-16 surrogate pair


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world!",
        "é è ù ì ò à Ç Ñ ñ ü Ü Ä ä Ö ö Å å Æ æ ß Ø ø É",
        "@£$¥¿¡§ΔΦΓΛΩΠΨΣΘΞ",
        "{}[]~^|\\€",
    ],
)
def test_gsm7_texts(text: str) -> None:
    assert is_gsm7(text)


@pytest.mark.parametrize(
    "text",
    ["ç", "ș", "ț", "ă", "ã", "õ", "ê", "À", "œ", "’", "–", "Привет", "你好", "مرحبا", EMOJI],
)
def test_not_gsm7(text: str) -> None:
    assert not is_gsm7(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("GSM-7", 0, 0)),
        ("a" * 160, ("GSM-7", 1, 160)),
        ("a" * 161, ("GSM-7", 2, 161)),
        ("a" * 306, ("GSM-7", 2, 306)),
        ("a" * 307, ("GSM-7", 3, 307)),
        ("€" * 80, ("GSM-7", 1, 160)),  # extension characters count 2
        ("€" * 81, ("GSM-7", 2, 162)),
        ("a{b}", ("GSM-7", 1, 6)),
        ("ж" * 70, ("UCS-2", 1, 70)),
        ("ж" * 71, ("UCS-2", 2, 71)),
        ("ж" * 134, ("UCS-2", 2, 134)),
        ("ж" * 135, ("UCS-2", 3, 135)),
        (EMOJI * 35, ("UCS-2", 1, 70)),  # an emoji counts 2 UTF-16 units
        (EMOJI * 36, ("UCS-2", 2, 72)),
        ("a" * 69 + "ç", ("UCS-2", 1, 70)),  # one non-GSM character switches everything
    ],
)
def test_sms_parts(text: str, expected: tuple[str, int, int]) -> None:
    assert sms_parts(text) == expected


def test_extension_character_in_ucs2_counts_once() -> None:
    # In UCS-2 "€" is one UTF-16 unit; only GSM-7 needs an escape.
    assert sms_parts("€ж") == ("UCS-2", 1, 2)


def test_short_text_is_one_part() -> None:
    assert split_sms("Hello") == ["Hello"]
    assert split_sms("") == []


def test_split_never_cuts_an_escape_pair() -> None:
    text = "a" * 152 + "€" + "b" * 20
    parts = split_sms(text)
    assert parts[0] == "a" * 152  # "€" would need septets 153 and 154
    assert parts[1].startswith("€")
    assert "".join(parts) == text


def test_split_never_cuts_a_surrogate_pair() -> None:
    text = "a" * 66 + EMOJI + "b" * 10
    parts = split_sms(text)
    assert parts == ["a" * 66, EMOJI + "b" * 10]
    assert all(sms_parts(part)[2] <= PART_LIMIT["UCS-2"] for part in parts)


def test_split_prefers_spaces() -> None:
    words = " ".join(["alerte"] * 60)  # 419 characters, 3 parts either way
    parts = split_sms(words)
    assert "".join(parts) == words
    assert len(parts) == sms_parts(words)[1]
    for part in parts[:-1]:
        assert part.endswith(" ")
        assert sms_parts(part)[2] <= PART_LIMIT["GSM-7"]


def test_split_cuts_hard_when_spaces_would_cost_a_segment() -> None:
    # Exactly two full parts: cutting at the space would push text into a third part.
    text = "x" * 150 + " " + "y" * 155
    assert sms_parts(text)[1] == 2
    assert split_sms(text) == [text[:153], text[153:]]


def test_ucs2_part_limit() -> None:
    text = "Внимание " * 20
    parts = split_sms(text)
    assert "".join(parts) == text
    assert all(sms_parts(part)[2] <= PART_LIMIT["UCS-2"] for part in parts)


GSM_CHARS = [*"abc XYZ 019.,é€{}[]~^|\\\n"]
TEXTS = st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=500) | st.text(
    alphabet=st.sampled_from([*GSM_CHARS, "ж", "你", "م", EMOJI]), max_size=500
)


@given(TEXTS)
def test_split_property(text: str) -> None:
    parts = split_sms(text)
    assert "".join(parts) == text
    encoding, segments, _ = sms_parts(text)
    assert len(parts) == segments
    limit = SINGLE_LIMIT[encoding] if segments == 1 else PART_LIMIT[encoding]
    for part in parts:
        # Each part is counted in the encoding of the whole message.
        weight = [
            2 if (encoding == "GSM-7" and c in GSM7_EXTENSION) or ord(c) > 0xFFFF else 1
            for c in part
        ]
        assert 0 < sum(weight) <= limit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Răspunde STOP oricând, ține-te și înțelege",
            "Raspunde STOP oricand, tine-te si intelege",
        ),
        ("Ş ş Ţ ţ", "S s T t"),  # cedilla forms, still common on Romanian keyboards
        ("inscrição, você, não, opções", "inscricao, voce, nao, opcoes"),
        ("À risque – « relou » … l’hôtel", 'A risque - " relou " ... l\'hotel'),
        ("é è à ù ñ ü Ç", "é è à ù ñ ü Ç"),  # already GSM-7: kept
        ("cœur\u00a0:", "coeur :"),
        ("Привет 😀", "Привет 😀"),  # nothing to map: left for UCS-2
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected


def test_to_gsm7_makes_latin_languages_gsm7() -> None:
    samples = [
        "Răspunde STOP pentru dezabonare. Înscriere confirmată: vei primi alertele.",
        "Responda STOP para cancelar. Inscrição confirmada: você vai receber os alertas.",
        "Inscription confirmée : vous recevrez les alertes. Répondez STOP à tout moment.",
        "Registro confirmado: recibirás las alertas. Responde STOP en cualquier momento.",
    ]
    for sample in samples:
        assert is_gsm7(to_gsm7(sample)), sample
