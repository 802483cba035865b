"""The directory's pages: who may do what, filters through the web, the map page's assets and
CSP, the import page and the add/edit form."""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.structure import Structure
from backoffice.services import directory
from tests.conftest import csrf_token, login
from tests.integration.test_access_matrix import ROLES, USER_OF_ROLE

EDITORS = {"Admin", "Moderator", "SocialWorker"}
HEADER = "code;name;category;services;languages;city;department;latitude;longitude;active"
VENDOR = Path(__file__).resolve().parents[2] / "backoffice" / "static" / "vendor" / "leaflet"


def token() -> str:
    return "tv" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
def structures(app):
    """Three active structures and an inactive one, named with a token for this module."""
    tok = token()
    with app.app_context():
        report = directory.import_csv(
            "\n".join(
                [
                    HEADER,
                    f"{tok}-a;{tok} Alpha;cegidd;testing|pep;fr|en;Paris;75;48.85;2.35;",
                    f"{tok}-b;{tok} Beta;community;peer_support;fr|ro;Marseille;13;43.3;5.37;",
                    f"{tok}-c;{tok} Gamma;hospital;health|pep;fr|gcf;Basse-Terre;971;;;",
                    f"{tok}-d;{tok} Delta;police;complaint;fr;Paris;75;48.86;2.36;no",
                ]
            ).encode()
        )
        assert report.created == 4
        db.session.commit()
        ids = {
            s.code.rsplit("-", 1)[1]: s.id
            for s in db.session.scalars(select(Structure).where(Structure.code.like(f"{tok}-%")))
        }
    return tok, ids


@pytest.fixture(scope="module")
def signed_in(app):
    """One signed-in client per demo user for the module (password hashing is slow)."""
    clients: dict[str, object] = {}

    def _client(username: str):
        if username not in clients:
            client = app.test_client()
            assert login(client, username).status_code == 302
            clients[username] = client
        return clients[username]

    return _client


def structure_by_code(code: str) -> Structure | None:
    return db.session.scalar(select(Structure).where(Structure.code == code))


# -- access ---------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_directory(signed_in, structures, role):
    tok, ids = structures
    client = signed_in(USER_OF_ROLE[role])
    for url in (
        f"/directory/?q={tok}",
        f"/directory/{ids['a']}",
        f"/directory/map?q={tok}",
        f"/directory/map/markers.json?q={tok}",
        f"/directory/export.csv?q={tok}",
    ):
        assert client.get(url).status_code == 200, (role, url)


@pytest.mark.parametrize("role", ROLES)
def test_only_editors_add_edit_and_import(app, signed_in, structures, role):
    tok, ids = structures
    client = signed_in(USER_OF_ROLE[role])
    expected = 200 if role in EDITORS else 403
    for url in (
        "/directory/manage/add",
        f"/directory/manage/{ids['a']}/edit",
        "/directory/manage/import",
    ):
        assert client.get(url).status_code == expected, (role, url)
    if role in EDITORS:
        return
    # A refused role cannot write by posting directly either (token from a page it may open).
    token_value = csrf_token(client, "/resetmypassword/form")
    name = f"{tok} Intruder {role}"
    posts = {
        "/directory/manage/add": {"name": name, "category": "other", "city": "Paris"},
        f"/directory/manage/{ids['a']}/edit": {"name": name, "category": "other", "city": "X"},
    }
    for url, form in posts.items():
        response = client.post(url, data={**form, "department": "75", "csrf_token": token_value})
        assert response.status_code == 403
    upload = {"csrf_token": token_value, "file": (io.BytesIO(_csv(f"{tok}-x;{name}")), "a.csv")}
    assert client.post("/directory/manage/import", data=upload).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(Structure).where(Structure.name == name)) is None
        assert structure_by_code(f"{tok}-a").name == f"{tok} Alpha"


