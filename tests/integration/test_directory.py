"""The directory of structures, service level: filters, CSV import, export and map points.

The database is shared by the whole test session, so every test names its structures with a
unique token and searches with it.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.demo.directory import DEMO_FILE
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.structure import STRUCTURE_CATEGORIES, Structure
from backoffice.services import directory
from backoffice.services.directory import DirectoryFilters
from backoffice.services.directory_geography import (
    DEPARTMENT_NAMES,
    area_of_point,
    department_of_postcode,
)
from backoffice.services.vocabulary import DEPARTMENTS

HEADER = "code;name;category;services;languages;city;department;latitude;longitude;active"


def token() -> str:
    return "tk" + uuid.uuid4().hex[:10]


def csv_bytes(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode("utf-8")


def names(filters: DirectoryFilters) -> set[str]:
    return {s.name for s in db.session.scalars(directory.structures_query(filters))}


def count_with(tok: str) -> int:
    return db.session.scalar(select(func.count(Structure.id)).where(Structure.name.contains(tok)))


def last_event(action: str) -> AuditEvent | None:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())
    ).first()


@pytest.fixture
def four(app_context):
    """Four structures in three areas; the police station is inactive."""
    tok = token()
    report = directory.import_csv(
        csv_bytes(
            f"{tok}-a;{tok} CeGIDD Saint-Étienne;cegidd;testing|pep;fr|en;Paris;75;48.85;2.35;yes",
            f"{tok}-b;{tok} Collectif;community;peer_support|legal;fr|ro;Marseille;13;43.3;5.37;",
            f"{tok}-c;{tok} CHU;hospital;health|pep;fr|gcf;Pointe-à-Pitre;971;16.24;-61.53;1",
            f"{tok}-d;{tok} Commissariat;police;complaint;fr;Paris;75;;;no",
        )
    )
    assert report.rejected == [] and report.created == 4
    db.session.commit()
    return tok


# -- filters ------------------------------------------------------------------------------------
def test_filters_return_the_right_rows(four):
    tok = four

    def only(**kwargs) -> set[str]:
        return {n.removeprefix(f"{tok} ") for n in names(DirectoryFilters(text=tok, **kwargs))}

    assert only() == {"CeGIDD Saint-Étienne", "Collectif", "CHU"}
    assert only(include_inactive=True) == {
        "CeGIDD Saint-Étienne",
        "Collectif",
        "CHU",
        "Commissariat",
    }
    assert only(department="75") == {"CeGIDD Saint-Étienne"}
    assert only(department="971") == {"CHU"}
    assert only(service="pep") == {"CeGIDD Saint-Étienne", "CHU"}
    assert only(service="legal") == {"Collectif"}
    assert only(language="ro") == {"Collectif"}
    assert only(language="fr") == {"CeGIDD Saint-Étienne", "Collectif", "CHU"}
    assert only(category="community") == {"Collectif"}
    assert only(department="75", service="legal") == set()
    assert only(service="pep", language="gcf") == {"CHU"}


def test_text_search_ignores_accents_case_and_punctuation(four):
    tok = four
    assert names(DirectoryFilters(text=f"{tok.upper()} saint etienne")) == {
        f"{tok} CeGIDD Saint-Étienne"
    }
    assert names(DirectoryFilters(text=f"{tok} POINTE-A-PITRE")) == {f"{tok} CHU"}
    assert names(DirectoryFilters(text=f"{tok} %")) == names(DirectoryFilters(text=tok))


def test_filters_from_request_arguments_drop_unknown_codes():
    filters = DirectoryFilters.from_args(
        {
            "department": "99",
            "service": "<script>",
            "language": "xx",
            "q": "  a   b ",
            "inactive": "1",
        }
    )
    assert filters == DirectoryFilters(text="a b")
    assert DirectoryFilters.from_args({"inactive": "1"}, allow_inactive=True).include_inactive
    kept = DirectoryFilters.from_args({"department": "2A", "service": "pep", "language": "zh"})
    assert kept.as_args() == {"department": "2A", "service": "pep", "language": "zh"}


def test_pages_are_bounded(four):
    page = directory.page_of(DirectoryFilters(text=four), number=999, size=2)
    assert (page.total, page.pages, page.number, len(page.items)) == (3, 2, 2, 1)


def test_map_points_honour_the_filters(four):
    tok = four
    points, without = directory.map_points(DirectoryFilters(text=tok, service="pep"))
    assert {p["name"] for p in points} == {f"{tok} CeGIDD Saint-Étienne", f"{tok} CHU"}
    assert without == 0
    points, without = directory.map_points(DirectoryFilters(text=tok, include_inactive=True))
    assert len(points) == 3 and without == 1  # the police station has no coordinates


# -- import ---------------------------------------------------------------------------------
def test_import_creates_then_updates_then_leaves_unchanged(app_context):
    tok = token()
    first = csv_bytes(f"{tok}-1;{tok} Un;allied;legal;fr;Lyon;69;45.76;4.83;")
    report = directory.import_csv(first)
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0)
    db.session.commit()
    assert directory.import_csv(first).unchanged == 1
    changed = csv_bytes(f"{tok}-1;{tok} Un;allied;legal|shelter;fr|en;Lyon;69;45.76;4.83;")
    report = directory.import_csv(changed)
    assert (report.created, report.updated) == (0, 1)
    db.session.commit()
    structure = db.session.scalar(select(Structure).where(Structure.code == f"{tok}-1"))
    assert structure.services == ["legal", "shelter"] and structure.languages == ["fr", "en"]
    event = last_event("directory_imported")
    assert event.details == {"lines": 1, "created": 0, "updated": 1, "unchanged": 0, "rejected": 0}


def test_import_without_codes_derives_them_so_a_second_import_updates(app_context):
    tok = token()
    header = "name;category;city;department"
    file = csv_bytes(f"{tok} Sans code;lawyer;Rennes;35", header=header)
    assert directory.import_csv(file).created == 1
    db.session.commit()
    again = directory.import_csv(file)
    assert (again.created, again.unchanged) == (0, 1)
    assert count_with(tok) == 1


def test_import_accepts_bom_commas_quotes_and_spreadsheet_habits(app_context):
    tok = token()
    text = (
        "\ufeffName,Category,City,Department,Postcode,Notes,Latitude,Longitude,Services\n"
        f'"{tok} Un, deux",cegidd,Ajaccio,2a,20000,"Line one\nline two; still notes",'
        '"41,92","8,73",PEP | Testing\n'
        f"{tok} Ain,shelter,Bourg-en-Bresse,1,1000,,,,shelter\n"
        f"{tok} Mauvais,cegidd,Paris,99,,,,,\n"
    )
    report = directory.import_csv(text.encode("utf-8"))
    assert report.separator == ","
    assert report.created == 2
    # The multi-line quoted field takes lines 2-3: the bad line is the file's line 5.
    assert [r.line for r in report.rejected] == [5]
    db.session.commit()
    corsica = db.session.scalar(select(Structure).where(Structure.name == f"{tok} Un, deux"))
    assert corsica.department == "2A" and corsica.latitude == pytest.approx(41.92)
    assert corsica.services == ["pep", "testing"]
    assert corsica.notes == "Line one\nline two; still notes"
    ain = db.session.scalar(select(Structure).where(Structure.name == f"{tok} Ain"))
    assert (ain.department, ain.postcode) == ("01", "01000")


BAD_LINES = [
    ("{t}-d;{t} D;cegidd;;;Paris;99;;;", "department: unknown code “99”"),
    ("{t}-m;{t} Madrid;cegidd;;;Madrid;75;40.41;-3.70;", "is outside France"),
    ("{t}-s;{t} Swap;cegidd;;;Paris;75;2.35;48.85;", "is outside France"),
    ("{t}-r;{t} Réunion;cegidd;;;Saint-Denis;974;48.85;2.35;", "not in the area of department 974"),
    ("{t}-c;{t} Cat;clinic;;;Paris;75;;;", "category: unknown code “clinic”"),
    ("{t}-v;{t} Serv;cegidd;testing|massage;;Paris;75;;;", "services: unknown code “massage”"),
    ("{t}-l;{t} Lang;cegidd;;fr|klingon;Paris;75;;;", "languages: unknown code “klingon”"),
    ("{t}-n;;cegidd;;;Paris;75;;;", "name: required"),
    ("{t}-h;{t} Half;cegidd;;;Paris;75;48.85;;", "give both latitude and longitude"),
    ("{t}-x;{t} NaN;cegidd;;;Paris;75;north;east;", "coordinates: not a number"),
    ("{t}-a;{t} Act;cegidd;;;Paris;75;;;maybe", "active: yes or no expected"),
    ("{t}-q;{t} Few;cegidd;;;Paris;75", "7 fields instead of 10"),
    ("{t} UPPER CODE;{t} Code;cegidd;;;Paris;75;;;", "code: use lower-case letters"),
]


def test_import_rejects_each_bad_line_with_its_number_and_reason(app_context):
    tok = token()
    lines = [f"{tok}-good;{tok} Good;cegidd;testing;fr;Paris;75;48.85;2.35;"]
    lines += [line.format(t=tok) for line, _reason in BAD_LINES]
    lines.append(f"{tok}-good;{tok} Twin;cegidd;testing;fr;Paris;75;48.85;2.35;")
    report = directory.import_csv(csv_bytes(*lines))
    assert report.created == 1
    rejected = {r.line: " ".join(r.reasons) for r in report.rejected}
    for number, (_line, reason) in enumerate(BAD_LINES, start=3):
        assert reason in rejected.get(number, ""), (number, rejected.get(number))
    duplicate = len(BAD_LINES) + 3
    assert "same code" in rejected[duplicate] and "line 2" in rejected[duplicate]
    assert len(report.rejected) == len(BAD_LINES) + 1
    db.session.commit()
    assert count_with(tok) == 1


def test_import_rejects_unsafe_websites_phones_and_control_characters(app_context):
    tok = token()
    header = "code;name;category;city;department;website;phone;notes"
    report = directory.import_csv(
        csv_bytes(
            f"{tok}-1;{tok} Js;other;Paris;75;javascript:alert(1);;",
            f"{tok}-2;{tok} Ph;other;Paris;75;;call me;",
            f"{tok}-3;{tok} Ctl;other;Paris;75;;;bell\x07",
            f"{tok}-4;{tok} Ok;other;Paris;75;www.example.org;+33 1 23 45 67 89;",
            header=header,
        )
    )
    reasons = [" ".join(r.reasons) for r in report.rejected]
    assert ["website:" in reasons[0], "phone:" in reasons[1], "control" in reasons[2]] == [
        True,
        True,
        True,
    ]
    assert report.created == 1
    db.session.commit()
    ok = db.session.scalar(select(Structure).where(Structure.code == f"{tok}-4"))
    assert ok.website == "https://www.example.org"


def test_a_postcode_of_another_department_is_imported_with_a_warning(app_context):
    tok = token()
    header = "code;name;category;city;department;postcode"
    report = directory.import_csv(csv_bytes(f"{tok};{tok};other;Lyon;69;38000", header=header))
    assert report.created == 1
    assert [w.line for w in report.warnings] == [2]
    assert "38" in report.warnings[0].message


MALFORMED = {
    "not utf-8": ("name;category;city;department\n{t} Café;other;Paris;75\n").encode("latin-1"),
    "missing column": b"name;category;city\n{t};other;Paris\n",
    "unknown column": b"name;category;city;department;email\n{t};other;Paris;75;x\n",
    "twice": b"name;category;city;department;city\n{t};other;Paris;75;Paris\n",
    "unclosed quote": (
        b'name;category;city;department\n{t} ok;other;Paris;75\n"{t};other;Paris;75\n'
    ),
    "empty": b"  \n",
    "binary": b"name;category;city;department\n{t}\x00;other;Paris;75\n",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_file_imports_nothing(app_context, kind):
    tok = token()
    raw = MALFORMED[kind].replace(b"{t}", tok.encode())
    report = directory.import_csv(raw)
    assert report.error, kind
    assert (report.created, report.updated, report.lines) == (0, 0, 0)
    db.session.commit()
    assert count_with(tok) == 0
    assert last_event("directory_import_refused").outcome == "failure"


def test_a_file_too_large_or_too_long_imports_nothing(app_context, monkeypatch):
    tok = token()
    big = csv_bytes(*[f"{tok}-{n};{tok} {n};other;;;Paris;75;;;" for n in range(30)])
    monkeypatch.setattr(directory, "MAX_IMPORT_BYTES", len(big) - 1)
    assert "larger than" in directory.import_csv(big).error
    monkeypatch.setattr(directory, "MAX_IMPORT_BYTES", 10 * len(big))
    monkeypatch.setattr(directory, "MAX_IMPORT_LINES", 20)
    assert "more than 20 lines" in directory.import_csv(big).error
    db.session.commit()
    assert count_with(tok) == 0


def test_a_dry_run_reports_and_writes_nothing(app_context):
    tok = token()
    report = directory.import_csv(
        csv_bytes(
            f"{tok}-1;{tok} A;other;;;Paris;75;;;",
            f"{tok}-2;{tok} B;nope;;;Paris;75;;;",
        ),
        dry_run=True,
    )
    assert (report.dry_run, report.created, len(report.rejected)) == (True, 1, 1)
    db.session.commit()
    assert count_with(tok) == 0


# -- export ---------------------------------------------------------------------------------
def test_export_round_trips_into_import(app_context):
    tok = token()
    header = (
        "code;name;category;services;languages;address;postcode;city;department;latitude;"
        "longitude;location_approximate;phone;website;opening_hours;trained_on_sex_work;"
        "active;notes;source"
    )
    directory.import_csv(
        csv_bytes(
            f'{tok}-1;"=1+1 {tok}";community;peer_support|pep;fr|zh;"3 rue X; bât. B";75018;'
            "Paris;75;48.889341;2.349751;no;+33 1 23 45 67 89;https://example.org/a?b=1;"
            'Mon–Fri 9:00–17:00 | Sat 10:00–12:00;yes;yes;"Ring twice\nthen wait";recalled',
            f"{tok}-2;@{tok} Deux;shelter;shelter;;;;Cayenne;973;4.92;-52.31;yes;115;;;no;no;;",
            header=header,
        )
    )
    db.session.commit()
    filters = DirectoryFilters(text=tok, include_inactive=True)
    text, count = directory.export_csv(filters)
    assert count == 2 and text.startswith("\ufeffcode;name;")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    first = next(r for r in rows if r["code"] == f"{tok}-1")
    assert first["name"] == f"'=1+1 {tok}"  # a spreadsheet will not run it as a formula
    assert first["phone"] == "'+33 1 23 45 67 89"
    assert first["opening_hours"] == "Mon–Fri 9:00–17:00 | Sat 10:00–12:00"
    assert first["services"] == "pep|peer_support"  # vocabulary order

    report = directory.import_csv(text.encode("utf-8"))
    assert (report.created, report.updated, report.unchanged, report.rejected) == (0, 0, 2, [])
    edited = text.replace(f"@{tok} Deux", f"{tok} Deux renamed")
    assert directory.import_csv(edited.encode("utf-8")).updated == 1
    db.session.commit()
    one = db.session.scalar(select(Structure).where(Structure.code == f"{tok}-1"))
    assert one.name == f"=1+1 {tok}" and one.phone == "+33 1 23 45 67 89"
    assert one.opening_hours_lines == ["Mon–Fri 9:00–17:00", "Sat 10:00–12:00"]


def test_export_is_audited_with_codes_and_counts_only(four):
    directory.export_csv(DirectoryFilters(text=four, department="75"))
    db.session.commit()
    event = last_event("directory_exported")
    assert event.details == {
        "count": 1,
        "department": "75",
        "text_search": True,
        "include_inactive": False,
    }
    assert four not in str(event.details)


# -- reference data ---------------------------------------------------------------------------
def test_department_names_cover_exactly_the_departments():
    assert set(DEPARTMENT_NAMES) == set(DEPARTMENTS)
    assert department_of_postcode("20090") == "2A"
    assert department_of_postcode("20600") == "2B"
    assert department_of_postcode("97150") == "971"
    assert area_of_point(-12.78, 45.23) == "976"
    assert area_of_point(18.07, -63.08) == "971"  # Saint-Martin
    for outside in [(50.85, 4.35), (49.61, 6.13), (41.39, 2.17), (45.07, 7.69), (49.21, -2.13)]:
        assert area_of_point(*outside) is None  # Brussels, Luxembourg, Barcelona, Turin, Jersey
    for inside in [(48.46, -5.10), (46.71, -2.35), (43.0, 6.2), (47.59, 7.561), (41.39, 9.16)]:
        assert area_of_point(*inside) == "metropolitan"  # islands, Saint-Louis, Bonifacio


def test_tiles_source_for_the_csp():
    assert directory.tiles_csp_source("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == (
        "https://tile.openstreetmap.org"
    )
    assert directory.tiles_csp_source("https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png") == (
        "https://*.tiles.example.org:8443"
    )
    for bad in ("", None, "javascript:alert(1)", "https://a.org;script-src *", "ftp://x.org/"):
        assert directory.tiles_csp_source(bad) is None


def test_the_demo_directory_imports_cleanly_across_france(app_context):
    report = directory.import_csv(DEMO_FILE.read_bytes(), dry_run=True)
    assert report.error is None and report.rejected == []
    assert report.lines >= 300
    rows = list(csv.DictReader(io.StringIO(DEMO_FILE.read_text("utf-8")), delimiter=";"))
    departments = {row["department"] for row in rows}
    assert len(departments) >= 90 and {"971", "972", "973", "974", "976"} <= departments
    assert {row["category"] for row in rows} == set(STRUCTURE_CATEGORIES)
    # Public-class data only: no e-mail addresses, every coordinate says how sure it is.
    assert "@" not in DEMO_FILE.read_text("utf-8")
    assert all(row["source"] for row in rows)


# -- no input makes the import fail badly ------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=400),
        st.lists(st.lists(st.text(max_size=12), max_size=12).map(";".join), max_size=8).map(
            lambda lines: ("name;category;city;department\n" + "\n".join(lines)).encode()
        ),
    )
)
def test_any_file_gives_a_report_never_an_exception(app, body):
    with app.app_context():
        report = directory.import_csv(body, dry_run=True)
        assert report.error or report.lines == len(report.rejected) + report.accepted
        db.session.rollback()


def test_an_edit_knows_whether_it_started_from_the_current_version(four):
    structure = db.session.scalar(select(Structure).where(Structure.code == f"{four}-a"))
    seen = directory.version_of(structure)
    assert directory.is_current(structure, seen)
    assert not directory.is_current(structure, None)
    row = directory.structure_as_row(structure)
    row["city"] = "Lyon"
    checked = directory.validate_row(row)
    assert directory.update_structure(structure, checked.fields)
    db.session.flush()
    assert not directory.is_current(structure, seen)  # someone saved meanwhile
    db.session.rollback()
