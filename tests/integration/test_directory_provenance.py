"""Directory provenance: verification state, marking verified, reviewed contact changes, and
no screen showing an unverified entry without saying so."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import uuid

import pytest
from flask import g
from flask_login import login_user
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.models.structure import Structure, StructureChange, verification_state
from backoffice.models.user import StaffUser
from backoffice.services import cases, directory
from tests.conftest import csrf_token
from tests.integration.cases_support import open_case, user

HEADER = (
    "code;name;category;services;languages;address;postcode;city;department;phone;"
    "latitude;longitude"
)


def _structures(app, *lines: str) -> dict[str, int]:
    with app.app_context():
        report = directory.import_csv(("\n".join([HEADER, *lines]) + "\n").encode())
        assert report.accepted == len(lines), report.rejected
        db.session.commit()
        codes = [line.split(";")[0] for line in lines]
        rows = db.session.execute(
            select(Structure.code, Structure.id).where(Structure.code.in_(codes))
        ).all()
        return dict(rows)


def _user(username: str) -> StaffUser:
    return db.session.scalar(select(StaffUser).where(StaffUser.username == username))


@pytest.fixture
def pair(app):
    """A verified entry owned by AIDES (demo-social-a's association) and an unverified one."""
    tok = "pv" + uuid.uuid4().hex[:8]
    ids = _structures(
        app,
        f"{tok}-v;{tok} Checked clinic;hospital;pep;fr;1 rue A;75010;Paris;75;"
        "01 40 00 00 01;48.87;2.36",
        f"{tok}-u;{tok} Unchecked clinic;hospital;pep;fr;2 rue B;75010;Paris;75;"
        "01 40 00 00 02;48.88;2.35",
    )
    with app.app_context():
        verified = db.session.get(Structure, ids[f"{tok}-v"])
        verified.verified_at = utcnow()
        verified.owner_organisation_id = _user("demo-social-a").organisation_id
        db.session.commit()
    return tok, ids[f"{tok}-v"], ids[f"{tok}-u"]


def test_verification_state_ages():
    now = dt.datetime(2026, 12, 7)
    assert verification_state(None, now) == "unverified"
    assert verification_state(now - dt.timedelta(days=300), now) == "verified"
    assert verification_state(now - dt.timedelta(days=400), now) == "due"


def test_unverified_entries_are_never_listed_first(app, pair):
    tok, verified_id, unverified_id = pair
    with app.app_context():
        found = directory.structures_offering(["pep"], "75", 500, text=tok)
        assert [s.id for s in found] == [verified_id, unverified_id]
        listed = db.session.scalars(
            directory.structures_query(directory.DirectoryFilters(text=tok))
        ).all()
        assert [s.id for s in listed] == [verified_id, unverified_id]


def test_staff_mark_an_entry_verified_after_a_call(app, login_as, pair):
    _tok, _verified_id, unverified_id = pair
    client = login_as("demo-social-b")
    url = f"/directory/{unverified_id}"
    token = csrf_token(client, url)
    refused = client.post(f"/directory/manage/{unverified_id}/verify", data={"csrf_token": token})
    assert refused.status_code == 302
    answer = client.post(
        f"/directory/manage/{unverified_id}/verify",
        data={"csrf_token": token, "verification_note": "Phone call to reception"},
    )
    assert answer.status_code == 302
    with app.app_context():
        structure = db.session.get(Structure, unverified_id)
        assert structure.verification == "verified"
        assert structure.verified_by.username == "demo-social-b"
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "structure_verified")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.object_id == str(unverified_id)
    page = client.get(url).get_data(as_text=True)
    assert "Checked on" in page and "Phone call to reception" in page


def _edit(client, structure_id: int, **changes):
    page = client.get(f"/directory/manage/{structure_id}/edit").get_data(as_text=True)
    fields = dict(re.findall(r'name="(\w+)"[^>]*value="([^"]*)"', page))
    fields.update(changes)
    fields["category"] = "hospital"
    fields["department"] = "75"
    fields["services"] = "pep"
    fields["languages"] = "fr"
    fields["active"] = "1"
    return client.post(f"/directory/manage/{structure_id}/edit", data=fields)


def test_partner_change_to_verified_contact_waits_for_review(app, login_as, pair):
    _tok, verified_id, unverified_id = pair
    partner = login_as("demo-social-b")  # another association than the owner
    assert _edit(partner, verified_id, phone="06 66 66 66 66").status_code == 302
    assert _edit(partner, unverified_id, phone="06 77 77 77 77").status_code == 302
    with app.app_context():
        assert db.session.get(Structure, verified_id).phone == "01 40 00 00 01"
        assert db.session.get(Structure, unverified_id).phone == "06 77 77 77 77"
        change = db.session.scalars(
            select(StructureChange).where(StructureChange.structure_id == verified_id)
        ).one()
        assert change.proposed == {"phone": "06 66 66 66 66"}
        change_id = change.id
    # The partner cannot approve its own change; another association's social worker sees
    # nothing to review; the owner's social worker does.
    token = csrf_token(partner, "/directory/changes/")
    assert (
        partner.post(
            f"/directory/changes/{change_id}/review",
            data={"csrf_token": token, "decision": "approve"},
        ).status_code
        == 404
    )
    owner = login_as("demo-social-a")
    assert "06 66 66 66 66" in owner.get("/directory/changes/").get_data(as_text=True)
    token = csrf_token(owner, "/directory/changes/")
    assert (
        owner.post(
            f"/directory/changes/{change_id}/review",
            data={"csrf_token": token, "decision": "approve"},
        ).status_code
        == 302
    )
    with app.app_context():
        assert db.session.get(Structure, verified_id).phone == "06 66 66 66 66"
        assert db.session.get(StructureChange, change_id).status == "approved"
        actions = set(
            db.session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_id == str(verified_id))
            )
        )
        assert {"structure_change_proposed", "structure_change_approved"} <= actions


