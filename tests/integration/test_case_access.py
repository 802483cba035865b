"""Who can reach a case, by any path: one table-driven test over every route of the case views.

Routes are read from ``app.url_map`` for every view class defined in a ``backoffice.views.case*``
module, so a new case view (page, export, API, PDF) joins this test automatically. Every
route is called with the ids of ANOTHER association's rows (AIDES's case, note, referral,
flag, consent and action), by a social worker of Acceptess-T and by every other role, with
every method the route accepts and a form that would succeed if the organisation check were
missing. Expected:

* the Acceptess-T social worker gets 404 on every route that names a row, and on the others
  (list, search, export, my actions, open a case) sees nothing of AIDES;
* Admin, Coordinator, Outreach and PartnerRelay get 403 everywhere; a Moderator too, except
  on the routing page, which shows no victim data;
* someone not signed in is sent to the login page;
* no answer contains AIDES's victim name, phone, email, notes, referral notes or action
  details, and AIDES's rows are exactly as before every request.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    ERASURE_REASONS,
    Case,
    CaseConsent,
    CaseFlag,
    CaseNote,
    CaseTransfer,
    FollowUpAction,
    Referral,
)
from backoffice.models.keys import DataKey
from backoffice.services import cases
from backoffice.services.timezones import to_local
from tests.conftest import csrf_token
from tests.integration.cases_support import (
    ACCEPTESS_WORKER,
    AIDES_WORKER,
    make_report,
    open_case,
    structure,
    unique,
    user,
)
from tests.owned_rows import tiny_png

USERS = {
    "SocialWorker of another association": ACCEPTESS_WORKER,
    "Admin": "demo-admin",
    "Moderator": "demo-moderator",
    "Coordinator": "demo-coordinator",
    "Outreach": "demo-outreach",
    "PartnerRelay": "demo-relay",
    "anonymous": None,
}
ROUTING_VIEWS = {"CaseRoutingView"}
# Forms a route may need to succeed, by endpoint; the rest get DEFAULT_FORM.
FORM_BY_ENDPOINT = {
    "referral_status": {"status": "accepted"},
    "add_flag": {"kind": "shelter_tonight"},
    "add_action": {"kind": "call_back"},
}


def _case_view_names(app) -> set[str]:
    return {
        type(view).__name__
        for view in app.appbuilder.baseviews
        if type(view).__module__.startswith("backoffice.views.case")
    }


def case_routes(app) -> list:
    names = _case_view_names(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.split(".")[0] in names]
    return sorted(rules, key=lambda r: r.rule)


@pytest.fixture(scope="module")
def aides(app):
    """AIDES's case with one row of every kind, and what must never leak from it."""
    with app.app_context():
        actor = user(AIDES_WORKER)
        acceptess = user(ACCEPTESS_WORKER).organisation_id
        secret = {
            "name": unique("Secretname"),
            "email": f"{unique('secret')}@example.org",
            "note": unique("Secret note"),
            "referral": unique("Secret referral note"),
            "action": unique("Secret action detail"),
            "instructions": unique("Secret instructions"),
        }
        incident = to_local(utcnow() - dt.timedelta(hours=3), "75")
        case = open_case(
            contact=cases.Contact(
                name=secret["name"],
                phone="06 47 58 69 70",
                email=secret["email"],
                instructions=secret["instructions"],
            ),
            facts=cases.CaseFacts(incident.date(), None, "75", ["rape"]),
        )
        note = cases.add_note(case, secret["note"], actor)
        referral = cases.add_referral(case, structure().id, "health", actor, secret["referral"])
        action = cases.add_action(
            case, "call_back", dt.date.today(), None, actor, details=secret["action"]
        )
        # The worst case for a missing check: she agreed to sharing with the other association.
        consent = cases.record_consent(case, acceptess, "in_person", actor)
        flag = cases.add_flag(case, "safety", actor)
        evidence = cases.add_evidence(case, tiny_png(), "vehicle", actor)
        legal = cases.record_legal_consent(case, "police", True, True, "written", actor)
        complaint = cases.record_complaint(
            case, cases.ComplaintInput(filed_on=dt.date.today(), details=secret["action"]), actor
        )
        report = make_report(pseudonym=unique("Secretpseudo"))
        routed = cases.route_report(report.id, actor.organisation_id, user("demo-moderator"))
        db.session.commit()
        with app.test_request_context(method="POST"):
            reason = str(ERASURE_REASONS["person_request"])
        return {
            "ids": {
                "case_id": case.id,
                "note_id": note.id,
                "referral_id": referral.id,
                "action_id": action.id,
                "consent_id": consent.id,
                "flag_id": flag.id,
                "evidence_id": evidence.id,
                "legal_consent_id": legal.id,
                "complaint_id": complaint.id,
                "report_id": report.id,
            },
            "references": [case.reference, routed.reference],
            "secrets": [*secret.values(), "06 47 58 69 70", "+33647586970", "6 47 58 69 70"],
            "form": {
                "body": "Injected by another association",
                "status": "active",
                "outcome": "needs_met",
                "resolution": "done",
                "due_on": dt.date.today().isoformat(),
                "assignee_id": str(user(ACCEPTESS_WORKER).id),
                "partner_id": str(acceptess),
                "organisation_id": str(acceptess),
                "channel": "phone",
                "items": ["contact", "needs", "incident", "flags"],
                "note_ids": [str(note.id)],
                "close_sender": "1",
                "reason": "person_request",
                "confirmation": reason,
                "need": "health",
                "need_health": "met",
                "structure_id": str(structure().id),
                "victim_name": "Overwritten",
                "consent_follow_up": "1",
                "back": "actions",
            },
            "case_id": case.id,
        }


