"""Outreach pages over HTTP: the volunteer's flow, and the organisation boundary on every path
(list, show, edit, search, batch check, add, outcome logging and editing, close, figures)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from backoffice.demo import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.audit import AuditEvent
from backoffice.models.outreach import (
    ContactOutcome,
    MessageTemplate,
    OutreachContact,
    OutreachLead,
    OutreachSession,
    Platform,
)
from backoffice.security import acting_for
from backoffice.services import outreach as service
from tests.conftest import csrf_token
from tests.integration.outreach_support import (
    fresh_mobile,
    make_session,
    organisation_id,
    outreach_users_fixture,  # noqa: F401 - the outreach_users fixture
    spellings,
)

WORKSPACE = "/outreach/sessions/show/{}"


def _page(response) -> str:
    return response.get_data(as_text=True)


def _token(client, url: str = "/resetmypassword/form") -> str:
    return csrf_token(client, url)


@pytest.fixture
def volunteer(login_as, outreach_users):
    return login_as(outreach_users["volunteer"])


@pytest.fixture
def foreign(app, outreach_users):
    """An AIDES round with one contact and one outcome: never reachable from Jasmine."""
    with app.app_context():
        session = make_session(AIDES, username=outreach_users["other"], department="93")
        number = fresh_mobile()
        contact = service.add_contacts(session, number, log_first_message=True).contacts[0]
        db.session.commit()
        data = {
            "session": session.id,
            "reference": session.reference,
            "contact": contact.id,
            "outcome": contact.outcomes[0].id,
            "number": number,
        }
        db.session.remove()
    return data


def test_a_volunteer_creates_a_session_and_lands_on_its_workspace(app, volunteer):
    token = _token(volunteer, "/outreach/sessions/add")
    with app.app_context():
        olga = app.appbuilder.sm.find_user(username="demo-outreach")
        platform = service.ensure_platforms([("Test platform", "classifieds")])["Test platform"]
        db.session.commit()
        olga_id, platform_id = olga.id, platform.id
    response = volunteer.post(
        "/outreach/sessions/add",
        data={
            "csrf_token": token,
            "session_date": dt.date.today().isoformat(),
            "start_time": "20:30",
            "duration_minutes": "120",
            "city": "Marseille",
            "department": "13",
            "team": [str(olga_id)],
            "platforms": [str(platform_id)],
            "notes": "Soirée calme, annonces récentes.",
        },
    )
    assert response.status_code == 302
    match = re.search(r"/outreach/sessions/show/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    with app.app_context():
        session = db.session.get(OutreachSession, int(match.group(1)))
        assert session.organisation_id == organisation_id(JASMINE)
        assert session.status == "open" and session.created_by_id == olga_id
        assert [u.id for u in session.team] == [olga_id]
        assert session.start_time == dt.time(20, 30) and session.department == "13"
    page = _page(volunteer.get(response.headers["Location"]))
    assert "Marseille" in page and "Test platform" in page


def test_team_choices_are_my_organisations_staff_only(volunteer, outreach_users):
    page = _page(volunteer.get("/outreach/sessions/add"))
    assert "Olga" in page
    assert "Oaides" not in page  # the AIDES volunteer
    assert "Samia" not in page  # AIDES social worker


def test_notes_with_a_phone_number_are_refused(app, volunteer):
    with app.app_context():
        before = db.session.scalar(select(func.count(OutreachSession.id)))
    response = volunteer.post(
        "/outreach/sessions/add",
        data={
            "csrf_token": _token(volunteer, "/outreach/sessions/add"),
            "session_date": dt.date.today().isoformat(),
            "department": "75",
            "notes": "rappeler le 06 12 34 56 78",
        },
    )
    assert response.status_code == 200
    assert "phone numbers" in _page(response) or "numéros" in _page(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(OutreachSession.id))) == before


def test_paste_check_add_and_log_over_http(app, volunteer):
    with app.app_context():
        session = make_session()
        known = fresh_mobile()
        service.add_contacts(session, known)
        db.session.commit()
        session_id, reference = session.id, session.reference
    new_number = fresh_mobile()
    paste = f"{spellings(known)[1]}\n{spellings(new_number)[2]}\nnot a number\n"
    url = WORKSPACE.format(session_id)
    response = volunteer.post(
        f"/outreach/sessions/{session_id}/check",
        data={"csrf_token": _token(volunteer, url), "batch": paste},
    )
    page = _page(response)
    assert response.status_code == 200
    rows = re.findall(r'<tr class="outreach-line outreach-(\w+)" data-line="(\d)"', page)
    assert rows == [("known", "1"), ("new", "2"), ("invalid", "3")]
    assert reference in page  # "already contacted … (session M-…)"

    response = volunteer.post(
        f"/outreach/sessions/{session_id}/contacts",
        data={
            "csrf_token": _token(volunteer, url),
            "batch": paste,
            "line": ["1", "2", "3"],  # only line 2 is new: the others are ignored
            "language": "ro",
            "log_first_message": "1",
        },
    )
    assert response.status_code == 302
    assert new_number.replace(" ", "")[1:] not in response.headers["Location"]
    with app.app_context():
        contacts = db.session.scalars(
            select(OutreachContact).where(OutreachContact.session_id == session_id)
        ).all()
        assert len(contacts) == 2
        added = next(c for c in contacts if c.language == "ro")
        assert [(o.kind, o.purpose, o.language) for o in added.outcomes] == [
            ("message_sent", "first_contact", "ro")
        ]
        added_id = added.id
    page = _page(volunteer.get(url))
    assert "+33 " + new_number[1:] in page
    with volunteer.session_transaction() as flask_session:
        assert new_number[3:] not in str(dict(flask_session))

    response = volunteer.post(
        f"/outreach/sessions/{session_id}/outcomes",
        data={"csrf_token": _token(volunteer, url), "contact": [str(added_id)], "kind": "reply"},
    )
    assert response.status_code == 302
    with app.app_context():
        kinds = db.session.scalars(
            select(ContactOutcome.kind).where(ContactOutcome.contact_id == added_id)
        ).all()
        assert sorted(kinds) == ["message_sent", "reply"]
        details = db.session.scalars(
            select(AuditEvent.details).where(AuditEvent.object_id == reference)
        ).all()
        assert all(new_number.replace(" ", "")[1:] not in str(d) for d in details)
        assert any(d.get("field") == "contact_display" for d in details)  # reading is audited


def test_every_path_to_another_organisations_round_answers_404(app, volunteer, foreign):
    url = WORKSPACE.format(foreign["session"])
    token = _token(volunteer)
    sid, cid, oid = foreign["session"], foreign["contact"], foreign["outcome"]
    gets = [url, f"/outreach/sessions/edit/{sid}", f"/outreach/sessions/outcome/{oid}/edit"]
    for path in gets:
        assert volunteer.get(path).status_code == 404, path
    posts = {
        f"/outreach/sessions/edit/{sid}": {"session_date": "2026-01-01", "department": "75"},
        f"/outreach/sessions/{sid}/check": {"batch": foreign["number"]},
        f"/outreach/sessions/{sid}/contacts": {"batch": fresh_mobile(), "line": "1"},
        f"/outreach/sessions/{sid}/outcomes": {"contact": str(cid), "kind": "reply"},
        f"/outreach/sessions/{sid}/contacts/{cid}/remove": {},
        f"/outreach/sessions/{sid}/close": {},
        f"/outreach/sessions/outcome/{oid}/edit": {"kind": "call"},
        f"/outreach/sessions/outcome/{oid}/delete": {},
    }
    for path, data in posts.items():
        response = volunteer.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 404, path
    with app.app_context():
        session = db.session.get(OutreachSession, sid)
        assert session.is_open and session.department == "93"
        assert db.session.get(OutreachContact, cid).display_sealed is not None
        assert db.session.get(ContactOutcome, oid).kind == "message_sent"
        assert session.contacts_count == 1


def test_a_guessed_contact_id_in_my_own_session_changes_nothing(app, volunteer, foreign):
    with app.app_context():
        mine = make_session()
        service.add_contacts(mine, fresh_mobile())
        db.session.commit()
        my_contact = service.session_contacts(mine)[0].id
        mine_id = mine.id
    response = volunteer.post(
        f"/outreach/sessions/{mine_id}/outcomes",
        data={
            "csrf_token": _token(volunteer),
            "contact": [str(my_contact), str(foreign["contact"])],
            "kind": "registration",
        },
    )
    assert response.status_code == 404
    with app.app_context():
        logged = db.session.scalar(
            select(func.count(ContactOutcome.id)).where(
                ContactOutcome.contact_id.in_([my_contact, foreign["contact"]]),
                ContactOutcome.kind == "registration",
            )
        )
        assert logged == 0


def test_list_and_search_show_only_my_sessions(app, volunteer, foreign, outreach_users):
    city = f"Ville-{fresh_mobile()[-5:].replace(' ', '')}"
    with app.app_context():
        mine = make_session(department="06")
        mine.city = city
        theirs = db.session.get(OutreachSession, foreign["session"])
        theirs.city = city
        db.session.commit()
        my_reference = mine.reference
    listing = _page(volunteer.get("/outreach/sessions/list/?psize_OutreachSessionView=100"))
    assert foreign["reference"] not in listing
    search = _page(volunteer.get(f"/outreach/sessions/list/?_flt_3_city={city}"))
    assert my_reference in search
    assert foreign["reference"] not in search


def test_the_batch_check_never_reports_another_organisations_contacts(app, volunteer, foreign):
    with app.app_context():
        session_id = make_session().id
    response = volunteer.post(
        f"/outreach/sessions/{session_id}/check",
        data={"csrf_token": _token(volunteer), "batch": foreign["number"]},
    )
    page = _page(response)
    assert re.findall(r'outreach-line outreach-(\w+)"', page) == ["new"]
    assert foreign["reference"] not in page


def test_figures_page_counts_my_organisation_only(app, volunteer, outreach_users):
    with app.app_context():
        theirs = make_session(
            AIDES, username=outreach_users["other"], day=dt.date(2024, 3, 5), department="2B"
        )
        service.add_contacts(theirs, fresh_mobile(), log_first_message=True)
        mine = make_session(day=dt.date(2024, 3, 9), department="2A")
        service.add_contacts(mine, fresh_mobile(), log_first_message=True)
        db.session.commit()
    page = _page(volunteer.get("/outreach/figures/?from=2024-03&to=2024-03"))
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert "2A" in cells
    assert "2B" not in cells
    bad = volunteer.get("/outreach/figures/?from=yesterday&to=2024-13&department=ZZ")
    assert bad.status_code == 200
    assert "YYYY-MM" in _page(bad)


def test_closing_erases_the_numbers_and_makes_the_session_read_only(app, volunteer):
    with app.app_context():
        session = make_session()
        number = fresh_mobile()
        service.add_contacts(session, number)
        db.session.commit()
        session_id = session.id
        contact_id = service.session_contacts(session)[0].id
    url = WORKSPACE.format(session_id)
    assert "+33 " + number[1:] in _page(volunteer.get(url))
    response = volunteer.post(
        f"/outreach/sessions/{session_id}/close", data={"csrf_token": _token(volunteer, url)}
    )
    assert response.status_code == 302
    page = _page(volunteer.get(url))
    assert "+33 " + number[1:] not in page
    assert 'id="add-form"' not in page
    response = volunteer.post(
        f"/outreach/sessions/{session_id}/outcomes",
        data={"csrf_token": _token(volunteer, url), "contact": str(contact_id), "kind": "reply"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(ContactOutcome.id)).where(ContactOutcome.contact_id == contact_id)
            )
            == 0
        )


def test_outcomes_can_be_corrected_and_deleted_while_the_session_is_open(app, volunteer):
    with app.app_context():
        session = make_session()
        contact = service.add_contacts(session, fresh_mobile(), log_first_message=True).contacts[0]
        db.session.commit()
        outcome_id = contact.outcomes[0].id
        session_id = session.id
        half_an_hour_ago = service.utcnow() - dt.timedelta(minutes=30)
        when = service.local_time_of(session, half_an_hour_ago).strftime("%Y-%m-%dT%H:%M")
    edit_url = f"/outreach/sessions/outcome/{outcome_id}/edit"
    page = _page(volunteer.get(edit_url))
    assert 'name="occurred_at"' in page
    response = volunteer.post(
        edit_url,
        data={"csrf_token": _token(volunteer, edit_url), "kind": "call", "occurred_at": when},
    )
    assert response.status_code == 302
    bad = volunteer.post(
        edit_url,
        data={"csrf_token": _token(volunteer, edit_url), "kind": "call", "occurred_at": "soon"},
    )
    assert bad.status_code == 200  # shown again with the message, nothing saved
    with app.app_context():
        outcome = db.session.get(ContactOutcome, outcome_id)
        assert outcome.kind == "call" and outcome.purpose is None
        local = service.local_time_of(outcome.session, outcome.occurred_at)
        assert local.strftime("%Y-%m-%dT%H:%M") == when
    response = volunteer.post(
        f"/outreach/sessions/outcome/{outcome_id}/delete",
        data={"csrf_token": _token(volunteer, edit_url)},
    )
    assert response.headers["Location"].endswith(WORKSPACE.format(session_id) + "#contacts")
    with app.app_context():
        assert db.session.get(ContactOutcome, outcome_id) is None


def test_a_contact_added_by_mistake_can_be_removed(app, volunteer):
    with app.app_context():
        session = make_session()
        number = fresh_mobile()
        contact = service.add_contacts(session, number, log_first_message=True).contacts[0]
        db.session.commit()
        session_id, contact_id, org = session.id, contact.id, session.organisation_id
    response = volunteer.post(
        f"/outreach/sessions/{session_id}/contacts/{contact_id}/remove",
        data={"csrf_token": _token(volunteer)},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(OutreachContact, contact_id) is None
        assert [line.status for line in service.check_batch(number, acting_for(org)).lines] == [
            "new"
        ]


def _template_id(app, organisation: str, purpose="how_to_register", language="uk") -> int:
    with app.app_context():
        org = organisation_id(organisation)
        return db.session.scalar(
            select(MessageTemplate.id).where(
                MessageTemplate.organisation_id == org,
                MessageTemplate.purpose == purpose,
                MessageTemplate.language == language,
            )
        )


def test_templates_page_offers_copy_and_sms_count_in_ten_languages(volunteer):
    page = _page(volunteer.get("/outreach/templates/"))
    assert page.count('class="panel panel-default outreach-template"') == 60
    assert page.count("data-copy-target=") >= 60
    assert "GSM-7" in page and "UCS-2" in page
    assert "{register_url}" not in page and "https://jasmine.example/inscription" in page
    arabic = _page(volunteer.get("/outreach/templates/?lang=ar"))
    assert arabic.count('dir="rtl"') == 6
    assert "/static/outreach/outreach.js" in arabic


def test_only_outreach_leads_edit_templates(app, volunteer, login_as, outreach_users):
    template_id = _template_id(app, JASMINE)
    url = f"/outreach/templates/{template_id}/edit"
    with app.app_context():
        before = db.session.get(MessageTemplate, template_id).text
    assert volunteer.get(url).status_code == 302
    response = volunteer.post(url, data={"csrf_token": _token(volunteer), "text": "Hacked"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(MessageTemplate, template_id).text == before

    lead = login_as(outreach_users["lead"])
    page = _page(lead.get(url))
    assert "data-sms-counter" in page
    refused = lead.post(url, data={"csrf_token": _token(lead, url), "text": "Привіт {who}"})
    assert refused.status_code == 200
    saved = lead.post(url, data={"csrf_token": _token(lead, url), "text": "Привіт! {register_url}"})
    assert saved.status_code == 302
    with app.app_context():
        template = db.session.get(MessageTemplate, template_id)
        assert template.text == "Привіт! {register_url}"
        assert template.updated_by.username == outreach_users["lead"]
        template.text = before
        db.session.commit()
    other_org = _template_id(app, AIDES)
    assert lead.get(f"/outreach/templates/{other_org}/edit").status_code == 404


def test_only_leads_change_the_platform_list(app, volunteer, login_as, outreach_users):
    name = f"Site {fresh_mobile()}"
    data = {"name": name, "kind": "escort_site", "active": "y"}
    response = volunteer.post(
        "/outreach/platforms/add", data={"csrf_token": _token(volunteer), **data}
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Platform).where(Platform.name == name)) is None
    lead = login_as(outreach_users["lead"])
    token = _token(lead, "/outreach/platforms/add")
    assert (
        lead.post("/outreach/platforms/add", data={"csrf_token": token, **data}).status_code == 302
    )
    with app.app_context():
        assert (
            db.session.scalar(select(Platform).where(Platform.name == name)).kind == "escort_site"
        )


def test_admins_name_leads_among_outreach_users_only(app, login_as, outreach_users):
    admin = login_as("demo-admin")
    with app.app_context():
        sm = app.appbuilder.sm
        moderator_id = sm.find_user(username="demo-moderator").id
        other_id = sm.find_user(username=outreach_users["other"]).id
    token = _token(admin, "/outreach/leads/add")
    admin.post("/outreach/leads/add", data={"csrf_token": token, "user": str(moderator_id)})
    admin.post("/outreach/leads/add", data={"csrf_token": token, "user": str(other_id)})
    with app.app_context():
        leads = set(db.session.scalars(select(OutreachLead.user_id)))
        assert moderator_id not in leads
        assert other_id in leads
        db.session.query(OutreachLead).filter_by(user_id=other_id).delete()
        db.session.commit()
    # An Admin manages the marker but never reads or edits the texts themselves.
    assert admin.get("/outreach/templates/").status_code != 200


@pytest.mark.parametrize(
    "username", ["demo-moderator", "demo-admin", "demo-social-a", "demo-coordinator"]
)
def test_other_roles_cannot_check_or_add_contacts(app, login_as, username):
    with app.app_context():
        session_id = make_session().id
    client = login_as(username)
    token = _token(client)
    for path in (
        f"/outreach/sessions/{session_id}/check",
        f"/outreach/sessions/{session_id}/contacts",
    ):
        response = client.post(
            path, data={"csrf_token": token, "batch": fresh_mobile(), "line": "1"}
        )
        assert response.status_code in (302, 403, 404)
        assert "outreach-line" not in _page(response)
    with app.app_context():
        assert db.session.get(OutreachSession, session_id).contacts_count == 0


def test_malformed_ids_answer_404_not_an_error(volunteer, login_as, outreach_users):
    lead = login_as(outreach_users["lead"])
    assert lead.get("/outreach/platforms/edit/abc").status_code == 404
    assert lead.get("/outreach/templates/abc/edit").status_code == 404
    for path in (
        "/outreach/sessions/show/abc",
        "/outreach/sessions/edit/1x",
        "/outreach/sessions/show/99999999",
        "/outreach/sessions/outcome/99999999/edit",
        "/outreach/templates/99999999/edit",
        "/outreach/platforms/edit/abc",
    ):
        assert volunteer.get(path).status_code in (302, 404), path
