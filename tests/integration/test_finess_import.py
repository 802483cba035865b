"""The FINESS importer on a small extract in the register's format (tests/data/finess/)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.structure import Structure
from backoffice.services import finess
from backoffice.services.public_directory import distance_km

DATA = Path(__file__).resolve().parent.parent / "data" / "finess"
SAMPLE = DATA / "etalab-cs1100507-sample.csv"
REFERENCE = json.loads((DATA / "reference_points.json").read_text())["points"]
KEPT = {"750000011", "690000012", "130000013", "2a0000015", "750000016"}  # codes: lower case


def _finess_rows() -> dict[str, Structure]:
    rows = db.session.scalars(select(Structure).where(Structure.code.like("finess-%"))).all()
    return {row.code.removeprefix("finess-"): row for row in rows}


def test_projection_origin_is_exact():
    latitude, longitude = finess.to_wgs84(700000, 6600000)
    assert distance_km(latitude, longitude, 46.5, 3.0) * 1000 < 0.01


def test_dry_run_counts_and_writes_nothing(app_context):
    before = db.session.scalar(select(func.count(Structure.id)))
    report = finess.import_finess(SAMPLE.read_bytes(), dry_run=True)
    assert db.session.scalar(select(func.count(Structure.id))) == before
    assert report.establishments == 6
    assert report.skipped_categories == 1  # the EHPAD
    assert report.without_coordinates == 1  # the health centre has no geolocation line
    assert report.lines == 5 and not report.rejected
    assert report.created + report.updated + report.unchanged == 5
    assert any("dry run" in line for line in finess.summary(report))


def test_loaded_twice_no_duplicate_and_coordinates_within_10_m(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(
            args=["directory", "import-finess", str(SAMPLE)], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 5 unchanged" in result.output
    with app.app_context():
        rows = _finess_rows()
        assert set(rows) == KEPT
        counts = db.session.execute(
            select(Structure.code, func.count())
            .where(Structure.code.like("finess-%"))
            .group_by(Structure.code)
        ).all()
        assert all(count == 1 for _code, count in counts)
        for number, (latitude, longitude) in REFERENCE.items():
            row = rows[number.lower()]
            metres = distance_km(row.latitude, row.longitude, latitude, longitude) * 1000
            assert metres < 10, f"{number}: {metres:.1f} m from the reference point"
        paris = rows["750000011"]
        assert (paris.category, paris.department, paris.postcode) == ("hospital", "75", "75010")
        assert "pep" in paris.services and paris.source_kind == "finess"
        assert paris.verification == "unverified"
        assert paris.address == "2 rue AMBROISE PARE" and paris.phone == "01 40 05 00 00"
        assert rows["130000013"].category == "cegidd"  # named CeGIDD
        assert "contraception" in rows["690000012"].services
        assert rows["2a0000015"].department == "2A" and rows["2a0000015"].city == "Ajaccio"
        assert rows["750000016"].latitude is None


def test_reimport_keeps_what_staff_added(app):
    with app.app_context():
        finess.import_finess(SAMPLE.read_bytes())
        row = _finess_rows()["690000012"]
        row.languages = ["fr", "ro"]
        row.trained_on_sex_work = True
        row.opening_hours = "Mon-Fri 9:00-17:00"
        db.session.commit()
        finess.import_finess(SAMPLE.read_bytes())
        db.session.commit()
        row = _finess_rows()["690000012"]
        assert row.languages == ["fr", "ro"] and row.trained_on_sex_work
        assert row.opening_hours == "Mon-Fri 9:00-17:00"


def test_a_file_of_another_kind_is_refused(app_context):
    with pytest.raises(finess.FinessFileError):
        finess.import_finess(b"code;name\nx;y\n")


def test_reference_points_are_far_enough_apart_to_mean_something():
    points = list(REFERENCE.values())
    assert all(distance_km(*a, *b) > 50 for i, a in enumerate(points) for b in points[i + 1 :])
    assert all(not math.isnan(value) for point in points for value in point)
