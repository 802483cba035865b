"""The directory map in a real browser, offline: Leaflet from the repository, markers from
the JSON feed, a notice when tiles cannot load, and names shown as text, never as HTML."""

from __future__ import annotations

import socket
import uuid

import pytest

from backoffice.extensions import db
from backoffice.services import directory
from tests.browser.conftest import browser_login

pytestmark = pytest.mark.browser


@pytest.fixture
def located(app):
    tok = "tb" + uuid.uuid4().hex[:10]
    rows = [
        "code;name;category;services;city;department;latitude;longitude",
        f"{tok}-1;{tok} <img src=x onerror=alert(1)>;cegidd;pep;Lille;59;50.63;3.06",
        f"{tok}-2;{tok} Deux;shelter;shelter;Lille;59;50.64;3.07",
        f"{tok}-3;{tok} Trois;lawyer;legal;Lille;59;;",
    ]
    with app.app_context():
        assert directory.import_csv("\n".join(rows).encode()).created == 3
        db.session.commit()
    return tok


def test_map_works_offline_and_shows_names_as_text(app, page, located, monkeypatch):
    # A closed local port: tiles fail at once, as on a machine without internet access.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    tiles = f"http://127.0.0.1:{closed_port}/{{z}}/{{x}}/{{y}}.png"
    monkeypatch.setitem(app.config, "MAP_TILES_URL", tiles)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, "demo-outreach")
    page.goto(f"/directory/map?q={located}")
    markers = page.locator("#directory-map path.leaflet-interactive")
    markers.first.wait_for()
    assert markers.count() == 2
    page.locator(".directory-map-notice").wait_for()
    status = page.locator("#directory-map-status")
    assert status.inner_text().endswith("1")  # one structure has no coordinates
    page.locator(".directory-side-list li", has_text="<img").locator(".directory-locate").click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert f"{located} <img src=x onerror=alert(1)>" in popup.inner_text()
    assert popup.locator("img").count() == 0 and dialogs == []
    problems = [
        m.text
        for m in page.console_messages()
        if m.type == "error" and "ERR_CONNECTION_REFUSED" not in m.text
    ]
    assert problems == []


def test_a_structure_page_opens_the_map_on_it(app, page, located, monkeypatch):
    monkeypatch.setitem(app.config, "MAP_TILES_URL", "")
    with app.app_context():
        from sqlalchemy import select

        from backoffice.models.structure import Structure

        target = db.session.scalar(select(Structure.id).where(Structure.code == f"{located}-2"))
    browser_login(page, "demo-relay")
    page.goto(f"/directory/{target}")
    page.click("text=see on the map")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert f"{located} Deux" in popup.inner_text()
    assert page.locator(".directory-side-list li.directory-selected").count() == 1
    assert page.locator(".directory-area").count() == 6  # mainland and five overseas
