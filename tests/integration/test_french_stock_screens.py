"""French everywhere: the stock Flask-AppBuilder screens speak our French, on every page.

Every role opens, in French, each page the access matrix lets it open, plus the first
"show", "edit" and "add" screen linked from it. No page may show one of FAB's English or
mistaken French strings (a list of what was seen in use), and each page says its language
(``<html lang="fr">``). The language switch returns to the page it was used on.
"""

from __future__ import annotations

import html
import re

import pytest

from tests.integration.test_access_matrix import EXPECTED, PUBLIC, ROLES, USER_OF_ROLE

# What the stock screens used to show on French pages.
STOCK_STRINGS = (
    "S'enregistrer",
    "Sign In",
    "Nombre de record",
    "Record Count",
    "Ajouter un filter",
    "Add Filter",
    "Afficer",
    "Show record",
    "Supprimer le record",
    "Select Value",
    "Select a State",
    "Remove all items",
    "The user role on the application",
    "Ecrire le nom",
    "__None",
    "User confirmation needed",
    "You sure you want",
    "It's not a good policy",
    "LDAP",
    "OID",
    "PartnerRelay",
    "SocialWorker",
    "DataProtection",
)
STOCK_WORDS = re.compile(r"\b(mot de pass|True|False|None|Cancel|Moderator)\b")
SUB_PAGE = re.compile(r'href="(/[^"?#]*/(?:show|edit)/\d+|/[^"?#]*/add)"')
VISIBLE_ATTRIBUTES = re.compile(
    r'\b(?:placeholder|data-placeholder|title|aria-label|alt)="([^"]*)"', re.IGNORECASE
)


def _visible_text(page: str) -> str:
    """What a reader sees or hears: text outside scripts and styles, and labelling attributes."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    labels = " ".join(VISIBLE_ATTRIBUTES.findall(page))
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(f"{text} {labels}")


def _stock_strings_in(page: str) -> list[str]:
    text = _visible_text(page)
    found = [s for s in STOCK_STRINGS if s in text]
    return found + sorted(set(STOCK_WORDS.findall(text)))


def _pages_of(who: str) -> list[str]:
    return sorted({url for url, allowed in EXPECTED.values() if url and who in allowed})


def _french_client(app, login_as, who):
    client = app.test_client() if who == PUBLIC else login_as(USER_OF_ROLE[who])
    client.get("/lang/fr")
    return client


@pytest.mark.parametrize("who", [PUBLIC, *ROLES])
def test_no_stock_english_on_french_pages(app, login_as, who):
    client = _french_client(app, login_as, who)
    seen: dict[str, list[str]] = {}
    to_visit = _pages_of(who)
    visited: set[str] = set()
    while to_visit:
        url = to_visit.pop(0)
        if url in visited:
            continue
        visited.add(url)
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        page = response.get_data(as_text=True)
        assert re.search(r'<html[^>]*\blang="fr"', page), f"{url} does not say lang=fr"
        if found := _stock_strings_in(page):
            seen[url] = found
        if url in _pages_of(who):  # one level down: the first show, edit and add screens
            links = dict.fromkeys(SUB_PAGE.findall(page))
            kinds: set[str] = set()
            for link in links:
                kind = "add" if link.endswith("/add") else link.rsplit("/", 2)[-2]
                if kind not in kinds:
                    kinds.add(kind)
                    to_visit.append(link)
    assert not seen, f"stock strings on French pages of {who}: {seen}"


def test_language_switch_returns_to_the_same_page(app, login_as):
    client = login_as(USER_OF_ROLE["Moderator"])
    response = client.get("/lang/en?next=/alerts/list%3Fpage%3D1")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/alerts/list?page=1")
    page = client.get("/alerts/list").get_data(as_text=True)
    assert 'lang="en"' in page
    client.get("/lang/fr")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_language_switch_never_leaves_the_site(app, login_as, target):
    client = login_as(USER_OF_ROLE["Moderator"])
    response = client.get("/lang/fr", query_string={"next": target})
    assert "evil" not in response.headers.get("Location", "")


def test_role_badges_are_french(app, login_as):
    page = _french_client(app, login_as, "Moderator").get("/").get_data(as_text=True)
    assert "Modératrice/Modérateur" in page
