"""Screens say things as people say them (issue 15): labels, not codes, in the facts panel
and the composer; the funder report's button says what it does; an empty list says a
sentence."""

from __future__ import annotations

import re

from flask_babel import force_locale

from backoffice.extensions import db
from backoffice.services import alerts
from backoffice.views.formatting import empty_list_sentence
from tests.integration.moderation_support import report_in, user


def _french(login_as, username: str):
    client = login_as(username)
    client.get("/lang/fr")
    return client


def test_the_facts_panel_names_the_aggressors_description_in_french(app, login_as):
    with app.app_context():
        reference = report_in("in_review").reference
    page = _french(login_as, "demo-moderator").get(f"/moderation/reports/{reference}")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert "Genre : Homme" in text and "Âge : 36-45 ans" in text
    assert "Marque : Renault" in text and "Modèle : Clio" in text
    for code in ("gender:", "age_range", "36-45;", "make:"):
        assert code not in text


def test_the_composers_lists_show_labels_and_keep_the_codes(app, login_as):
    with app.app_context():
        report = report_in("approved")
        alert = alerts.compose([report], user("demo-moderator"))
        db.session.commit()
        reference = alert.reference
    page = _french(login_as, "demo-moderator").get(f"/composer/edit/{reference}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert re.search(r'<option value="man"[^>]*>Homme</option>', body)
    assert re.search(r'<option value="36-45"[^>]*>36-45 ans</option>', body)
    assert ">heavy<" not in body and ">tall<" not in body
    assert ">man<" not in body and ">36-45<" not in body


def test_the_funder_reports_button_builds_rather_than_describes_a_body(app, login_as):
    page = _french(login_as, "demo-coordinator").get("/statistics/reports/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Construire le PDF" in body and "Corpulence" not in body


def test_an_empty_stock_list_says_a_sentence(app, login_as):
    client = _french(login_as, "demo-admin")
    page = client.get("/organisations/list/", query_string={"_flt_0_name": "zz-nobody-zz"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Aucune ligne ne correspond à ces filtres." in body
    assert "No records found" not in body and "Aucun enregistrement" not in body
    with app.test_request_context(), force_locale("fr"):
        sentence = empty_list_sentence("OutreachSessionView")
    assert sentence == "Aucune maraude pour l'instant."
