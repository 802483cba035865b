"""The audit trail as a person reads it (issue 15): sentences, the machine's periodic work
kept out unless asked for, an export, and "who read this person's file" on each case."""

from __future__ import annotations

import csv
import io
import re
from types import SimpleNamespace

from flask import has_app_context
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.services import audit, audit_journal, cases
from backoffice.transactions import streamed_after_commit, unit_of_work
from tests.integration.cases_support import AIDES_WORKER, open_case, unique, user

DPO = "demo-dpo"


def _case_with_notes(count: int = 2) -> SimpleNamespace:
    """A case of AIDES with ``count`` notes: its id and reference."""
    case = open_case()
    for _ in range(count):
        cases.add_note(case, unique("Entretien confidentiel"), user(AIDES_WORKER))
    db.session.commit()
    return SimpleNamespace(id=case.id, reference=case.reference)


def _text(response) -> str:
    """The page's text without tags, spaces squeezed (a sentence may hold links or spans)."""
    page = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", page.replace("&#39;", "'"))


def _events(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def test_the_reads_of_one_case_page_make_one_sentence(app, login_as):
    with app.app_context():
        case = _case_with_notes(2)
    worker = login_as(AIDES_WORKER)
    worker.get("/lang/fr")
    assert worker.get(f"/cases/{case.id}").status_code == 200

    dpo = login_as(DPO)
    dpo.get("/lang/fr")
    response = dpo.get("/audit/journal/", query_string={"reference": case.reference})
    assert response.status_code == 200
    text = _text(response)
    # one line for the whole page view: her contact details and both notes, the case named
    assert re.search(
        rf"Samia \S+ a lu les coordonnées et 2 notes du dossier {case.reference}", text
    )
    assert "decrypt" not in text
    assert "Entretien confidentiel" not in response.get_data(as_text=True)


def test_the_machines_periodic_work_is_shown_only_when_asked(app, login_as):
    marker = unique("batch")
    with app.app_context(), unit_of_work():
        audit.record("dispatch_batch", object_type="Delivery", object_id=marker)
    dpo = login_as(DPO)
    dpo.get("/lang/fr")
    hidden = dpo.get("/audit/journal/", query_string={"reference": marker})
    assert "Le système" not in _text(hidden)
    assert "Aucun événement ne correspond à ces filtres." in _text(hidden)
    shown = dpo.get("/audit/journal/", query_string={"reference": marker, "system": "1"})
    assert "Le système a envoyé un lot d'alertes" in _text(shown)


def test_the_export_is_a_french_spreadsheet_of_sentences_and_is_audited(app, login_as):
    with app.app_context():
        case = _case_with_notes(1)
        exported_before = _events("audit_exported")
    login_as(AIDES_WORKER).get(f"/cases/{case.id}")
    dpo = login_as(DPO)
    dpo.get("/lang/fr")
    response = dpo.get("/audit/journal/export.csv", query_string={"reference": case.reference})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    assert rows[0] == ["Quand", "Qui", "Ce qui s'est passé", "Résultat", "Référence"]
    assert any("a lu les coordonnées et 1 note du dossier" in row[2] for row in rows[1:])
    assert all(row[4] == case.reference for row in rows[1:])
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d", rows[1][0])
    with app.app_context():
        assert _events("audit_exported") == exported_before + 1


def test_the_export_reads_the_trail_in_batches_without_cutting_a_page_view(app, login_as):
    """The trail grows with every read: the export streams it a batch at a time. Batches of
    two events give the same file as one batch, and the 4 reads of one page view (her
    contact details and 3 notes) stay one line although they span two batches."""
    with app.app_context():
        case = _case_with_notes(3)
    for _ in range(2):
        login_as(AIDES_WORKER).get(f"/cases/{case.id}")
    with app.app_context():
        whole = "".join(audit_journal.export_csv(reference=case.reference, batch=10_000))
        pieces = "".join(audit_journal.export_csv(reference=case.reference, batch=2))
    assert pieces == whole
    # as the view sends it: a context of its own for each piece, none kept between pieces
    with app.test_request_context():
        stream = streamed_after_commit(
            lambda: audit_journal.export_csv(reference=case.reference, batch=2)
        )
    assert not has_app_context()
    first = next(stream)
    assert not has_app_context()
    assert first + "".join(stream) == whole
    rows = list(csv.reader(io.StringIO(whole[1:]), delimiter=";"))[1:]
    reads = [row for row in rows if "a lu" in row[2] or " read " in row[2]]
    assert len(reads) == 2
    assert all("3" in row[2] for row in reads)


def test_who_read_this_file_names_each_reader_once_and_is_itself_audited(app, login_as):
    with app.app_context():
        case = _case_with_notes(3)
        listed_before = _events("case_readers_listed")
    worker = login_as(AIDES_WORKER)
    worker.get("/lang/fr")
    page = worker.get(f"/cases/{case.id}")
    assert f"/cases/{case.id}/readers" in page.get_data(as_text=True)
    worker.get(f"/cases/{case.id}")  # a second visit
    response = worker.get(f"/cases/{case.id}/readers")
    assert response.status_code == 200
    text = _text(response)
    assert re.search(r"Samia \S+ 2 fois", text), text[-600:]
    # asking who read is recorded, and is not a reading of the file
    again = _text(worker.get(f"/cases/{case.id}/readers"))
    assert re.search(r"Samia \S+ 2 fois", again)
    with app.app_context():
        assert _events("case_readers_listed") == listed_before + 2


def test_another_associations_case_has_no_readers_page(app, login_as):
    with app.app_context():
        case = _case_with_notes(1)
    other = login_as("demo-social-b")
    assert other.get(f"/cases/{case.id}/readers").status_code == 404


def test_the_journal_is_for_the_audit_trails_readers_only(app, login_as):
    for username in ("demo-moderator", AIDES_WORKER, "demo-coordinator"):
        client = login_as(username)
        for url in ("/audit/journal/", "/audit/journal/export.csv"):
            response = client.get(url)
            assert response.status_code in (302, 403), (username, url, response.status_code)
    assert login_as("demo-admin").get("/audit/journal/").status_code == 200


def test_hostile_filters_are_dropped_never_echoed_nor_failing(app, login_as):
    dpo = login_as(DPO)
    attack = "<script>alert('jw')</script>"
    for value in ("\x00", "' OR 1=1 --", attack, "é" * 500, "%00"):
        for name in ("who", "reference"):
            response = dpo.get("/audit/journal/", query_string={name: value})
            assert response.status_code == 200, (name, value)
            assert attack not in response.get_data(as_text=True)
            export = dpo.get("/audit/journal/export.csv", query_string={name: value})
            assert export.status_code == 200