def test_anonymous_visitors_are_sent_to_the_login_page(client, structures):
    _tok, ids = structures
    for url in (
        "/directory/",
        f"/directory/{ids['a']}",
        "/directory/map",
        "/directory/map/markers.json",
        "/directory/export.csv",
        "/directory/manage/import",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_inactive_structures_only_for_editors(signed_in, structures):
    tok, _ids = structures
    outreach = signed_in("demo-outreach").get(f"/directory/?q={tok}&inactive=1")
    assert f"{tok} Delta" not in outreach.get_data(as_text=True)
    social = signed_in("demo-social-a").get(f"/directory/?q={tok}&inactive=1")
    assert f"{tok} Delta" in social.get_data(as_text=True)


def test_unknown_structure_and_odd_arguments(signed_in):
    client = signed_in("demo-coordinator")
    assert client.get("/directory/999999999").status_code == 404
    assert client.get("/directory/manage/999999999/edit").status_code == 403  # not an editor
    for query in ("page=abc", "page=99999999999", "department=%00", "q=" + "x" * 500):
        assert client.get(f"/directory/?{query}").status_code == 200, query
    assert signed_in("demo-moderator").get("/directory/manage/999999999/edit").status_code == 404


# -- filters through the web --------------------------------------------------------------------
def test_list_honours_filters(signed_in, structures):
    tok, _ids = structures
    client = signed_in("demo-relay")

    def shown(query: str) -> set[str]:
        page = client.get(f"/directory/?q={tok}&{query}").get_data(as_text=True)
        return {n for n in ("Alpha", "Beta", "Gamma", "Delta") if f"{tok} {n}" in page}

    assert shown("") == {"Alpha", "Beta", "Gamma"}
    assert shown("department=13") == {"Beta"}
    assert shown("service=pep") == {"Alpha", "Gamma"}
    assert shown("language=gcf") == {"Gamma"}
    assert shown("category=cegidd") == {"Alpha"}


def test_markers_honour_filters_and_count_unlocated(signed_in, structures):
    tok, ids = structures
    client = signed_in("demo-outreach")
    data = client.get(f"/directory/map/markers.json?q={tok}").get_json()
    assert {m["id"] for m in data["structures"]} == {ids["a"], ids["b"]}
    assert data["without_coordinates"] == 1  # Gamma has no coordinates; Delta is inactive
    data = client.get(f"/directory/map/markers.json?q={tok}&service=peer_support").get_json()
    assert [m["name"] for m in data["structures"]] == [f"{tok} Beta"]
    marker = data["structures"][0]
    assert marker["url"] == f"/directory/{ids['b']}" and marker["lat"] == pytest.approx(43.3)
    data = client.get(f"/directory/map/markers.json?q={tok}&department=971").get_json()
    assert data == {"structures": [], "without_coordinates": 1}


def test_export_honours_filters_and_is_audited(app, signed_in, structures):
    tok, _ids = structures
    response = signed_in("demo-coordinator").get(f"/directory/export.csv?q={tok}&language=ro")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeffcode;name;") and f"{tok} Beta" in text
    assert f"{tok} Alpha" not in text
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "directory_exported")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.actor_name == "demo-coordinator"
        assert event.details["count"] == 1 and event.details["language"] == "ro"


