"""The emergency liaison sheet for a doctor (issue 18, item 7): one A4 page per side, French on
the front and her language on the back, the treatment windows counted from the incident, her
account only with her consent, every read audited; only the case's social workers print it.

Read with poppler (``pdfinfo`` for the pages, ``pdftotext`` for what a reader gets), as the
doctor's printer would see the file.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.base import utcnow
from backoffice.services import cases, intake
from backoffice.services.timezones import to_local, zone_for
from backoffice.services.vocabulary import ALERT_LANGUAGES
from tests.conftest import csrf_token
from tests.integration.cases_support import ACCEPTESS_WORKER, AIDES_WORKER, user
from tests.integration.moderation_support import payload

pytestmark = pytest.mark.skipif(
    not shutil.which("pdftotext") or not shutil.which("pdfinfo"),
    reason="poppler-utils (pdftotext, pdfinfo) is not installed: make system-deps",
)

# The sheet's title on each side, in each language (what tells the sides apart).
TITLES = {
    "fr": "Fiche de liaison médicale urgente",
    "en": "Emergency medical liaison sheet",
    "es": "Hoja de enlace médico urgente",
    "pt": "Ficha de ligação médica urgente",
    "ro": "Fișă de legătură medicală urgentă",
    "bg": "Спешен медицински лист за връзка",
    "zh": "紧急医疗联络单",
    "ru": "Экстренный медицинский лист для врача",
    "uk": "Екстрений медичний лист для лікаря",
    "ar": "ورقة اتصال طبية عاجلة",
}
LONG_ACCOUNT = " ".join(
    ["Il m'a attirée dans sa voiture, a verrouillé les portes et m'a frappée au visage."] * 30
)


def _pdf(pdf: bytes, tmp_path) -> tuple[int, list[str]]:
    """(number of pages, the text of each page)."""
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    texts = [
        subprocess.run(
            ["pdftotext", "-f", str(n), "-l", str(n), str(path), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for n in range(1, pages + 1)
    ]
    return pages, texts


def _case(
    app,
    *,
    language: str | None = "pt",
    hours_ago: float | None = 10,
    with_time: bool = True,
    account: str | None = None,
) -> dict:
    """A case routed to AIDES from a report (rape, Paris), the incident ``hours_ago`` hours
    ago (no date with None), her preferred language set; a word of her account to look for."""
    with app.app_context():
        word = f"Accountword{uuid.uuid4().hex[:8]}"
        narrative = f"{account or 'Il m a frappée.'} {word}"
        body = payload(narrative=narrative)
        body["incident"] = {
            **body["incident"],
            "department": "75",
            "violence_types": ["rape"],
        }
        report = intake.submit_report(body)
        worker = user(AIDES_WORKER)
        case = cases.route_report(report.id, worker.organisation_id, user("demo-moderator"))
        db.session.flush()
        if hours_ago is None:
            case.incident_date, case.incident_time = None, None
        else:
            moment = to_local(utcnow() - dt.timedelta(hours=hours_ago), zone_for("75"))
            case.incident_date = moment.date()
            time = moment.time().replace(second=0, microsecond=0)
            case.incident_time = time if with_time else None
        case.victim_preferred_language = language
        ids = {"case": case.id, "reference": case.reference, "word": word}
        db.session.commit()
        db.session.remove()
    return ids


def _consent(client, case_id: int, kind: str = "doctor", testimony: bool = True):
    token = csrf_token(client, f"/cases/{case_id}")
    form = {"csrf_token": token, "recipient_kind": kind, "channel": "in_person"}
    if testimony:
        form["testimony"] = "1"
    answer = client.post(f"/cases/{case_id}/legal-consents", data=form)
    assert answer.status_code == 302


def _sheet(client, case_id: int):
    return client.get(f"/cases/{case_id}/liaison-sheet.pdf")


@pytest.mark.parametrize("language", ALERT_LANGUAGES)
def test_each_side_fits_one_page_in_every_language(app, login_as, tmp_path, language):
    ids = _case(app, language=language, account=LONG_ACCOUNT)
    client = login_as(AIDES_WORKER)
    _consent(client, ids["case"])
    answer = _sheet(client, ids["case"])
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    pages, texts = _pdf(answer.data, tmp_path)
    if language == "fr":
        assert pages == 1, "she reads French: one side"
    else:
        assert pages == 2, f"{language}: French front and her language's back, one page each"
        assert TITLES[language] in texts[1]
        assert ids["reference"] in texts[1]
    front = texts[0]
    assert TITLES["fr"] in front and ids["reference"] in front
    assert "certificat médical initial" in front
    assert "17" in front and "3919" in front and "119" in front and "112" in front
    assert "abrégé" in front, "the long account is cut to keep one page"


def test_a_long_account_in_chinese_still_fits_the_front(app, login_as, tmp_path):
    ids = _case(app, language="zh", account="他把车门锁上，打了我的脸，还抢走了我的钱。" * 120)
    client = login_as(AIDES_WORKER)
    _consent(client, ids["case"])
    pages, texts = _pdf(_sheet(client, ids["case"]).data, tmp_path)
    assert pages == 2 and TITLES["zh"] in texts[1]
    assert "他把车门锁上" in texts[0] and "abrégé" in texts[0]


def test_the_arabic_back_is_arabic_with_numbers_in_order(app, login_as, tmp_path):
    ids = _case(app, language="ar")
    client = login_as(AIDES_WORKER)
    pages, texts = _pdf(_sheet(client, ids["case"]).data, tmp_path)
    assert pages == 2
    back = texts[1]
    for words in ("ورقة اتصال طبية عاجلة", "الشهادة الطبية الأولية", "لغتها", "العربية"):
        assert words in back
    assert ids["reference"] in back, "the reference keeps its order in a right-to-left page"
    assert "en arabe" in texts[0], "the front says which language the back is in"


def test_the_windows_are_counted_from_the_incident(app, login_as, tmp_path):
    client = login_as(AIDES_WORKER)
    recent = _case(app, language="fr", hours_ago=10)
    text = _pdf(_sheet(client, recent["case"]).data, tmp_path)[1][0]
    assert "Temps écoulé depuis les faits : 10 h" in text
    assert text.count("Encore possible") == 2, "PEP (48 h) and contraception (120 h) open"
    assert "il reste 38 h" in text or "il reste 37 h" in text

    three_days = _case(app, language="fr", hours_ago=72)
    text = _pdf(_sheet(client, three_days["case"]).data, tmp_path)[1][0]
    assert "Délai dépassé depuis 24 h" in text or "Délai dépassé depuis 23 h" in text
    assert text.count("Encore possible") == 1, "only emergency contraception is still open"


def test_an_unknown_time_or_date_is_said(app, login_as, tmp_path):
    client = login_as(AIDES_WORKER)
    day_only = _case(app, language="fr", hours_ago=30, with_time=False)
    text = _pdf(_sheet(client, day_only["case"]).data, tmp_path)[1][0]
    assert "heure inconnue" in text and "au plus" in text
    no_date = _case(app, language="fr", hours_ago=None)
    text = _pdf(_sheet(client, no_date["case"]).data, tmp_path)[1][0]
    assert "Date des faits inconnue" in text
    assert text.count("Impossible à calculer sans la date des faits") == 2


def test_her_account_only_with_her_consent_to_a_doctor(app, login_as, tmp_path):
    ids = _case(app, language="es")
    client = login_as(AIDES_WORKER)
    _pages, texts = _pdf(_sheet(client, ids["case"]).data, tmp_path)
    assert ids["word"] not in "".join(texts)
    assert "Elle n'a pas accepté de partager son récit" in texts[0]

    _consent(client, ids["case"], kind="police", testimony=True)
    _pages, texts = _pdf(_sheet(client, ids["case"]).data, tmp_path)
    assert ids["word"] not in "".join(texts), "a consent for the police is not one for a doctor"

    _consent(client, ids["case"], kind="doctor", testimony=False)
    assert ids["word"] not in "".join(_pdf(_sheet(client, ids["case"]).data, tmp_path)[1])

    _consent(client, ids["case"], kind="doctor", testimony=True)
    _pages, texts = _pdf(_sheet(client, ids["case"]).data, tmp_path)
    assert ids["word"] in texts[0] and "Son récit (partagé avec son accord)" in texts[0]
    assert ids["word"] not in texts[1], "the back refers to the French side"
    assert "está en la cara en francés" in texts[1]


def test_printing_is_audited_with_the_fields_it_decrypted(app, login_as):
    ids = _case(app, language="ro")
    client = login_as(AIDES_WORKER)
    _consent(client, ids["case"])
    with app.app_context():
        before = db.session.scalar(select(func.max(AuditEvent.id)))
        db.session.remove()
    assert _sheet(client, ids["case"]).status_code == 200
    with app.app_context():
        worker = user(AIDES_WORKER)
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > before, AuditEvent.actor_id == worker.id)
        ).all()
        [printed] = [e for e in events if e.action == "case_liaison_sheet_printed"]
        assert printed.object_id == ids["reference"]
        assert printed.details["languages"] == ["fr", "ro"]
        assert printed.details["testimony"] is True
        read = {(e.object_type, e.details.get("field")) for e in events if e.action == "decrypt"}
        assert ("Case", "victim_preferred_language") in read
        assert ("Report", "narrative") in read
        assert ids["word"] not in str([e.details for e in events]), "no clear text in the trail"
        db.session.remove()


def test_the_case_page_offers_the_sheet_and_another_association_gets_a_404(app, login_as):
    """Every role is tried in test_access_matrix; here, the button and the boundary."""
    ids = _case(app)
    url = f"/cases/{ids['case']}/liaison-sheet.pdf"
    assert login_as(ACCEPTESS_WORKER).get(url).status_code == 404, "another association's case"
    page = login_as(AIDES_WORKER).get(f"/cases/{ids['case']}").get_data(as_text=True)
    assert url in page, "the case page offers the sheet"


def test_an_erased_case_prints_nothing(app, login_as):
    ids = _case(app)
    with app.app_context():
        case = db.session.get(cases.Case, ids["case"])
        reason = str(cases.ERASURE_REASONS["person_request"])
        cases.erase_case(case, "person_request", reason, user(AIDES_WORKER))
        db.session.commit()
        db.session.remove()
    answer = login_as(AIDES_WORKER).get(f"/cases/{ids['case']}/liaison-sheet.pdf")
    assert answer.status_code == 302 and answer.mimetype != "application/pdf"