def test_coordinator_refuses_a_pending_change(app, login_as, pair):
    _tok, verified_id, _unverified_id = pair
    assert (
        _edit(login_as("demo-social-b"), verified_id, website="https://evil.example").status_code
        == 302
    )
    coordinator = login_as("demo-coordinator")
    with app.app_context():
        change_id = db.session.scalars(
            select(StructureChange.id).where(StructureChange.structure_id == verified_id)
        ).one()
    token = csrf_token(coordinator, "/directory/changes/")
    coordinator.post(
        f"/directory/changes/{change_id}/review", data={"csrf_token": token, "decision": "refuse"}
    )
    with app.app_context():
        assert db.session.get(Structure, verified_id).website is None
        assert db.session.get(StructureChange, change_id).status == "refused"


def test_csv_import_cannot_bypass_the_review(app, login_as, pair):
    tok, verified_id, _unverified_id = pair
    with app.app_context():
        actor = _user("demo-social-b")
        with app.test_request_context(method="POST"):
            login_user(actor)
            g.user = actor
            line = f"{tok}-v;{tok} Checked clinic;hospital;pep;fr;1 rue A;75010;Paris;75;06 11;48;2"
            report = directory.import_csv(f"{HEADER}\n{line}\n".encode())
            assert report.held_for_review == 1
            db.session.commit()
        assert db.session.get(Structure, verified_id).phone == "01 40 00 00 01"


SCREENS = {
    "list": "/directory/?q={tok}",
    "show": "/directory/{id}",
    "map": "/directory/map?q={tok}",
}


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_no_screen_shows_an_unverified_structure_without_saying_so(login_as, pair, screen):
    tok, _verified_id, unverified_id = pair
    page = login_as("demo-social-a").get(SCREENS[screen].format(tok=tok, id=unverified_id))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-verification="unverified"' in html


def test_map_markers_carry_the_verification(login_as, pair):
    tok, verified_id, unverified_id = pair
    markers = login_as("demo-social-a").get(f"/directory/map/markers.json?q={tok}").get_json()
    states = {m["id"]: m["verification"] for m in markers["structures"]}
    assert states == {verified_id: "verified", unverified_id: "unverified"}


def test_referral_picker_and_case_say_unverified_and_show_the_contact(app, login_as, pair):
    tok, _verified_id, unverified_id = pair
    with app.app_context():
        case = open_case()
        case_id = case.id
    client = login_as("demo-social-a")
    picker = client.get(f"/cases/{case_id}/referrals/new?need=health&service=pep&q={tok}")
    html = picker.get_data(as_text=True)
    assert picker.status_code == 200
    assert 'data-verification="unverified"' in html
    # Verified first; address shown while choosing.
    assert html.index(f"{tok} Checked clinic") < html.index(f"{tok} Unchecked clinic")
    assert "2 rue B" in html
    with app.app_context():
        cases.add_referral(
            db.session.get(cases.Case, case_id), unverified_id, "health", user("demo-social-a")
        )
        db.session.commit()
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-verification="unverified"' in page
    assert "01 40 00 00 02" in page and "2 rue B" in page


def test_printed_directory_says_which_entries_are_unverified(app, login_as, pair, tmp_path):
    tok, _verified_id, _unverified_id = pair
    answer = login_as("demo-social-a").get(f"/directory/print.pdf?q={tok}")
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        path = tmp_path / "directory.pdf"
        path.write_bytes(answer.data)
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True)
        words = " ".join(text.stdout.split())
        assert f"{tok} Unchecked clinic Unverified" in words
        # The page's "Printed on" line may fall beside the first entry in the text layer.
        assert re.search(rf"{tok} Checked clinic (Printed on \S+ )?Verified on", words), words


def test_only_a_coordinator_names_the_owner_organisation(app, login_as, pair):
    _tok, _verified_id, unverified_id = pair
    with app.app_context():
        aides = _user("demo-social-a").organisation_id
    show = f"/directory/{unverified_id}"
    partner = login_as("demo-social-b")
    partner.post(
        f"/directory/changes/owner/{unverified_id}",
        data={"csrf_token": csrf_token(partner, show), "owner_organisation_id": str(aides)},
    )
    with app.app_context():
        assert db.session.get(Structure, unverified_id).owner_organisation_id is None
    coordinator = login_as("demo-coordinator")
    coordinator.post(
        f"/directory/changes/owner/{unverified_id}",
        data={"csrf_token": csrf_token(coordinator, show), "owner_organisation_id": str(aides)},
    )
    with app.app_context():
        assert db.session.get(Structure, unverified_id).owner_organisation_id == aides
