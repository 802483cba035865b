"""Build backoffice/data/person_names.json, the anonymisation assistant's name lists.

The given names and family names come from Faker's person providers (a maintained, MIT
package) for the locales of the ten alert languages; nothing is typed by hand except the
short list of ordinary words below that are also names (they would redact "Rosa" the colour,
"أمل" hope). Names that are stop words of any of the ten languages (spaCy's lists) go too.

Run after upgrading Faker (pinned in requirements-dev.txt): ``.venv/bin/python
tools/build_name_lists.py``. The app reads the JSON only; Faker is not needed at run time.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import faker


def _words(text: str) -> list[str]:
    return text.split()


OUT = Path(__file__).resolve().parent.parent / "backoffice" / "data" / "person_names.json"
# The ten languages' own locales, and those of the communities the programme serves:
# the Maghreb, Nigeria and Ghana, Latin America.
LOCALES = _words(
    "fr_FR en_US en_GB es_ES es_MX pt_PT pt_BR ro_RO bg_BG ru_RU uk_UA zh_CN zh_TW ar_AA ar_SA "
    "ar_DZ fr_DZ en_NG yo_NG ig_NG ha_NG tw_GH es_CO es_AR es_CL"
)
LANGUAGES = ("fr", "en", "es", "pt", "ro", "bg", "ru", "uk", "zh", "ar")
GIVEN = ("first_names_female", "first_names_male", "first_names")
FAMILY = ("last_names", "last_names_female", "last_names_male")

# Ordinary words in a testimony that are also given names in one of the lists. Not a name
# list: a stop list, so that a capitalised word at a sentence start is not redacted.
ORDINARY_WORDS = _words("""
Rose Marine Aurore Margot Alice Blanche Claire Constance Prudence Victoire Reine Olive Capucine
Pâquerette Violette Clémence Colombe Fleur Étoile Océane Perle Vérité Céleste Agathe Jade
Will May June Hope Faith Summer Dawn Mark Bill Art Jack Sue Pat Rich Guy Frank
Rosa Luz Pilar Dolores Amparo Consuelo Mar Paz Jesús Cruz Blanca Nieves Sol Reyes Ángeles
Graça Glória Vitória Lua Rosário Fé Bela
Вера Надежда Любовь Мира Роза Слава Лада
Віра Надія Любов
أمل نور سعيد كريم جميل صباح حياة هدى منى سلام عادل أمين حسن فرح رجاء سماح وفاء إيمان
طويل قصير كبير صغير ناجي شريف فاضل كامل منصور نبيل سالم رشيد سعادة راضي مسعود عزيز مبروك
""")
# Names that are also stop words somewhere but far more often names in a testimony.
ALWAYS_NAMES = {"Ali", "Dan", "Mia", "Sean", "Li", "Ким", "علي"}
# Single Han characters: only as part of a surname + given name, never alone (see anonymise).
HAN = re.compile(r"^[\u4e00-\u9fff]+$")


def _values(provider: type, attr: str) -> list[str]:
    data = getattr(provider, attr, None) or ()
    if isinstance(data, property):  # computed from the gendered lists, read those instead
        return []
    # "Ana Maria", "تاج الدّين": each word is looked up on its own.
    return [word for value in data for word in str(value).split()]


def _stop_words() -> set[str]:
    words: set[str] = set()
    for lang in LANGUAGES:
        module = importlib.import_module(f"spacy.lang.{lang}.stop_words")
        words |= {w.casefold() for w in module.STOP_WORDS}
    return words


def _keep(name: str, stop: set[str], ordinary: set[str]) -> bool:
    if name in ALWAYS_NAMES:
        return True
    if name.casefold() in stop or name.casefold() in ordinary:
        return False
    return len(name) >= (1 if HAN.match(name) else 2)


def build() -> dict[str, object]:
    stop = _stop_words()
    ordinary = {w.casefold() for w in ORDINARY_WORDS}
    given: set[str] = set()
    family: set[str] = set()
    for locale in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in GIVEN:
            given |= {n for n in _values(provider, attr) if _keep(n, stop, ordinary)}
        for attr in FAMILY:
            family |= {n for n in _values(provider, attr) if _keep(n, stop, ordinary)}
    return {
        "source": f"Faker {faker.VERSION} person providers: {' '.join(LOCALES)}",
        "built_by": "tools/build_name_lists.py",
        "given": sorted(given),
        "family": sorted(family),
    }


def main() -> None:
    data = build()
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['given'])} given names, {len(data['family'])} family names")


if __name__ == "__main__":
    main()
