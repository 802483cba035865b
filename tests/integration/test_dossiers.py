"""A dossier for the police or a lawyer is built only on her consent, for the recipient kind
and the content it covers; withdrawn, it blocks new dossiers. Every path: the case page (the
form is only there with a consent), a direct POST, the service itself."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport
from backoffice.models.audit import AuditEvent
from backoffice.models.case import Dossier
from backoffice.models.structure import Structure
from backoffice.services import cases, intake
from tests.conftest import csrf_token
from tests.integration.cases_support import AIDES_WORKER, user
from tests.integration.moderation_support import payload, report_in
from tests.owned_rows import tiny_png

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext"), reason="poppler-utils (pdftotext) is not installed"
)


def _pdf_text(pdf: bytes, tmp_path) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _recipient(category: str) -> int:
    code = f"test-dossier-{category}"
    found = db.session.scalar(select(Structure).where(Structure.code == code))
    if found is None:
        name = "Commissariat du 18e" if category == "police" else "Maître Dupont"
        found = Structure(
            code=code, name=name, category=category, city="Paris", department="75", active=True
        )
        db.session.add(found)
        db.session.flush()
    return found.id


def published_alert_of_report(report):
    return db.session.scalar(
        select(Alert).join(AlertReport).where(AlertReport.report_id == report.id)
    )


def _routed_case(app) -> dict:
    """A case routed to AIDES from a report naming a phone, with one piece of evidence; and
    another report (another association's business) naming the same phone."""
    with app.app_context():
        word = f"Testimonyword{uuid.uuid4().hex[:8]}"
        body = payload(narrative=f"Il m'a frappée chez lui. {word}.")
        phone = body["aggressor"]["identifiers"][0]["value"]
        report = intake.submit_report(body)
        other_word = f"Otherword{uuid.uuid4().hex[:8]}"
        intake.submit_report(payload(narrative=f"Encore lui. {other_word}.", aggressor={
            "identifiers": [{"kind": "phone", "value": phone}]}))  # fmt: skip
        worker = user(AIDES_WORKER)
        case = cases.route_report(report.id, worker.organisation_id, user("demo-moderator"))
        db.session.flush()
        cases.add_evidence(case, tiny_png(), "messages", worker)
        ids = {
            "case": case.id,
            "police": _recipient("police"),
            "lawyer": _recipient("lawyer"),
            "word": word,
            "other_word": other_word,
        }
        db.session.commit()
        db.session.remove()
    return ids


def _post(client, case_id: int, url: str, **form):
    token = csrf_token(client, f"/cases/{case_id}")
    return client.post(url, data={"csrf_token": token, **form})


def _consent(client, case_id: int, kind: str, testimony=False, evidence=False):
    form = {"recipient_kind": kind, "channel": "in_person"}
    form.update({"testimony": "1"} if testimony else {})
    form.update({"evidence": "1"} if evidence else {})
    return _post(client, case_id, f"/cases/{case_id}/legal-consents", **form)


def _build(client, case_id: int, structure_id: int, testimony=False, evidence=False):
    form = {"structure_id": str(structure_id)}
    form.update({"testimony": "1"} if testimony else {})
    form.update({"evidence": "1"} if evidence else {})
    return _post(client, case_id, f"/cases/{case_id}/dossier", **form)


def _dossiers(app, case_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count(Dossier.id)).where(Dossier.case_id == case_id))
        db.session.remove()
    return count


def test_without_consent_the_page_offers_no_dossier_and_a_direct_post_is_refused(app, login_as):
    ids = _routed_case(app)
    client = login_as(AIDES_WORKER)
    assert f"/cases/{ids['case']}/dossier" in client.get(f"/cases/{ids['case']}").get_data(
        as_text=True
    )
    page = client.get(f"/cases/{ids['case']}/dossier").get_data(as_text=True)
    assert 'name="structure_id"' not in page
    assert "only the published alert can be printed" in page
    answer = _build(client, ids["case"], ids["police"])
    assert answer.status_code == 302 and answer.mimetype != "application/pdf"
    shown = client.get(answer.headers["Location"]).get_data(as_text=True).replace("&#39;", "'")
    assert "She has not agreed to share this" in shown
    assert _dossiers(app, ids["case"]) == 0


