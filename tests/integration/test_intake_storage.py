"""What intake stores: victim details only encrypted, identifiers sealed and indexed,
corroboration across reports, reference numbers, and the anonymisation job."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.report import VICTIM_SEALED_COLUMNS, Report
from backoffice.services import intake, references
from backoffice.services.confidential import shred
from backoffice.services.crypto import DecryptionError, parse_token
from tests.integration.test_intake_api import MINIMAL, auth, new_client

URL = "/api/v1/reports"


def _fiction_phone() -> tuple[str, str]:
    """A phone in a range ARCEP reserves for fiction (01 99 00), as typed and in E.164."""
    a, b = secrets.randbelow(100), secrets.randbelow(100)
    return f"01 99 00 {a:02d} {b:02d}", f"+33199 00{a:02d}{b:02d}".replace(" ", "")


def _body(**changes) -> dict:
    body = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        body[key] = value
    return body


def _database_bytes(app) -> bytes:
    """Everything the database holds on disk (SQLite) or in a dump (PostgreSQL)."""
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite"):
        path = Path(uri.split("///", 1)[1])
        files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-journal"))]
        return b"".join(f.read_bytes() for f in files if f.exists())
    name = urlsplit(uri).path.lstrip("/")
    return subprocess.run(
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", name],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


def test_victim_contact_is_never_in_the_database_in_clear(app, client):
    _id, key = new_client(app)
    typed, e164 = _fiction_phone()
    marker = f"marker-{secrets.token_hex(6)}"
    pseudonym = f"Zelie{secrets.token_hex(3)}"
    email = f"{pseudonym.lower()}@example.net"
    aggressor_typed, aggressor_e164 = _fiction_phone()
    testimony = f"testimony{secrets.token_hex(6)}"
    body = _body(
        incident={**MINIMAL["incident"], "city": marker},  # restricted, clear: the control
        narrative=f"Il est parti sans payer. {testimony}",
        victim={"pseudonym": pseudonym, "contact": {"phone": typed, "email": email}},
        aggressor={"identifiers": [{"kind": "phone", "value": aggressor_typed}]},
    )
    response = client.post(URL, json=body, headers=auth(key))
    assert response.status_code == 201
    reference = response.get_json()["reference"]
    with app.app_context():
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        assert parse_token(report.victim_phone_sealed)[0] == "d"  # the report's own key
        assert report.victim_phone == e164  # normalised, then sealed
        assert report.victim_email == email
        assert report.victim_pseudonym == pseudonym
        assert parse_token(report.narrative_sealed)[0] == "d"
        assert testimony in report.narrative
        db.session.rollback()
    dumped = _database_bytes(app)
    assert marker.encode() in dumped  # the scan sees clear text where there is some
    secrets_typed = (typed, e164, e164[1:], "0" + e164[3:], email, pseudonym, aggressor_e164)
    for secret in (*secrets_typed, testimony):
        assert secret.encode() not in dumped, "clear personal data found in the database"


def test_identifiers_are_sealed_with_the_root_key_and_outlive_her_erasure(app_context):
    typed, e164 = _fiction_phone()
    body = _body(
        victim={"pseudonym": "Nadia", "contact": {"phone": _fiction_phone()[0]}},
        aggressor={
            "identifiers": [{"kind": "phone", "value": typed}],
            "vehicle": {"plate": "uo-123-ou"},
        },
    )
    report = intake.submit_report(body)
    db.session.commit()
    phone, plate = sorted(report.identifiers, key=lambda i: i.kind)
    assert parse_token(phone.value_sealed)[0] == "r"
    assert intake.identifier_value(phone) == e164
    assert intake.identifier_value(plate) == "UO-123-OU"
    assert len(phone.blind_index) == 32 and phone.blind_index != plate.blind_index
    # A sealed value copied onto another row does not open there.
    plate.value_sealed = phone.value_sealed
    with pytest.raises(DecryptionError):
        intake.identifier_value(plate)
    db.session.rollback()
    shred(report, VICTIM_SEALED_COLUMNS)
    db.session.commit()
    db.session.expire_all()
    assert report.victim_phone is None and report.victim_pseudonym is None
    assert intake.identifier_value(report.identifiers[0]) in (e164, "UO-123-OU")


def test_reports_naming_the_same_aggressor_corroborate_each_other(app_context):
    typed, e164 = _fiction_phone()
    spellings = [typed, e164, typed.replace(" ", ".")]
    made = []
    for spelling in spellings:
        made.append(
            intake.submit_report(
                _body(aggressor={"identifiers": [{"kind": "phone", "value": spelling}]})
            )
        )
        db.session.commit()
    other = intake.submit_report(
        _body(aggressor={"identifiers": [{"kind": "phone", "value": _fiction_phone()[0]}]})
    )
    db.session.commit()
    latest = made[-1]
    [found] = intake.corroborations(latest)
    assert found.kind == "phone"
    assert found.other_reports == 2
    assert found.since == made[0].received_at
    assert {r.id for r in intake.corroborating_reports(latest.identifiers[0])} == {
        made[0].id,
        made[1].id,
    }
    assert [r.id for r in intake.reports_naming("phone", "0" + e164[3:])] == [r.id for r in made]
    assert intake.corroborations(other) == []


def test_reference_numbers_follow_each_other_within_a_year(app_context):
    when = dt.datetime(2003, 6, 1)
    first = references.next_reference("J", when)
    second = references.next_reference("J", when)
    db.session.commit()
    assert first.startswith("J-2003-") and len(first) == len("J-2003-000001")
    assert int(second[-6:]) == int(first[-6:]) + 1
    assert references.next_reference("A", when).startswith("A-2003-")
    db.session.rollback()
    with pytest.raises(ValueError):
        references.next_reference("X")


def test_concurrent_references_never_collide(app):
    """Eight writers at once, starting a year with no counter row yet."""
    when = dt.datetime(2001, 3, 1)
    got: list[str] = []
    failures: list[BaseException] = []
    start = threading.Barrier(8)

    def writer() -> None:
        try:
            with app.app_context():
                start.wait()
                for _ in range(10):
                    got.append(references.next_reference("J", when))
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    numbers = sorted(int(ref[-6:]) for ref in got)
    assert numbers == list(range(1, 81))


def test_a_failed_report_leaves_no_report_and_later_numbers_still_increase(app_context):
    when = dt.datetime(2002, 1, 1)
    data = intake.validate_report(MINIMAL)
    taken = intake.create_report(data, received_at=when).reference
    db.session.rollback()
    assert db.session.scalar(select(Report).where(Report.reference == taken)) is None
    again = intake.create_report(data, received_at=when).reference
    db.session.commit()
    assert again >= taken  # the same number on SQLite; PostgreSQL may leave a gap
    if db.engine.dialect.name == "sqlite":
        assert again == taken


# --- the anonymisation job ------------------------------------------------------------------


@pytest.fixture
def few_reports(app_context):
    victim_typed, victim_e164 = _fiction_phone()
    aggressor_typed, _aggressor = _fiction_phone()
    narrative = (
        "Je l'ai rencontré via une annonce. Il appelait du {aggressor}. "
        "Il a refusé de payer et m'a frappée. Je m'appelle Zouzouka, rappelez-moi au {victim}."
    )
    made = []
    for _ in range(3):
        body = _body(
            narrative=narrative.format(aggressor=aggressor_typed, victim=victim_typed),
            victim={"pseudonym": "Zouzouka", "contact": {"phone": victim_typed}},
            aggressor={"identifiers": [{"kind": "phone", "value": aggressor_typed}]},
        )
        made.append(intake.submit_report(body))
    db.session.commit()
    return made, victim_typed, victim_e164, aggressor_typed


def test_the_job_proposes_a_redaction_keeping_the_aggressor(app_context, few_reports):
    made, victim_typed, _victim_e164, aggressor_typed = few_reports
    assert all(r.redaction_status == "pending" for r in made)
    assert intake.anonymise_pending() >= len(made)
    for report in made:
        db.session.refresh(report)
        assert report.redaction_status == "proposed"
        proposal = report.redaction_proposal
        assert victim_typed not in proposal["text"]
        assert "Zouzouka" not in proposal["text"]
        assert aggressor_typed in proposal["text"]  # what the alert is for
        for span in proposal["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(report.narrative)
        covered = {report.narrative[s["start"] : s["end"]] for s in proposal["spans"]}
        assert any(victim_typed in piece for piece in covered)
        assert report.version_id == 1  # a moderator's open form stays valid
    # Her details were decrypted by the job, and that is in the audit trail.
    reads = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "decrypt", AuditEvent.object_id == made[0].reference
        )
    ).all()
    assert {e.details["field"] for e in reads} >= {"victim_pseudonym", "victim_phone"}
    assert {e.actor_name for e in reads} == {"system"}


def test_a_failed_proposal_is_marked_without_personal_data_in_the_log(
    app_context, few_reports, monkeypatch, caplog
):
    from backoffice.services import anonymise

    made, victim_typed, _e164, _aggressor = few_reports

    def failing(text, **_kwargs):
        raise ValueError(f"cannot read {text}")

    monkeypatch.setattr(anonymise, "propose_redaction", failing)
    with caplog.at_level(logging.WARNING):
        intake.anonymise_pending()
    for report in made:
        db.session.refresh(report)
        assert report.redaction_status == "failed"
        assert report.redaction_proposal is None
    logged = caplog.text
    assert "failed" in logged
    assert victim_typed not in logged and "Zouzouka" not in logged
    # A failed report is not retried in a loop: the next run has nothing to do for it.
    assert intake.anonymise_pending() == 0 or all(
        db.session.get(Report, r.id).redaction_status == "failed" for r in made
    )


def test_redaction_texts_after_the_assistant_and_the_review_are_not_in_clear(app, client):
    """Finding 1 of issue 12: the proposal and the reviewed redaction quote her testimony;
    its unique words, looked for in the SQLite file or a pg_dump, once both were written."""
    from backoffice.services import moderation
    from tests.integration.moderation_support import user

    words = [f"redword{secrets.token_hex(5)}" for _ in range(3)]
    body = _body(narrative="Il m'a appelée au 06 12 34 56 78, " + " ".join(words))
    response = client.post(URL, json=body, headers=auth(new_client(app)[1]))
    assert response.status_code == 201
    with app.app_context():
        intake.anonymise_pending()
        report = db.session.scalar(
            select(Report).where(Report.reference == response.get_json()["reference"])
        )
        moderator = user("demo-moderator")
        moderation.perform(report, "claim", moderator)
        moderation.review_redaction(report, moderator)
        db.session.commit()
        db.session.expire_all()
        assert all(word in report.redaction_proposal["text"] for word in words)
        assert all(word in report.redaction_reviewed["text"] for word in words)
        assert parse_token(report.redaction_reviewed_sealed)[0] == "d"  # her data key
        db.session.rollback()
        db.session.remove()
    dumped = _database_bytes(app)
    for word in words:
        assert word.encode() not in dumped


@pytest.mark.postgres_only
def test_a_narrative_is_absent_from_a_pg_dump(app, client):
    """Finding 1 of issue 12, replayed: her testimony's unique words, looked for in pg_dump."""
    words = [f"word{secrets.token_hex(5)}" for _ in range(3)]
    body = _body(narrative="Il m'a appelée au 06 12 34 56 78, " + " ".join(words))
    response = client.post(URL, json=body, headers=auth(new_client(app)[1]))
    assert response.status_code == 201
    dumped = _database_bytes(app)
    assert b"reports" in dumped and b"narrative_sealed" in dumped
    for word in words:
        assert word.encode() not in dumped
