"""Every route of the application, walked by every role of another organisation.

The organisation boundary is one rule (``security.scope_condition``); this test checks that
no path skips it. AIDES gets one row of every organisation-owned model (tests/owned_rows.py:
a new owned model must get a factory there). Then a user of each role of ANOTHER
association, and someone not signed in, calls every route of ``app.url_map`` with every
method it accepts: where the route names a row, with AIDES's row of the matching model.

Expected, whatever the route (page, search, export, PDF, action, JSON):

* a route naming AIDES's row never answers 200 and never a 5xx;
* no answer contains anything of AIDES's rows (names, texts, references, numbers), except
  references on the audit trail's pages, which its programme-wide readers see;
* AIDES's rows are exactly as before every request.

A route parameter is resolved to an owned model by its name (``ARGUMENT_MODELS``) or, for
``pk``, by the view's model; a parameter that names no owned row must be listed in
``OTHER_ARGUMENTS`` with a harmless value (an id that does not exist). A new route with an
unclassified parameter fails ``test_every_route_argument_is_classified``.

CSRF is off in the walker's application: what is tested is the scope, which a CSRF refusal
would otherwise hide. The public API (bearer keys) has its own matrix.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import inspect, select

from backoffice import security
from backoffice.extensions import db
from backoffice.models.case import (
    Case,
    CaseConsent,
    CaseEvidence,
    CaseFlag,
    CaseNote,
    Complaint,
    FollowUpAction,
    LegalConsent,
    Referral,
)
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import ContactOutcome, MessageTemplate, OutreachContact
from backoffice.models.subscriber import Subscriber
from backoffice.models.user import StaffUser
from backoffice.transactions import unit_of_work
from tests.conftest import login, make_app
from tests.owned_rows import OWNED_FACTORIES, OwnedRows, make_owned_rows

OWNER = "AIDES"
OTHER = "Acceptess-T"
PASSWORD = "walker-passphrase-2026-long"
RUN = uuid.uuid4().hex[:6]
NOWHERE = "987654321"  # an id that no row has

ARGUMENT_MODELS: dict[str, type] = {
    "case_id": Case,
    "note_id": CaseNote,
    "referral_id": Referral,
    "action_id": FollowUpAction,
    "consent_id": CaseConsent,
    "flag_id": CaseFlag,
    "evidence_id": CaseEvidence,
    "legal_consent_id": LegalConsent,
    "complaint_id": Complaint,
    "subscriber_id": Subscriber,
    "contact_id": OutreachContact,
    "outcome_id": ContactOutcome,
    "template_id": MessageTemplate,
}
# Parameters that name nothing owned by an organisation, with the value the walker sends.
OTHER_ARGUMENTS: dict[str, str] = {
    "pk": NOWHERE,  # only on views whose model is not organisation-owned
    "reference": "A-1999-999999",
    "report_id": NOWHERE,
    "request_id": NOWHERE,  # grant requests belong to no organisation (Admins decide them)
    "alert_id": NOWHERE,
    "structure_id": NOWHERE,
    "change_id": NOWHERE,
    "sheet_id": NOWHERE,
    "language": "fr",
    "filename": "walker.csv",
    "name": "walker",
    "locale": "fr",
    "key": "walker",
    "fmt": "csv",
    "token": "walker-token",
    "group_by": "walker",
    "action": "pause",
    "session_id": NOWHERE,  # one's own sign-in sessions (another user's: 404, test_accounts)
    "notice_id": NOWHERE,  # one's own notices (another user's: 404, test_staff_notices)
    "provider": "walker",  # an SMS provider's webhook: 404 for any but the configured one
}
# Pages that show the audit trail to its programme-wide readers, who may see references.
AUDIT_TRAIL_VIEWS = {"AuditEventView"}
# The health check answers 503 when a check fails (no scheduler runs in the tests).
UNHEALTHY_IS_503 = {"/healthz"}
# Signing in and out are not about rows, and signing out would end the walk.
SKIPPED_ENDPOINTS = {"logout", "login", "second_step", "enrol"}
FORM = {
    "body": "Walker was here",
    "text": "Walker was here",
    "status": "active",
    "outcome": "needs_met",
    "resolution": "done",
    "kind": "call_back",
    "need": "health",
    "channel": "phone",
    "reason": "person_request",
    "confirmation": "walker",
    "pseudonym": "Walker",
    "city": "Walkerville",
    "department": "75",
    "language": "fr",
    "contact_ids": "1",
    "items": ["contact", "needs"],
    "note_ids": "1",
}


def _view_model(app, endpoint: str):
    name = endpoint.split(".")[0]
    for view in app.appbuilder.baseviews:
        if type(view).__name__ == name:
            datamodel = getattr(view, "datamodel", None)
            return getattr(datamodel, "obj", None)
    return None


def argument_model(app, rule, argument: str):
    """The owned model a route argument names, or None when it names nothing owned."""
    if argument in ARGUMENT_MODELS:
        return ARGUMENT_MODELS[argument]
    if argument == "pk":
        model = _view_model(app, rule.endpoint)
        if getattr(model, "__organisation_owned__", False):
            return model
    return None


def walked_rules(app) -> list:
    rules = []
    for rule in app.url_map.iter_rules():
        view, _, method = rule.endpoint.partition(".")
        if rule.endpoint == "static" or view in ("appbuilder", "api_v1"):
            continue
        if method in SKIPPED_ENDPOINTS:
            continue
        rules.append(rule)
    return sorted(rules, key=lambda r: (r.rule, r.endpoint))


def owned_models() -> set[type]:
    from flask_appbuilder import Model

    return {
        mapper.class_
        for mapper in Model.registry.mappers
        if getattr(mapper.class_, "__organisation_owned__", False)
    }


@pytest.fixture(scope="module")
def walker_app(database_url, test_keyring, tmp_path_factory, app):
    return make_app(
        database_url, test_keyring, tmp_path_factory.mktemp("walker"), WTF_CSRF_ENABLED=False
    )


@pytest.fixture(scope="module")
def owned(walker_app) -> OwnedRows:
    with walker_app.app_context(), unit_of_work():
        organisation = db.session.scalar(select(Organisation).where(Organisation.name == OWNER))
        actor = db.session.scalar(select(StaffUser).where(StaffUser.username == "demo-social-a"))
        rows = make_owned_rows(organisation, actor)
    return rows


@pytest.fixture(scope="module")
def walkers(walker_app) -> dict[str, str | None]:
    """A user of every role in the OTHER association (usernames), and someone anonymous."""
    users: dict[str, str | None] = {"anonymous": None}
    with walker_app.app_context(), unit_of_work():
        sm = walker_app.appbuilder.sm
        other = db.session.scalar(select(Organisation).where(Organisation.name == OTHER))
        for role in security.ROLES:
            username = f"walker-{role.lower()}-{RUN}"
            user = sm.add_user(
                username=username,
                first_name="Walker",
                # Not the role's English name: it would read as a stock string on French
                # pages that list staff (the page walk shares this database).
                last_name="Marcheuse",
                email=f"{username}@test.invalid",
                role=sm.find_role(role),
                password=PASSWORD,
            )
            user.organisation_id = other.id
            users[role] = username
    return users


def _snapshot(owned: OwnedRows) -> dict:
    """Every column of every owned row, read from the database."""
    state = {}
    for model, row_id in owned.ids.items():
        table = inspect(model).local_table
        row = db.session.execute(select(table).where(table.c.id == row_id)).one_or_none()
        state[model.__name__] = tuple(row) if row is not None else None
    return state


def _url(app, rule, owned: OwnedRows) -> tuple[str, bool]:
    """The URL naming AIDES's rows where the route names a row, and whether it does."""
    names_owned = False

    def value(match) -> str:
        nonlocal names_owned
        argument = match.group(1)
        model = argument_model(app, rule, argument)
        if model is not None:
            names_owned = True
            return str(owned.ids[model])
        return OTHER_ARGUMENTS[argument]

    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", value, rule.rule), names_owned


