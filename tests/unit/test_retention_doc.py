"""The retention table of docs/data-protection.md is the configuration's (it cannot drift)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / "tools" / "retention_table.py"


def _tool():
    spec = importlib.util.spec_from_file_location("retention_table", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_retention_table_is_generated_from_the_configuration():
    tool = _tool()
    assert tool.main(["--check"]) == 0, "run .venv/bin/python tools/retention_table.py"


def test_a_changed_period_changes_the_table():
    tool = _tool()
    config = tool.default_config()
    document = tool.DOCUMENT.read_text(encoding="utf-8")
    config["RETENTION_TESTIMONY_MONTHS"] = 7
    assert "| 7 months after the report is settled" in tool.rendered(document, config)
    assert "| 12 months after the report is settled" in document
