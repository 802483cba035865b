"""The UI is French first: every string the code shows has a French translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _msgids_in_code(tmp_path: Path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(pot),
            "--no-location",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(handle) if m.id}


def test_every_ui_string_has_a_french_translation(tmp_path):
    with (ROOT / "translations/fr/LC_MESSAGES/messages.po").open("rb") as handle:
        french = {
            (m.id if isinstance(m.id, str) else m.id[0]): m.string for m in read_po(handle) if m.id
        }
    missing = sorted(
        msgid
        for msgid in _msgids_in_code(tmp_path)
        if not french.get(msgid) or (isinstance(french[msgid], tuple) and not all(french[msgid]))
    )
    assert not missing, f"untranslated in French (run `make messages`): {missing[:20]}"