# -- the map page -------------------------------------------------------------------------------
URL_RE = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']+)["']|url\(([^)]+)\)""")


def test_map_page_loads_only_local_assets_and_the_configured_tiles(app, signed_in, monkeypatch):
    tiles = "https://{s}.tiles.example.org/{z}/{x}/{y}.png"
    monkeypatch.setitem(app.config, "MAP_TILES_URL", tiles)
    monkeypatch.setitem(app.config, "MAP_TILES_ATTRIBUTION", "© Example contributors")
    client = signed_in("demo-outreach")
    response = client.get("/directory/map")
    page = response.get_data(as_text=True)
    assert f'data-tiles-url="{tiles}"' in page
    external = [
        url
        for pair in URL_RE.findall(page)
        for url in pair
        if url and re.match(r"(?:[a-z]+:)?//", url.strip("'\" "))
    ]
    assert external == []
    assert re.findall(r"https?://[^\s\"'<>]+", page) == [tiles]
    for asset in ("leaflet.js", "leaflet.css"):
        assert f"/static/vendor/leaflet/{asset}" in page
        assert client.get(f"/static/vendor/leaflet/{asset}").status_code == 200
    assert client.get("/static/directory/map.js").status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://*.tiles.example.org;" in csp
    # Only the map page may load images from the tiles host.
    assert "tiles.example.org" not in client.get("/directory/").headers["Content-Security-Policy"]


def test_map_page_without_usable_tiles_still_lists_the_structures(
    app, signed_in, structures, monkeypatch
):
    tok, _ids = structures
    monkeypatch.setitem(app.config, "MAP_TILES_URL", "javascript:alert(1)")
    response = signed_in("demo-relay").get(f"/directory/map?q={tok}")
    page = response.get_data(as_text=True)
    assert 'data-tiles-url=""' in page
    assert f"{tok} Alpha" in page and f"{tok} Gamma" in page  # the list beside the map
    assert "img-src 'self' data:;" in response.headers["Content-Security-Policy"]


def test_leaflet_is_vendored_with_its_licence():
    assert (VENDOR / "LICENSE").read_text().startswith("BSD 2-Clause License")
    assert "1.9.4" in (VENDOR / "leaflet-src.js").read_text()[:500]


# -- import page ----------------------------------------------------------------------------
def _csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8")


def _upload(client, raw: bytes, dry_run: bool = False):
    data = {
        "csrf_token": csrf_token(client, "/directory/manage/import"),
        "file": (io.BytesIO(raw), "structures.csv"),
    }
    if dry_run:
        data["dry_run"] = "1"
    return client.post("/directory/manage/import", data=data, content_type="multipart/form-data")


def test_import_page_reports_created_and_rejected_lines(app, signed_in):
    tok = token()
    client = signed_in("demo-social-b")
    raw = _csv(
        f"{tok}-1;{tok} Good;lawyer;legal;fr;Lyon;69;;;", f"{tok}-2;{tok} Bad;lawyer;;;X;99;;;"
    )
    response = _upload(client, raw)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    report = page[page.index('id="import-report"') :]
    assert re.search(r"<td>3</td>\s*<td>" + tok + " Bad</td>", report)
    assert "department: unknown code “99”" in report
    with app.app_context():
        assert structure_by_code(f"{tok}-1") is not None
        assert structure_by_code(f"{tok}-2") is None


def test_import_page_dry_run_and_malformed_file_write_nothing(app, signed_in):
    tok = token()
    client = signed_in("demo-moderator")
    page = _upload(client, _csv(f"{tok}-1;{tok} Dry;lawyer;;;Lyon;69;;;"), dry_run=True)
    assert page.status_code == 200
    broken = ("name;category;city;department\n" + f"{tok} é;other;Paris;75\n").encode("latin-1")
    page = _upload(client, broken).get_data(as_text=True)
    assert 'class="alert alert-danger"' in page and "UTF-8" in page
    no_file = client.post(
        "/directory/manage/import",
        data={"csrf_token": csrf_token(client, "/directory/manage/import")},
    )
    assert no_file.status_code == 200
    with app.app_context():
        assert structure_by_code(f"{tok}-1") is None
        assert db.session.scalar(select(Structure).where(Structure.name.contains(tok))) is None


def test_import_without_csrf_token_is_refused(app, signed_in):
    tok = token()
    client = signed_in("demo-admin")
    data = {"file": (io.BytesIO(_csv(f"{tok}-1;{tok} X;other;;;Paris;75;;;")), "a.csv")}
    assert client.post("/directory/manage/import", data=data).status_code == 400
    with app.app_context():
        assert structure_by_code(f"{tok}-1") is None


# -- add and edit ---------------------------------------------------------------------------
def _form(client, url: str, **values):
    data = {
        "csrf_token": csrf_token(client, url),
        "category": "cegidd",
        "city": "Lille",
        "department": "59",
        "active": "yes",
        **values,
    }
    return client.post(url, data=data)


def test_add_checks_the_form_then_creates_and_audits(app, signed_in):
    tok = token()
    client = signed_in("demo-social-a")
    bad = _form(
        client,
        "/directory/manage/add",
        name=f"{tok} Nouveau",
        department="99",
        website="javascript:alert(1)",
    )
    assert bad.status_code == 200
    text = bad.get_data(as_text=True)
    assert "department: unknown code" in text and "website:" in text
    with app.app_context():
        assert (
            db.session.scalar(select(Structure).where(Structure.name == f"{tok} Nouveau")) is None
        )
    good = _form(
        client,
        "/directory/manage/add",
        name=f"{tok} Nouveau",
        services=["testing", "pep"],
        languages=["fr", "ar"],
        latitude="50,63",
        longitude="3,06",
        opening_hours="Mon-Fri 9:00-17:00\nSat 9:00-12:00",
        trained_on_sex_work="yes",
    )
    assert good.status_code == 302
    with app.app_context():
        created = db.session.scalar(select(Structure).where(Structure.name == f"{tok} Nouveau"))
        assert good.headers["Location"].endswith(f"/directory/{created.id}")
        assert (created.services, created.languages) == (["pep", "testing"], ["fr", "ar"])
        assert created.trained_on_sex_work and created.latitude == pytest.approx(50.63)
        assert created.opening_hours_lines == ["Mon-Fri 9:00-17:00", "Sat 9:00-12:00"]
        assert created.code.startswith("cegidd-lille-" + tok)
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "structure_created")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.object_id == str(created.id) and event.actor_name == "demo-social-a"
    # The same name again gets its own code rather than overwriting the first structure.
    assert _form(client, "/directory/manage/add", name=f"{tok} Nouveau").status_code == 302
    with app.app_context():
        codes = db.session.scalars(
            select(Structure.code).where(Structure.name == f"{tok} Nouveau")
        ).all()
        assert len(set(codes)) == 2


def test_edit_updates_and_refuses_a_stale_version(app, signed_in, structures):
    tok, ids = structures
    client = signed_in("demo-moderator")
    url = f"/directory/manage/{ids['b']}/edit"
    page = client.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', page).group(1)
    assert 'value="peer_support" checked' in page
    response = _form(
        client,
        url,
        version=version,
        name=f"{tok} Beta",
        category="community",
        city="Marseille",
        department="13",
        latitude="43.3",
        longitude="5.37",
        services=["peer_support", "legal"],
        languages=["fr", "ro", "bg"],
    )
    assert response.status_code == 302
    with app.app_context():
        beta = db.session.get(Structure, ids["b"])
        assert beta.services == ["legal", "peer_support"] and "bg" in beta.languages
    stale = _form(
        client,
        url,
        version=version,
        name=f"{tok} Beta overwritten",
        category="community",
        city="Marseille",
        department="13",
    )
    assert stale.status_code == 302 and stale.headers["Location"].endswith(url)
    with app.app_context():
        assert db.session.get(Structure, ids["b"]).name == f"{tok} Beta"