def test_a_consent_covers_its_recipient_kind_and_its_content_only(app, login_as, tmp_path):
    ids = _routed_case(app)
    client = login_as(AIDES_WORKER)
    assert _consent(client, ids["case"], "lawyer").status_code == 302
    page = client.get(f"/cases/{ids['case']}/dossier").get_data(as_text=True)
    assert 'name="structure_id"' in page and "Maître Dupont" in page, "the form, with a consent"
    assert _build(client, ids["case"], ids["police"]).mimetype != "application/pdf"
    assert _build(client, ids["case"], ids["lawyer"], testimony=True).mimetype != "application/pdf"
    assert _build(client, ids["case"], ids["lawyer"], evidence=True).mimetype != "application/pdf"
    assert _dossiers(app, ids["case"]) == 0
    answer = _build(client, ids["case"], ids["lawyer"])
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = _pdf_text(answer.data, tmp_path)
    assert "Maître Dupont" in text and "D-" in text
    assert ids["word"] not in text, "her testimony was not part of this consent"
    assert "Lila" not in text, "never her identity"
    assert "autres signalements" in text and ids["other_word"] not in text
    with app.app_context():
        dossier = db.session.scalar(select(Dossier).where(Dossier.case_id == ids["case"]))
        assert dossier.shared == ["aggressor", "incident"] and dossier.other_reports == 1
        assert dossier.reference in text
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "case_dossier_built",
                AuditEvent.object_id.in_([str(dossier.id), dossier.reference]),
            )
        )
        assert event.details["consent"] == dossier.consent_id
        assert event.details["recipient"] == ids["lawyer"]
        db.session.remove()


def test_full_consent_shares_testimony_and_evidence(app, login_as, tmp_path):
    ids = _routed_case(app)
    client = login_as(AIDES_WORKER)
    _consent(client, ids["case"], "police", testimony=True, evidence=True)
    answer = _build(client, ids["case"], ids["police"], testimony=True, evidence=True)
    assert answer.mimetype == "application/pdf"
    text = _pdf_text(answer.data, tmp_path)
    assert ids["word"] in text and "Commissariat du 18e" in text
    assert "Les preuves (1 image(s)" in text
    assert ids["other_word"] not in text


def test_a_withdrawn_consent_blocks_new_dossiers(app, login_as):
    ids = _routed_case(app)
    client = login_as(AIDES_WORKER)
    _consent(client, ids["case"], "police", testimony=True)
    assert _build(client, ids["case"], ids["police"]).mimetype == "application/pdf"
    with app.app_context():
        [consent] = cases.legal_consents_of(db.session.get(cases.Case, ids["case"]))
        consent_id = consent.id
        db.session.remove()
    withdrawn = _post(client, ids["case"], f"/cases/legal-consents/{consent_id}/withdraw")
    assert withdrawn.status_code == 302
    assert _build(client, ids["case"], ids["police"]).mimetype != "application/pdf"
    assert _dossiers(app, ids["case"]) == 1
    page = client.get(f"/cases/{ids['case']}/dossier").get_data(as_text=True)
    assert 'name="structure_id"' not in page and "withdrawn" in page


def test_the_rule_holds_when_the_service_is_called_directly(app):
    ids = _routed_case(app)
    with app.app_context():
        case = db.session.get(cases.Case, ids["case"])
        wanted = cases.DossierRequest(structure_id=ids["police"], testimony=False, evidence=False)
        with pytest.raises(cases.CaseRuleError):
            cases.build_dossier(case, wanted, user(AIDES_WORKER), lambda *_: b"%PDF")
        not_a_recipient = cases.DossierRequest(structure_id=None, testimony=False, evidence=False)
        with pytest.raises(cases.CaseRuleError):
            cases.build_dossier(case, not_a_recipient, user(AIDES_WORKER), lambda *_: b"%PDF")
        db.session.rollback()
        db.session.remove()


def test_without_consent_the_published_alert_can_be_printed(app, login_as):
    with app.app_context():
        report = report_in("published")
        alert = published_alert_of_report(report)
        worker = user(AIDES_WORKER)
        case = cases.route_report(report.id, worker.organisation_id, user("demo-moderator"))
        db.session.commit()
        case_id, reference = case.id, alert.reference
        db.session.remove()
    client = login_as(AIDES_WORKER)
    page = client.get(f"/cases/{case_id}/dossier").get_data(as_text=True)
    assert f"/alerts/sheet/{reference}" in page and 'name="structure_id"' not in page
    sheet = client.get(f"/alerts/sheet/{reference}")
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