def test_every_owned_model_has_a_factory():
    missing = sorted(m.__name__ for m in owned_models() - set(OWNED_FACTORIES))
    assert not missing, f"add a factory to tests/owned_rows.py for {missing}"


def test_every_route_argument_is_classified(walker_app):
    unknown = set()
    for rule in walked_rules(walker_app):
        for argument in rule.arguments:
            model = argument_model(walker_app, rule, argument)
            if model is None and argument not in OTHER_ARGUMENTS:
                unknown.add(f"{rule.rule}: {argument}")
            if model is not None and model not in OWNED_FACTORIES:
                unknown.add(f"{rule.rule}: {argument} names {model.__name__}, with no factory")
    assert not unknown, sorted(unknown)


@pytest.mark.parametrize("role", ["anonymous", *security.ROLES])
def test_no_route_reaches_another_organisations_rows(walker_app, owned, walkers, role):
    client = walker_app.test_client()
    if walkers[role] is not None:
        response = login(client, walkers[role], PASSWORD)
        assert response.status_code == 302 and "/login" not in response.headers["Location"]
    rules = walked_rules(walker_app)
    assert len(rules) > 100, "the application's routes were not found"
    failures = []
    for rule in rules:
        url, names_owned = _url(walker_app, rule, owned)
        markers = owned.markers
        if rule.endpoint.split(".")[0] not in AUDIT_TRAIL_VIEWS:
            markers = markers + owned.references
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            failures += _walk(walker_app, client, owned, markers, role, method, url, names_owned)
    assert not failures, "\n".join(failures)


def _walk(app, client, owned, markers, role, method, url, names_owned) -> list[str]:
    with app.app_context():
        before = _snapshot(owned)
    response = client.get(url) if method == "GET" else client.open(url, method=method, data=FORM)
    problems = []
    status = response.status_code
    if status >= 500 and not (status == 503 and url in UNHEALTHY_IS_503):
        problems.append(f"{role} {method} {url}: {status}")
    if names_owned and status == 200:
        problems.append(f"{role} {method} {url}: 200 on another organisation's row")
    # Binary answers (PDF, images) are searched too, byte for byte.
    body = response.get_data().decode("utf-8", errors="replace")
    leaked = [marker for marker in markers if marker in body]
    if leaked:
        problems.append(f"{role} {method} {url}: the answer shows {leaked}")
    with app.app_context():
        if _snapshot(owned) != before:
            problems.append(f"{role} {method} {url}: changed another organisation's rows")
    return problems
