"""``GET /api/v1/structures`` as API.md describes it (every answer checked by ContractClient)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.structure import Structure
from backoffice.services import api_keys, directory

HEADER = "code;name;category;services;languages;city;department;latitude;longitude;notes;source"
# Guadeloupe: a department no other test fills, so the feed's content is this module's own.
DEPARTMENT = "971"


@pytest.fixture(scope="module")
def key(app) -> str:
    with app.app_context():
        _client, key = api_keys.create_client(f"structures-{uuid.uuid4().hex[:8]}")
        db.session.commit()
    return key


@pytest.fixture(scope="module")
def entries(app) -> dict[str, int]:
    """Three verified entries at known places, one unverified, one verified long ago."""
    tok = "api" + uuid.uuid4().hex[:8]
    lines = [
        f"{tok}-near;{tok} Near;hospital;pep;fr|en;Pointe-à-Pitre;971;16.2411;-61.5331;"
        "secret note;secret source",
        f"{tok}-far;{tok} Far;cegidd;testing;fr;Basse-Terre;971;15.9985;-61.7255;;",
        f"{tok}-mid;{tok} Mid;community;peer_support;fr|es;Le Gosier;971;16.2065;-61.4930;;",
        f"{tok}-unchecked;{tok} Unchecked;hospital;pep;fr;Les Abymes;971;16.2710;-61.5046;;",
        f"{tok}-old;{tok} Old;hospital;pep;fr;Sainte-Anne;971;16.2263;-61.3795;;",
    ]
    with app.app_context():
        report = directory.import_csv(("\n".join([HEADER, *lines]) + "\n").encode())
        assert report.accepted == 5, report.rejected
        ids = dict(
            db.session.execute(
                select(Structure.code, Structure.id).where(Structure.code.like(f"{tok}-%"))
            ).all()
        )
        for name in ("near", "far", "mid"):
            db.session.get(Structure, ids[f"{tok}-{name}"]).verified_at = utcnow()
        db.session.get(Structure, ids[f"{tok}-old"]).verified_at = utcnow() - dt.timedelta(days=400)
        db.session.commit()
    return {code.removeprefix(f"{tok}-"): structure_id for code, structure_id in ids.items()}


def _get(app, key, query: str):
    return app.test_client().get(
        f"/api/v1/structures?{query}", headers={"Authorization": f"Bearer {key}"}
    )


def test_verified_entries_only_with_public_fields_only(app, key, entries):
    answer = _get(app, key, f"department={DEPARTMENT}")
    assert answer.status_code == 200
    body = answer.get_json()
    ids = {item["id"] for item in body["structures"]}
    assert entries["unchecked"] not in ids
    assert {entries["near"], entries["far"], entries["mid"], entries["old"]} <= ids
    states = {item["id"]: item["verification"] for item in body["structures"]}
    assert states[entries["old"]] == "due" and states[entries["near"]] == "verified"
    assert "secret" not in answer.get_data(as_text=True)
    assert "distance_km" not in body["structures"][0]


def test_near_sorts_by_distance_and_filters_by_service(app, key, entries):
    # From the airport of Pointe-à-Pitre.
    answer = _get(app, key, f"department={DEPARTMENT}&near=16.2650,-61.5318&lang=ro")
    items = [i for i in answer.get_json()["structures"] if i["id"] in entries.values()]
    assert [i["id"] for i in items][:3] == [entries["near"], entries["mid"], entries["old"]]
    assert items[0]["distance_km"] == pytest.approx(2.7, abs=0.2)
    assert items[0]["services"][0] == {"code": "pep", "label": "Tratament post-expunere (PEP)"}
    testing = _get(app, key, f"department={DEPARTMENT}&service=testing").get_json()
    assert [i["id"] for i in testing["structures"]] == [entries["far"]]
    community = _get(app, key, f"department={DEPARTMENT}&service=community&lang=ar").get_json()
    assert [i["id"] for i in community["structures"]] == [entries["mid"]]
    assert community["structures"][0]["services"][0]["label"].startswith("جمعية")


@pytest.mark.parametrize(
    "query",
    ["near=north", "near=91,2", "near=1,2,3", "service=massage", "department=00", "cursor=-1"],
)
def test_bad_parameters_are_refused(app, key, query):
    answer = _get(app, key, query)
    assert answer.status_code == 422
    assert answer.get_json()["error"] == "validation_failed"


def test_without_key_401(app):
    assert app.test_client().get("/api/v1/structures").status_code == 401
