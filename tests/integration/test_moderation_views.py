"""The moderators' pages: queue, report page, composer, alerts, back-office check, PDF.

Database work runs in its own ``app.app_context()`` block and requests outside it, so that
every request gets its own context (as in production).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.alert import Alert, AlertReport, IdentifierCheck
from backoffice.models.audit import AuditEvent
from backoffice.models.report import Report
from backoffice.services import alerts, moderation
from tests.conftest import csrf_token
from tests.integration.moderation_support import payload, report_in, unique_phone, user

CONFIRMED = {"confirmed": "1"}  # what the confirmation page adds (issue 18.1)


def _state(app, status: str, **overrides) -> str:
    with app.app_context():
        reference = report_in(status, **overrides).reference
        db.session.remove()
        return reference


def _report(reference: str) -> Report:
    return db.session.scalar(select(Report).where(Report.reference == reference))


def _version(app, reference: str) -> int:
    with app.app_context():
        return _report(reference).version_id


def _post(client, url: str, page: str, data: dict):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def _alert_of(app, reference: str) -> str:
    with app.app_context():
        return db.session.scalar(
            select(Alert.reference)
            .join(AlertReport)
            .join(Report, Report.id == AlertReport.report_id)
            .where(Report.reference == reference)
        )


# --- the queue ---------------------------------------------------------------------------------


def test_the_queue_lists_open_reports_oldest_first_with_counts(app, login_as):
    department = "48"
    incident = {**payload()["incident"], "department": department}
    old = _state(app, "received", incident=incident)
    recent = _state(app, "in_review", incident=incident)
    with app.app_context():
        _report(old).received_at -= dt.timedelta(days=4)
        db.session.commit()
    page = login_as("demo-moderator").get(f"/moderation/queue?department={department}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.index(old) < html.index(recent)
    assert re.search(r'data-status="in_review">[^<]*<span class="badge">\d+', html)
    assert "4" in html[html.index(old) : html.index(old) + 400]  # waiting for 4 days


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        ("violence_type=rape", False),
        ("violence_type=theft", True),
        ("severity=risky", True),
        ("severity=dangerous", False),
        ("channel=web", True),
        ("channel=sms", False),
        ("language=fr", True),
        ("language=ro", False),
        ("age=7d", False),
        ("status=approved", False),
        ("status=all", True),
    ],
)
def test_queue_filters(app, login_as, query, kept):
    reference = _state(app, "received", incident={**payload()["incident"], "department": "23"})
    html = login_as("demo-moderator").get(f"/moderation/queue?department=23&{query}")
    assert (reference in html.get_data(as_text=True)) is kept


def test_the_queue_pages_keep_their_filters(app, login_as, monkeypatch):
    """Martinique (972) is used by no other moderation test."""
    monkeypatch.setitem(app.config, "MODERATION_PAGE_SIZE", 2)
    incident = {**payload()["incident"], "department": "972"}
    made = [_state(app, "received", incident=incident) for _ in range(3)]
    moderator = login_as("demo-moderator")
    first = moderator.get("/moderation/queue?department=972").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert re.search(r'href="[^"]*page=2[^"]*department=972|department=972[^"]*page=2', first)
    second = moderator.get("/moderation/queue?department=972&page=2").get_data(as_text=True)
    shown = [r for r in made if r in first] + [r for r in made if r in second]
    assert sorted(shown) == sorted(made)


def test_bad_filters_are_ignored_not_errors(app, login_as):
    response = login_as("demo-moderator").get("/moderation/queue?status=bogus&page=x&age=99y")
    assert response.status_code == 200


# --- the report page ---------------------------------------------------------------------------


def test_the_report_page_highlights_the_proposal_and_shows_links_and_history(app, login_as):
    phone = unique_phone()
    identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
    reference = _state(app, "in_review", aggressor=identifiers)
    other = _state(app, "received", aggressor=identifiers)
    with app.app_context():
        report = _report(reference)
        start = report.narrative.index("Lila")
        report.redaction_status = "proposed"
        report.redaction_proposal = {
            "text": report.narrative.replace("Lila", "[NOM]"),
            "spans": [{"start": start, "end": start + 4, "type": "NAME"}],
        }
        db.session.commit()
    html = login_as("demo-moderator").get(f"/moderation/reports/{reference}").get_data(as_text=True)
    assert (
        f'<mark class="redaction" data-start="{start}" data-end="{start + 4}" data-type="NAME"'
        in html
    )
    assert other in html  # a linked report sharing the phone
    assert 'data-action="claim"' in html  # the history
    assert 'data-transition="approve"' in html and 'data-transition="reject"' in html
    assert "07 98 76 54 32" not in html and "+33798765432" not in html  # never her contact
    assert "moderation.js" in html and "onclick" not in html


def test_a_transition_through_the_page_and_a_stale_form(app, login_as):
    reference = _state(app, "received")
    client = login_as("demo-moderator")
    page = f"/moderation/reports/{reference}"
    seen = _version(app, reference)
    url = f"/moderation/reports/{reference}/transition"
    response = _post(client, url, page, {"transition": "claim", "version": seen})
    assert response.status_code == 302
    with app.app_context():
        assert _report(reference).status == "in_review"
    stale = _post(
        client, url, page, {"transition": "reject", "reason": "x", "version": seen, **CONFIRMED}
    )
    assert stale.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "Someone else changed" in html or "quelqu" in html.lower()
    with app.app_context():
        assert _report(reference).status == "in_review"


def test_publication_cannot_be_forced_from_the_report_page(app, login_as):
    reference = _state(app, "approved")
    client = login_as("demo-moderator")
    page = f"/moderation/reports/{reference}"
    data = {"transition": "publish", "version": _version(app, reference)}
    _post(client, f"{page}/transition", page, data)
    with app.app_context():
        assert _report(reference).status == "approved"


def test_a_reason_is_asked_for_rejection(app, login_as):
    reference = _state(app, "in_review")
    client = login_as("demo-moderator")
    page = f"/moderation/reports/{reference}"
    url = f"/moderation/reports/{reference}/transition"
    version = _version(app, reference)
    _post(
        client, url, page, {"transition": "reject", "reason": " ", "version": version, **CONFIRMED}
    )
    with app.app_context():
        assert _report(reference).status == "in_review"
    data = {"transition": "reject", "reason": "Hors sujet", "version": version}
    _post(client, url, page, data)  # without the confirmation step: nothing happens
    with app.app_context():
        assert _report(reference).status == "in_review"
    _post(client, url, page, {**data, **CONFIRMED})
    with app.app_context():
        assert _report(reference).status == "rejected"


def test_the_redaction_review_through_the_page(app, login_as):
    reference = _state(app, "in_review")
    client = login_as("demo-moderator")
    page = f"/moderation/reports/{reference}"
    url = f"/moderation/reports/{reference}/redaction"
    spans = json.dumps([{"start": 0, "end": 2, "type": "NAME"}])
    response = _post(
        client, url, page, {"decision": "edit", "spans": spans, "version": _version(app, reference)}
    )
    assert response.status_code == 302
    with app.app_context():
        reviewed = _report(reference).redaction_reviewed
        assert reviewed["spans"] == [{"start": 0, "end": 2, "type": "NAME"}]
        assert reviewed["text"].startswith("[NOM]")
    bad = _post(
        client,
        url,
        page,
        {"decision": "edit", "spans": "{oops", "version": _version(app, reference)},
    )
    assert bad.status_code == 302  # refused with a message, nothing changed
    with app.app_context():
        assert _report(reference).redaction_reviewed["spans"][0]["end"] == 2


def test_another_moderator_cannot_act_on_a_claimed_report(app, login_as):
    from tests.integration.moderation_support import second_moderator

    reference = _state(app, "in_review")
    with app.app_context():
        second_moderator()
    client = login_as("test-moderator-2")
    page = f"/moderation/reports/{reference}"
    html = client.get(page).get_data(as_text=True)
    assert "Morgane" in html and 'data-transition="approve"' not in html
    _post(
        client,
        f"{page}/transition",
        "/check/",  # her page of the report has no form: a token from another page
        {"transition": "release", "version": _version(app, reference)},
    )
    with app.app_context():
        assert _report(reference).status == "in_review"


@pytest.mark.parametrize("who", ["demo-social-a", "demo-relay", "demo-admin", "demo-coordinator"])
def test_other_roles_cannot_post_moderation_actions(app, login_as, who):
    reference = _state(app, "received")
    client = login_as(who)
    token = csrf_token(client, "/resetmypassword/form")
    for url, data in (
        (f"/moderation/reports/{reference}/transition", {"transition": "claim"}),
        (f"/moderation/reports/{reference}/redaction", {"decision": "accept"}),
        ("/composer/new", {"reports": reference}),
        ("/check/", {"value": "0612345678"}),
    ):
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code in (302, 403), url
    with app.app_context():
        assert _report(reference).status == "received"


def test_unknown_references_are_404(app, login_as):
    client = login_as("demo-moderator")
    assert client.get("/moderation/reports/J-1999-000001").status_code == 404
    assert client.get("/composer/edit/A-1999-000001").status_code == 404
    assert client.get("/alerts/show/A-1999-000001").status_code == 404


# --- the composer ------------------------------------------------------------------------------


def test_compose_preview_and_publish_through_the_pages(app, login_as):
    phone = unique_phone()
    reference = _state(
        app, "approved", aggressor={"identifiers": [{"kind": "phone", "value": phone}]}
    )
    client = login_as("demo-moderator")
    form_page = f"/composer/new?reports={reference}"
    form = client.get(form_page).get_data(as_text=True)
    identifier_id = re.search(r'name="identifiers" value="(\d+)"', form).group(1)
    data = {
        "reports": reference,
        "violence_types": ["theft", "condom_removal"],
        "departments": "75, 93",
        "incident_date": (dt.date.today() - dt.timedelta(days=2)).isoformat(),
        "date_precision": "week",
        "work_context": "car",
        "gender": "man",
        "identifiers": identifier_id,
        "severity": "dangerous",
        "summary": "Homme agressif, se présente comme un habitué.",
        "summary_ro": "Bărbat agresiv.",
    }
    created = _post(client, "/composer/new", form_page, data)
    assert created.status_code == 302
    edit_url = created.headers["Location"].split("#")[0]
    alert_reference = edit_url.rsplit("/", 1)[1]
    html = client.get(edit_url).get_data(as_text=True)
    for lang in ("fr", "en", "es", "pt", "ro", "bg", "zh", "ru", "uk", "ar"):
        assert f'id="preview-{lang}"' in html
    assert 'dir="rtl"' in html and "Bărbat agresiv." in html
    with app.app_context():
        alert = db.session.scalar(select(Alert).where(Alert.reference == alert_reference))
        assert alert.severity == "dangerous" and alert.departments == ["75", "93"]
        version = alert.version_id
    published = _post(
        client, f"/composer/publish/{alert_reference}", edit_url, {"version": version, **CONFIRMED}
    )
    assert published.status_code == 302
    with app.app_context():
        assert (
            db.session.scalar(select(Alert.status).where(Alert.reference == alert_reference))
            == "published"
        )
        assert _report(reference).status == "published"


def test_composer_errors_are_shown_and_nothing_is_created(app, login_as):
    reference = _state(app, "approved")
    client = login_as("demo-moderator")
    form_page = f"/composer/new?reports={reference}"
    with app.app_context():
        before = db.session.query(Alert).count()
    response = _post(
        client, "/composer/new", form_page, {"reports": reference, "departments": "999"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "field-error" in html
    with app.app_context():
        assert db.session.query(Alert).count() == before


def test_retraction_through_the_page(app, login_as):
    reference = _state(app, "published")
    alert_reference = _alert_of(app, reference)
    client = login_as("demo-moderator")
    page = f"/alerts/show/{alert_reference}"
    with app.app_context():
        version = db.session.scalar(
            select(Alert.version_id).where(Alert.reference == alert_reference)
        )
    _post(
        client,
        f"/composer/retract/{alert_reference}",
        page,
        {"reason": "", "version": version, **CONFIRMED},
    )
    with app.app_context():
        assert (
            db.session.scalar(select(Alert.status).where(Alert.reference == alert_reference))
            == "published"
        )
    _post(
        client,
        f"/composer/retract/{alert_reference}",
        page,
        {"reason": "Erreur", "version": version, **CONFIRMED},
    )
    with app.app_context():
        assert (
            db.session.scalar(select(Alert.status).where(Alert.reference == alert_reference))
            == "retracted"
        )


# --- alerts for every role, and the PDF ------------------------------------------------------


def test_other_roles_see_published_alerts_only(app, login_as):
    published = _alert_of(app, _state(app, "published"))
    with app.app_context():
        draft = alerts.compose([report_in("approved")], user("demo-moderator")).reference
        db.session.commit()
    relay = login_as("demo-relay")
    listing = relay.get("/alerts/list").get_data(as_text=True)
    assert published in listing and draft not in listing
    assert relay.get(f"/alerts/show/{published}").status_code == 200
    assert relay.get(f"/alerts/show/{draft}").status_code == 404
    assert login_as("demo-moderator").get(f"/alerts/show/{draft}").status_code == 200


def _listed(client, query: str) -> list[str]:
    page = client.get(f"/alerts/list?{query}").get_data(as_text=True)
    return re.findall(r">(A-\d{4}-\d{6})</a>", page)


def test_the_alert_list_pages_through_every_alert(app, login_as, monkeypatch):
    """Mayotte (976) is used by no other test: its alerts are exactly the ones made here."""
    monkeypatch.setitem(app.config, "MODERATION_PAGE_SIZE", 2)
    mayotte = {"incident": {"department": "976", "city": "Mamoudzou"}}
    published = [_alert_of(app, _state(app, "published", **mayotte)) for _ in range(3)]
    retracted = _alert_of(app, _state(app, "archived", **mayotte))
    relay = login_as("demo-relay")
    assert _listed(relay, "department=976") == [published[2], published[1]]
    assert _listed(relay, "department=976&page=2") == [published[0]]
    assert _listed(relay, "department=976&page=99") == [published[0]]
    assert _listed(relay, "department=976&page=abc") == [published[2], published[1]]
    first = relay.get("/alerts/list?department=976").get_data(as_text=True)
    assert "3 alerts, newest first." in first and "Page 1 of 2" in first
    assert "page=2" in first and "department=976" in first
    assert retracted not in _listed(relay, "department=976&status=retracted")
    moderator = login_as("demo-moderator")
    assert _listed(moderator, "department=976&status=retracted") == [retracted]
    everything = _listed(moderator, "department=976") + _listed(moderator, "department=976&page=2")
    assert sorted(everything) == sorted([*published, retracted])


def test_the_sheet_is_printed_for_published_alerts_only(app, login_as):
    published = _alert_of(app, _state(app, "published"))
    retracted_report = _state(app, "archived")
    retracted = _alert_of(app, retracted_report)
    relay = login_as("demo-relay")
    response = relay.get(f"/alerts/sheet/{published}?lang=zh")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert relay.get(f"/alerts/sheet/{retracted}?lang=fr").status_code == 404
    with app.app_context():
        printed = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "alert_sheet_printed")
            .order_by(AuditEvent.id.desc())
        )
        assert printed.object_id == published


# --- the back-office check -----------------------------------------------------------------------


def _backoffice_checks() -> int:
    alerts.flush_check_counts()
    db.session.commit()
    return sum(c.count for c in db.session.query(IdentifierCheck).filter_by(source="backoffice"))


def test_the_moderators_check_shows_unpublished_reports_too(app, login_as):
    phone = unique_phone()
    identifiers = {"identifiers": [{"kind": "phone", "value": phone}]}
    waiting = _state(app, "received", aggressor=identifiers)
    published = _state(app, "published", aggressor=identifiers)
    alert_reference = _alert_of(app, published)
    client = login_as("demo-moderator")
    with app.app_context():
        before = _backoffice_checks()
    response = _post(client, "/check/", "/check/", {"value": phone, "kind": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert alert_reference in html and waiting in html and published in html
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "identifier_checked")
            .order_by(AuditEvent.id.desc())
        )
        assert event.details["reports"] == 2 and phone[1:] not in json.dumps(event.details)
        assert _backoffice_checks() == before + 1


def test_the_moderators_check_explains_a_bad_value(app, login_as):
    client = login_as("demo-moderator")
    response = _post(client, "/check/", "/check/", {"value": "06 12 AB", "kind": "phone"})
    assert response.status_code == 422
    assert "check-error" in response.get_data(as_text=True)


def test_queue_counts_match_the_service(app, login_as):
    with app.app_context():
        page = moderation.queue(moderation.QueueFilters(status="all", department="75"))
        total = page.total
    html = (
        login_as("demo-moderator")
        .get("/moderation/queue?status=all&department=75")
        .get_data(as_text=True)
    )
    assert f"{total} " in html