def snapshot(app, aides) -> tuple:
    """Everything about AIDES's case that a request of another association could change."""
    with app.app_context():
        case_id = aides["case_id"]
        case = db.session.get(Case, case_id)

        def rows(model, *columns):
            return db.session.execute(
                select(*columns).where(model.case_id == case_id).order_by(model.id)
            ).all()

        return (
            (case.version_id, case.status, case.assignee_id, case.erased_at, case.outcome),
            case.victim_name_sealed,
            db.session.get(DataKey, case.data_key_id).wrapped_key,
            rows(CaseNote, CaseNote.id, CaseNote.body_sealed, CaseNote.edited_at),
            rows(Referral, Referral.status, Referral.notes_sealed),
            rows(FollowUpAction, FollowUpAction.id, FollowUpAction.done_at),
            rows(CaseConsent, CaseConsent.id, CaseConsent.withdrawn_at),
            rows(CaseFlag, CaseFlag.id, CaseFlag.resolved_at),
            [(n.need, n.status) for n in case.needs],
            db.session.scalar(
                select(func.count(CaseTransfer.id)).where(CaseTransfer.from_case_id == case_id)
            ),
        )


def _client(app, login_as, username):
    client = app.test_client() if username is None else login_as(username)
    page = "/login/" if username is None else "/resetmypassword/form"
    return client, csrf_token(client, page)


def _urls(rule, ids: dict, references: list[str]) -> list[str]:
    missing = set(rule.arguments) - set(ids)
    assert not missing, f"{rule.rule}: add an id of another association for {missing}"
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), rule.rule)
    if rule.arguments:
        return [url]
    # Search and filters: the other association's reference (the form echoes what was typed,
    # so the search leaves out the "C-" that the full reference would show) and every
    # status with the names shown.
    return [url, f"{url}?status=all&names=1", f"{url}?reference={references[0][2:]}&status=all"]


def _expected(who: str, rule, method: str) -> set[int]:
    view = rule.endpoint.split(".")[0]
    if who == "anonymous":
        return {302}
    if who == "Moderator" and view in ROUTING_VIEWS:
        return {200} if method == "GET" else {302}
    if who != "SocialWorker of another association" or view in ROUTING_VIEWS:
        return {403}
    if rule.arguments:
        return {404}
    return {200, 302}


@pytest.mark.parametrize("who", list(USERS))
def test_no_path_reaches_another_associations_case(app, login_as, aides, who):
    client, token = _client(app, login_as, USERS[who])
    routes = case_routes(app)
    assert len(routes) >= 20, "the case views' routes were not found"
    failures = []
    for rule in routes:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for url in _urls(rule, aides["ids"], aides["references"]):
                failures += _check(app, client, token, aides, who, rule, method, url)
    assert not failures, "\n".join(failures)


def _check(app, client, token, aides, who, rule, method, url) -> list[str]:
    before = snapshot(app, aides)
    if method == "GET":
        response = client.get(url)
    else:
        endpoint = rule.endpoint.split(".")[1]
        form = {**aides["form"], **FORM_BY_ENDPOINT.get(endpoint, {}), "csrf_token": token}
        response = client.post(url, data=form)
    problems = []
    expected = _expected(who, rule, method)
    if response.status_code not in expected:
        problems.append(f"{who} {method} {url}: {response.status_code}, expected {expected}")
    location = response.headers.get("Location", "")
    if who == "anonymous" and response.status_code == 302 and "/login" not in location:
        problems.append(f"anonymous {method} {url}: redirected outside the login page")
    body = response.get_data(as_text=True)
    leaked = [s for s in aides["secrets"] + aides["references"] if s in body]
    if leaked:
        problems.append(f"{who} {method} {url}: the answer contains {leaked}")
    if snapshot(app, aides) != before:
        problems.append(f"{who} {method} {url}: changed the other association's case")
    return problems


def test_a_social_worker_without_an_organisation_reaches_no_case(app, login_as, aides):
    """The one scoping rule: an actor without an organisation sees no organisation's row,
    and cannot open a case (a case must belong to an organisation)."""
    from tests.integration.test_cases import _second_social_worker

    with app.app_context():
        loner = _second_social_worker(user(AIDES_WORKER).organisation_id)
        loner.organisation_id = None
        db.session.commit()
        username = loner.username
        cases_before = db.session.scalar(select(func.count(Case.id)))
    client, token = _client(app, login_as, username)
    listing = client.get("/cases/?status=all&names=1").get_data(as_text=True)
    assert not [r for r in aides["references"] if r in listing]
    assert client.get(f"/cases/{aides['case_id']}").status_code == 404
    assert client.get(f"/cases/notes/{aides['ids']['note_id']}/edit").status_code == 404
    opened = client.post(
        "/cases/new",
        data={"csrf_token": token, "victim_name": unique("Nobody"), "consent_follow_up": "1"},
    )
    assert opened.status_code == 404
    assert client.get("/cases/actions/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(Case.id))) == cases_before
