"""Reporting on behalf of a worker through the staff form, and the moderators' report pages."""

from __future__ import annotations

import html
import re
import secrets

import pytest
from flask_babel import force_locale, format_date, gettext, ngettext
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.report import Report
from backoffice.models.user import StaffUser
from backoffice.services import intake
from tests.conftest import csrf_token

FORM = "/reports/new/"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Report.id)))


def _fiction_phone() -> str:
    return f"02 61 91 {secrets.randbelow(100):02d} {secrets.randbelow(100):02d}"


def _filled(token: str, **changes) -> dict:
    data = {
        "csrf_token": token,
        "channel": "phone",
        "reporter.relation": "partner",
        "language": "fr",
        "narrative": "Elle raconte : il a retiré le préservatif et il est parti sans payer.",
        "incident.date": "2026-01-12",
        "incident.date_precision": "day",
        "incident.time": "23:15",
        "incident.department": "93",
        "incident.city": "Saint-Denis",
        "incident.context": "car",
        "incident.violence_types": ["condom_removal", "non_payment"],
        "aggressor.description.gender": "man",
        "aggressor.description.age_range": "36-45",
        "aggressor.vehicle.make": "Peugeot",
        "aggressor.vehicle.plate": "io 456 ou",
        "aggressor.identifiers[0].kind": "phone",
        "aggressor.identifiers[0].value": "03 53 01 22 33",
        "aggressor.identifiers[2].kind": "pseudonym",
        "aggressor.identifiers[2].value": "Tony93",
        "aggressor.identifiers[2].platform": "un site d'annonces",
        "victim.pseudonym": "Bianca",
        "victim.contact.phone": _fiction_phone(),
        "victim.preferred_language": "ro",
        "consent.publish_alert": "yes",
        "consent.follow_up": "yes",
        "consent.share_with_partner": "no",
        "consent.statistics": "yes",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _in_language(app, message: str, language: str, **params) -> str:
    with app.test_request_context(), force_locale(language):
        return html.escape(gettext(message, **params), quote=False)


def test_the_form_is_offered_in_french_with_controlled_choices(app, login_as):
    social = login_as("demo-social-a")
    social.get("/lang/fr")
    page = social.get(FORM).get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert "Vol à main armée" in page  # violence types in the user's language (French)
    assert 'value="attempted_murder"' in page and 'value="2A"' in page
    for item in intake.CONSENT_ITEMS:  # each consent asked, nothing pre-ticked
        assert f'name="consent.{item}" value="yes" >' in page
    assert "checked" not in page.split('name="consent.publish_alert"')[1].split("</fieldset>")[0]


def test_a_report_on_behalf_is_recorded_with_the_filing_organisation(app, login_as):
    social = login_as("demo-social-a")
    data = _filled(csrf_token(social, FORM))
    before = _count(app)
    response = social.post(FORM, data=data, follow_redirects=True)
    assert response.status_code == 200
    assert _count(app) == before + 1
    reference = re.search(r"J-\d{4}-\d{6}", response.get_data(as_text=True)).group(0)
    with app.app_context():
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == "demo-social-a"))
        report = db.session.scalar(select(Report).where(Report.reference == reference))
        assert report.filing_organisation_id == user.organisation_id
        assert report.filed_by_id == user.id and report.api_client_id is None
        assert report.channel == "phone" and report.reporter_relation == "partner"
        assert report.violence_types == ["condom_removal", "non_payment"]
        assert report.consent_publish_alert and report.consent_follow_up
        assert not report.consent_share_with_partner and not report.consent_police_or_lawyer
        assert sorted((i.kind, i.platform) for i in report.identifiers) == [
            ("phone", None),
            ("plate", None),
            ("pseudonym", "un site d'annonces"),
        ]
        assert report.victim_phone.startswith("+33261 91".replace(" ", ""))
        event = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "report_received", AuditEvent.object_id == reference
            )
        )
        assert event.actor_name == "demo-social-a"


def test_without_the_csrf_token_nothing_is_recorded(app, login_as):
    relay = login_as("demo-relay")
    before = _count(app)
    response = relay.post(FORM, data=_filled("forged"))
    assert response.status_code == 400
    assert _count(app) == before


