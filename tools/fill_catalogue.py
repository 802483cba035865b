"""Fill a catalogue's empty translations from a JSON glossary {msgid: msgstr}.

Used to keep the French catalogue complete: ``python tools/fill_catalogue.py
translations/fr/LC_MESSAGES/messages.po tools/glossary_fr.json tools/glossary_fr.d/*.json``
(an area may keep its own glossary file in ``tools/glossary_fr.d/``; later files win).
Existing translations are kept; the untranslated msgids left are listed, and the exit status
is 1 when any remain.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po


def main(po_path: str, *glossary_paths: str) -> int:
    glossary: dict = {}
    for glossary_path in glossary_paths:
        glossary.update(json.loads(Path(glossary_path).read_text(encoding="utf-8")))
    with open(po_path, "rb") as handle:
        catalogue = read_po(handle)
    missing = []
    for message in catalogue:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if message.string and (isinstance(message.string, str) or all(message.string)):
            continue
        if key in glossary:
            value = glossary[key]
            if isinstance(message.id, tuple):
                message.string = tuple(value) if isinstance(value, list) else (value, value)
            else:
                message.string = value[0] if isinstance(value, list) else value
            message.flags.discard("fuzzy")
        else:
            missing.append(key)
    with open(po_path, "wb") as handle:
        write_po(handle, catalogue, width=100, omit_header=False)
    for key in missing:
        print(f"untranslated: {key}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], *sys.argv[2:]))
