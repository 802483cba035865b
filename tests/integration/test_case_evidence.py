"""Evidence on a case: metadata stripped, type checked by content, size limited, sealed in the
database (nothing in clear on disk), every view audited, shredded with the case."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.case import CaseEvidence
from backoffice.services import cases
from tests.conftest import backend, csrf_token
from tests.integration.cases_support import AIDES_WORKER, open_case, user

GPS_IFD = 0x8825
IMAGE_DESCRIPTION = 0x010E


def _jpeg_with_gps(marker: str) -> bytes:
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = marker
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def _noisy_png(marker: str, side: int = 700) -> bytes:
    """A PNG over 1 MB (werkzeug would spool it to a temporary file) with a text chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", marker)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _new_case(app) -> int:
    with app.app_context():
        case_id = open_case().id
        db.session.remove()
    return case_id


def _upload(client, case_id: int, data: bytes, filename: str = "photo.jpg", **kwargs):
    token = csrf_token(client, f"/cases/{case_id}")
    return client.post(
        f"/cases/{case_id}/evidence",
        data={"csrf_token": token, "kind": "aggressor", "file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        **kwargs,
    )


def _evidence_ids(app, case_id: int) -> list[int]:
    with app.app_context():
        ids = db.session.scalars(
            select(CaseEvidence.id).where(CaseEvidence.case_id == case_id)
        ).all()
        db.session.remove()
    return list(ids)


def test_a_jpeg_with_gps_exif_comes_back_to_staff_without_it(app, login_as):
    marker = f"Rue-des-Lilas-{secrets.token_hex(4)}"
    original = _jpeg_with_gps(marker)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD), "the fixture has GPS"
    case_id = _new_case(app)
    client = login_as(AIDES_WORKER)
    assert _upload(client, case_id, original).status_code == 302
    [evidence_id] = _evidence_ids(app, case_id)
    answer = client.get(f"/cases/evidence/{evidence_id}")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(answer.data))
    assert image.format == "JPEG" and image.size == (64, 48)
    assert len(image.getexif()) == 0 and not image.getexif().get_ifd(GPS_IFD)
    assert marker.encode() not in answer.data and b"Exif" not in answer.data
    thumbnail = client.get(f"/cases/evidence/{evidence_id}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/cases/evidence/{evidence_id}/thumbnail" in page
    with app.app_context():
        fields = db.session.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "decrypt",
                AuditEvent.object_type == "CaseEvidence",
                AuditEvent.object_id == str(evidence_id),
            )
        ).all()
        db.session.remove()
    assert {"image", "thumbnail"} <= {d["field"] for d in fields}, "every view is audited"


def test_a_renamed_executable_is_refused_with_a_clear_french_message(app, login_as):
    case_id = _new_case(app)
    client = login_as(AIDES_WORKER)
    client.get("/lang/fr")
    executable = b"MZ\x90\x00\x03\x00\x00\x00" + os.urandom(2048)
    page = _upload(client, case_id, executable, "photo.jpg", follow_redirects=True)
    text = page.get_data(as_text=True).replace("&#39;", "'")
    assert "Ce fichier n'est pas une photo ni une capture d'écran" in text
    assert "JPEG, PNG et WebP" in text
    assert _evidence_ids(app, case_id) == []
    client.get("/lang/en")


def test_a_file_over_ten_megabytes_is_refused(app, login_as):
    app.config["EVIDENCE_MAX_BYTES"] = 200_000  # the same rule, a smaller file to send
    try:
        case_id = _new_case(app)
        client = login_as(AIDES_WORKER)
        page = _upload(client, case_id, _noisy_png("big", 300), "big.png", follow_redirects=True)
        assert "This file is too big" in page.get_data(as_text=True)
        assert _evidence_ids(app, case_id) == []
    finally:
        app.config["EVIDENCE_MAX_BYTES"] = 10 * 1024 * 1024
    with app.app_context():
        assert cases.evidence.max_bytes() == 10 * 1024 * 1024


def _refuse_temporary_files(monkeypatch) -> None:
    def refused(*_args, **_kwargs):
        raise AssertionError("an upload was about to be written to a temporary file")

    for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, refused)


def test_nothing_is_written_in_clear_to_disk(app, login_as, monkeypatch):
    marker = f"Secret-comment-{secrets.token_hex(6)}"
    upload = _noisy_png(marker)
    assert len(upload) > 1024 * 1024
    case_id = _new_case(app)
    client = login_as(AIDES_WORKER)
    _refuse_temporary_files(monkeypatch)
    assert _upload(client, case_id, upload, "screenshot.png").status_code == 302
    monkeypatch.undo()
    [evidence_id] = _evidence_ids(app, case_id)
    stored = client.get(f"/cases/evidence/{evidence_id}").data
    assert Image.open(io.BytesIO(stored)).format == "PNG" and marker.encode() not in stored
    if backend() != "sqlite":
        return
    with app.app_context():
        path = Path(db.engine.url.database)
        db.session.remove()
    on_disk = b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-journal")) if p.exists()
    )
    assert marker.encode() not in on_disk
    for start in (1000, len(stored) // 2, len(stored) - 100):
        assert stored[start : start + 48] not in on_disk, "image bytes found in clear"


def test_erasing_the_case_shreds_its_evidence(app, login_as):
    case_id = _new_case(app)
    client = login_as(AIDES_WORKER)
    assert _upload(client, case_id, _jpeg_with_gps("x")).status_code == 302
    [evidence_id] = _evidence_ids(app, case_id)
    with app.app_context():
        case = db.session.get(cases.Case, case_id)
        cases.erase_case(case, "person_request", "the person's request", user(AIDES_WORKER))
        db.session.commit()
        evidence = db.session.get(CaseEvidence, evidence_id)
        assert evidence.image_sealed is None and evidence.thumbnail_sealed is None
        db.session.remove()
    assert client.get(f"/cases/evidence/{evidence_id}").status_code == 404


@pytest.mark.parametrize("kind", ["", "selfie"])
def test_an_unknown_kind_is_refused(app, login_as, kind):
    case_id = _new_case(app)
    client = login_as(AIDES_WORKER)
    token = csrf_token(client, f"/cases/{case_id}")
    client.post(
        f"/cases/{case_id}/evidence",
        data={
            "csrf_token": token,
            "kind": kind,
            "file": (io.BytesIO(_jpeg_with_gps("k")), "a.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert _evidence_ids(app, case_id) == []