def test_errors_are_shown_by_their_fields_in_french_and_nothing_is_saved(app, login_as):
    relay = login_as("demo-relay")
    relay.get("/lang/fr")
    data = _filled(
        csrf_token(relay, FORM),
        **{
            "incident.date": "",
            "consent.follow_up": None,
            "aggressor.identifiers[2].kind": "phone",
            "aggressor.identifiers[2].value": "06 ab",
        },
    )
    before = _count(app)
    response = relay.post(FORM, data=data)
    assert response.status_code == 200
    assert _count(app) == before
    page = response.get_data(as_text=True)
    assert _in_language(app, "Some fields need correcting; nothing was saved.", "fr") in page
    assert _in_language(app, "Ask her, and record her answer.", "fr") in page
    assert _in_language(app, "A phone number cannot contain letters.", "fr") in page
    assert _in_language(app, "This field is required.", "fr") in page
    # The error sits in the third identifier row (the form's own numbering), typed text kept.
    row = page.split('id="aggressor.identifiers[2].kind"')[0].rsplit('class="form-group', 1)[1]
    assert row.startswith(" has-error")
    assert 'value="06 ab"' in page and "Saint-Denis" in page


def test_the_same_errors_read_in_english_for_an_english_user(app, login_as):
    moderator = login_as("demo-moderator")
    moderator.get("/lang/en")
    data = _filled(
        csrf_token(moderator, FORM),
        **{"aggressor.identifiers[0].value": "06 ab"},
    )
    page = moderator.post(FORM, data=data).get_data(as_text=True)
    assert "A phone number cannot contain letters." in page


@pytest.mark.parametrize("username", ["demo-coordinator", "demo-outreach", "demo-admin"])
def test_other_roles_cannot_file_a_report(app, login_as, username):
    user = login_as(username)
    before = _count(app)
    token = csrf_token(user, "/userinfoeditview/form")  # a valid token of their own session
    response = user.post(FORM, data=_filled(token))
    assert response.status_code in (302, 403)
    assert _count(app) == before


# --- the moderators' pages ------------------------------------------------------------------


@pytest.fixture
def shown_report(app):
    victim_phone = _fiction_phone()
    aggressor = f"04 65 71 {secrets.randbelow(100):02d} {secrets.randbelow(100):02d}"
    narrative = f"Il appelait du {aggressor}. Je suis Ioana, au {victim_phone}."
    with app.app_context():
        body = {
            "incident": {"date": "2026-01-03", "department": "69", "violence_types": ["theft"]},
            "narrative": narrative,
            "aggressor": {"identifiers": [{"kind": "phone", "value": aggressor}]},
            "victim": {"pseudonym": "Ioana", "contact": {"phone": victim_phone}},
            "consent": dict.fromkeys(intake.CONSENT_ITEMS, True),
        }
        earlier = intake.submit_report(body)
        report = intake.submit_report(body)
        start = narrative.index("Ioana")
        report.redaction_proposal = {
            "text": narrative[:start] + "[NOM]" + narrative[start + 5 :],
            "spans": [{"start": start, "end": start + 5, "type": "NAME"}],
        }
        report.redaction_status = "proposed"
        db.session.commit()
        return report.id, earlier.reference, victim_phone, earlier.received_at


def test_a_moderator_reads_the_report_without_her_contact(app, login_as, shown_report):
    report_id, earlier_reference, victim_phone, since = shown_report
    moderator = login_as("demo-moderator")
    moderator.get("/lang/fr")
    page = moderator.get(f"/reports/show/{report_id}").get_data(as_text=True)
    e164 = "+33" + victim_phone.replace(" ", "")[1:]
    assert e164 not in page  # her sealed contact is never decrypted for moderators
    assert '<mark title="' in page and "Ioana<sup" in page  # the proposed span, highlighted
    assert earlier_reference in page  # the other report naming the same phone
    with app.test_request_context(), force_locale("fr"):
        line = ngettext(
            "%(subject)s appears in %(num)d other report since %(month)s.",
            "%(subject)s appears in %(num)d other reports since %(month)s.",
            1,
            subject=gettext("This phone number"),
            month=format_date(since, "MMMM yyyy"),
        )
    assert html.escape(line, quote=False) in page
    with app.app_context():
        assert db.session.scalar(
            select(func.count(AuditEvent.id)).where(
                AuditEvent.action == "report_viewed", AuditEvent.actor_name == "demo-moderator"
            )
        )


def test_the_report_list_is_for_moderators(app, login_as, shown_report):
    report_id, *_rest = shown_report
    assert login_as("demo-moderator").get("/reports/list/").status_code == 200
    for username in ("demo-social-a", "demo-relay", "demo-coordinator", "demo-admin"):
        response = login_as(username).get(f"/reports/show/{report_id}")
        assert response.status_code in (302, 403), username
    assert login_as("demo-moderator").get("/reports/show/999999999").status_code == 404
