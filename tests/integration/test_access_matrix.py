"""Who may open what: every registered view and API route × every role, plus anonymous.

``EXPECTED`` is the decision table, written here independently of the views' own
declarations. A view or route registered without a line in it fails
``test_every_view_has_a_decision``, so a new view cannot ship without someone deciding who
may use it. Organisation boundaries inside a view are tested per area (cases, outreach…).
"""

from __future__ import annotations

import pytest

ROLES = [
    "Admin",
    "Moderator",
    "SocialWorker",
    "Coordinator",
    "Outreach",
    "PartnerRelay",
    "DataProtection",
]
USER_OF_ROLE = {
    "Admin": "demo-admin",
    "Moderator": "demo-moderator",
    "SocialWorker": "demo-social-a",
    "Coordinator": "demo-coordinator",
    "Outreach": "demo-outreach",
    "PartnerRelay": "demo-relay",
    "DataProtection": "demo-dpo",
}
EVERYONE = set(ROLES)
PUBLIC = "anonymous"

# view name -> (entry URL, who may open it; PUBLIC is someone not signed in).
EXPECTED: dict[str, tuple[str | None, set[str]]] = {
    # FAB plumbing with no page of its own
    "UtilView": (None, set()),
    "LocaleView": (None, set()),
    "DisabledSecurityApi": (None, set()),
    "TwoStepAuthDBView": ("/login/", {PUBLIC}),
    # the page an invitation's link opens: the link is the credential (without one, the
    # page says the link is not valid, to everyone)
    "InvitationView": ("/invitation/", set()),
    "SecondFactorView": ("/account/second-factor/", EVERYONE),
    "SessionsView": ("/account/sessions/", EVERYONE),
    "NotificationsView": ("/account/notifications/", EVERYONE),
    "HomeIndexView": ("/", {PUBLIC, *EVERYONE}),
    # accounts
    "UserInfoEditView": ("/userinfoeditview/form", EVERYONE),
    "ResetMyPasswordView": ("/resetmypassword/form", EVERYONE),
    "ResetPasswordView": ("/resetpassword/form?pk=1", {"Admin"}),
    "UserDBModelView": ("/users/list/", {"Admin"}),
    "RoleModelView": ("/roles/list/", {"Admin"}),
    # four-eyes grants: Admins decide each other's requests (never their own)
    "GrantRequestView": ("/access-requests/", {"Admin"}),
    "UserGroupModelView": ("/groups/list/", set()),
    # administration
    "OrganisationView": ("/organisations/list/", {"Admin", "Coordinator"}),
    "ApiClientView": ("/api-clients/list/", {"Admin"}),
    # the audit trail: the data-protection officer, and Admins for account incidents;
    # Coordinators keep aggregated figures only
    "AuditEventView": ("/audit/list/", {"Admin", "DataProtection"}),
    "AuditCheckView": ("/audit-check/", {"DataProtection"}),
    # directory of structures (public-class data): everyone reads, three roles keep it
    "DirectoryView": ("/directory/", EVERYONE),
    "DirectoryManageView": ("/directory/manage/import", {"Admin", "Moderator", "SocialWorker"}),
    # pending changes to verified entries: the owner organisation's editors, coordinators
    "DirectoryReviewView": (
        "/directory/changes/",
        {"Admin", "Moderator", "SocialWorker", "Coordinator"},
    ),
    # information sheets: written by programme staff, published by a second person
    "InformationView": (
        "/information/",
        {"Moderator", "Coordinator", "Outreach", "SocialWorker"},
    ),
    # outreach rounds: Outreach only (own organisation); Admins grant the lead marker
    "OutreachSessionView": ("/outreach/sessions/list/", {"Outreach"}),
    "MessageTemplateView": ("/outreach/templates/", {"Outreach"}),
    "PlatformView": ("/outreach/platforms/list/", {"Outreach"}),
    "OutreachFiguresView": ("/outreach/figures/", {"Outreach"}),
    "OutreachLeadView": ("/outreach/leads/list/", {"Admin"}),
    # intake: reporting on behalf of a worker; reading reports is for moderators only
    "ReportFormView": ("/reports/new/", {"Moderator", "SocialWorker", "PartnerRelay"}),
    "ReportView": ("/reports/list/", {"Moderator"}),
    "ReportErasureView": ("/reports/erasure/", {"Moderator", "DataProtection"}),
    # moderation and alerts: moderators moderate; every role reads and prints published alerts
    "ModerationView": ("/moderation/queue", {"Moderator"}),
    "AlertComposerView": ("/composer/new", {"Moderator"}),
    "IdentifierCheckView": ("/check/", {"Moderator"}),
    # the field check (issue 18.8): published alerts only, for the roles that meet workers
    "FieldCheckView": ("/field-check/", {"SocialWorker", "Outreach", "PartnerRelay"}),
    "AlertsView": ("/alerts/list", EVERYONE),
    # subscribers: the co-opting organisation's partners manage them; others see counts only
    "SubscriberView": ("/subscribers/", {"SocialWorker", "PartnerRelay"}),
    "SubscriberCountsView": ("/subscriber-counts/", {"Moderator", "Coordinator", "Admin"}),
    # reports a partner association filed: their outcome and the moderators' questions,
    # for its relays (issue 18, items 4 and 5)
    "FiledReportsView": ("/partner/reports/", {"PartnerRelay"}),
    "DeliveryView": ("/deliveries/", {"Moderator", "Admin"}),
    # public: the unsubscribe link (no login) and the SMS gateway's webhook (shared secret)
    "UnsubscribeView": ("/unsubscribe/", {PUBLIC, *EVERYONE}),
    "SmsWebhookView": (None, set()),
    # SMS providers' receipts and replies (their signature or the shared secret)
    "SmsProviderWebhookView": (None, set()),
    # /healthz and /metrics for the proxy and monitoring (no personal data)
    "OperationsView": (None, set()),
    # cases: social workers of the owning association only; moderators route reports to one
    "CaseView": ("/cases/", {"SocialWorker"}),
    "CaseRoutingView": ("/cases/routing/", {"Moderator"}),
    # statistics: aggregated for programme roles, own organisation for social workers;
    # funder reports built by Coordinators, read by Moderators and Admins
    "StatisticsView": (
        "/statistics/",
        {"Coordinator", "SocialWorker", "Moderator", "Admin", "DataProtection"},
    ),
    "FunderReportView": ("/statistics/reports/", {"Coordinator", "Moderator", "Admin"}),
}

# Capabilities the rules ask for (``security.can``) -> the roles that have them.
CAPABILITIES: dict[str, set[str]] = {
    "read_all_statistics": {"Admin", "Moderator", "Coordinator", "DataProtection"},
    "read_own_statistics": {"SocialWorker"},
    "build_funder_report": {"Coordinator"},
    "hold_cases": {"SocialWorker"},
    "run_outreach": {"Outreach"},
    "lead_outreach": {"Outreach"},
    "moderate": {"Moderator"},
    "erase_reports": {"Moderator", "DataProtection"},
    "approve_grants": {"Admin"},
    "review_directory_changes": {"Coordinator"},
    "publish_information": {"Moderator", "Coordinator"},
    "check_identifiers": {"Moderator", "SocialWorker", "Outreach", "PartnerRelay"},
    "watch_report_queue": {"Coordinator"},
    "answer_filed_reports": {"PartnerRelay"},
}

# Public API routes (bearer keys only, never a staff session): (method, path) -> a body a
# valid key may send (None for GET). A route of the API blueprint without a line here fails
# test_every_route_belongs_to_a_decided_view_or_is_static.
API_ROUTES: dict[tuple[str, str], dict | None] = {
    ("POST", "/api/v1/reports"): {
        "incident": {"date": "2026-01-10", "department": "75", "violence_types": ["theft"]},
        "narrative": "Access matrix check.",
        "consent": {
            "publish_alert": False,
            "follow_up": False,
            "share_with_partner": False,
            "statistics": True,
        },
    },
    ("GET", "/api/v1/openapi.json"): None,
    ("GET", "/api/v1/alerts"): None,
    ("GET", "/api/v1/structures"): None,
    ("GET", "/api/v1/pages"): None,
    ("GET", "/api/v1/pages/<slug>"): None,
    ("POST", "/api/v1/check"): {"value": "06 12 34 56 78"},
    ("POST", "/api/v1/subscriptions"): {
        "email": "access-matrix@example.org",
        "language": "fr",
        "departments": ["75"],
        "channel": "email",
        "consent": {"alerts": True},
    },
    ("POST", "/api/v1/subscriptions/verify"): {"email": "nobody@example.org", "code": "000000"},
    ("GET", "/api/v1/me"): None,
    ("PATCH", "/api/v1/me"): {"discreet": True},
    ("DELETE", "/api/v1/me"): None,
    ("GET", "/api/v1/reports/<reference>"): None,
    ("POST", "/api/v1/reports/<reference>/answers"): {"text": "An answer."},
    ("DELETE", "/api/v1/reports/<reference>"): None,
}


def _registered_views(app) -> dict[str, object]:
    return {view.class_permission_name: view for view in app.appbuilder.baseviews}


def test_every_view_has_a_decision(app):
    undecided = sorted(set(_registered_views(app)) - set(EXPECTED))
    assert not undecided, f"views with no access decision in EXPECTED: {undecided}"


def test_every_route_belongs_to_a_decided_view_or_is_static(app):
    decided_prefixes = {
        view.route_base for name, view in _registered_views(app).items() if name in EXPECTED
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("appbuilder."):
            continue
        view_name = rule.endpoint.split(".")[0]
        if view_name == "api_v1":
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                decided = (method, rule.rule) in API_ROUTES
                assert decided, f"API route {method} {rule.rule} has no line in API_ROUTES"
            continue
        assert view_name in {type(v).__name__ for v in app.appbuilder.baseviews} or any(
            rule.rule.startswith(p) for p in decided_prefixes if p
        ), f"route {rule.rule} ({rule.endpoint}) belongs to no decided view"


def _cases():
    for view_name, (url, allowed) in EXPECTED.items():
        if url is None:
            continue
        for who in [PUBLIC, *ROLES]:
            may = who in allowed
            yield pytest.param(url, who, may, id=f"{view_name}-{who}")


@pytest.mark.parametrize(("url", "who", "may"), list(_cases()))
def test_access(app, login_as, url, who, may):
    client = app.test_client() if who == PUBLIC else login_as(USER_OF_ROLE[who])
    response = client.get(url)
    if may:
        assert response.status_code == 200, f"{who} should open {url}"
    else:
        assert response.status_code in (302, 401, 403, 404), f"{who} must not open {url}"
        if response.status_code == 302:
            location = response.headers["Location"]
            assert "/login" in location or location.rstrip("/") in ("", "/", "http://localhost")


@pytest.mark.parametrize("who", [PUBLIC, *ROLES])
def test_only_the_data_protection_officer_runs_the_audit_check(app, login_as, who):
    client = app.test_client() if who == PUBLIC else login_as(USER_OF_ROLE[who])
    response = client.get("/audit-check/")
    if who == "DataProtection":
        assert response.status_code == 200
        assert b"audit-intact" in response.data or b"audit-altered" in response.data
    else:
        assert response.status_code in (302, 403, 404), f"{who} ran the audit check"


@pytest.fixture(scope="module")
def social_workers_case(app):
    """A case of demo-social-a's association (for the routes under a case)."""
    from backoffice.extensions import db
    from tests.integration.cases_support import open_case

    with app.app_context():
        case_id = open_case(USER_OF_ROLE["SocialWorker"]).id
        db.session.remove()
    return case_id


@pytest.mark.parametrize("who", [PUBLIC, *ROLES, "demo-social-b"])
def test_only_the_cases_social_workers_print_its_liaison_sheet(
    app, login_as, social_workers_case, who
):
    """The emergency liaison sheet decrypts the case: its association's social workers only
    (another association's social worker gets a 404, like a case that does not exist)."""
    client = app.test_client() if who == PUBLIC else login_as(USER_OF_ROLE.get(who, who))
    response = client.get(f"/cases/{social_workers_case}/liaison-sheet.pdf")
    if who == "SocialWorker":
        assert response.status_code == 200 and response.mimetype == "application/pdf"
    else:
        assert response.status_code in (302, 403, 404), f"{who} printed the sheet"
        assert response.mimetype != "application/pdf"


# Values for the variables of API routes (a starter sheet loaded by the migrations).
API_PATH_VALUES = {"<slug>": "pep-48h"}


def _api_call(client, method: str, path: str, body, headers: dict | None = None):
    for variable, value in API_PATH_VALUES.items():
        path = path.replace(variable, value)
    if method == "GET":
        return client.get(path, headers=headers or {})
    return client.open(path, method=method, json=body or {}, headers=headers or {})


@pytest.fixture(scope="module")
def api_key(app):
    import uuid

    from backoffice.extensions import db
    from backoffice.services import api_keys

    with app.app_context():
        _client, key = api_keys.create_client(f"access-matrix-{uuid.uuid4().hex[:8]}")
        db.session.commit()
    return key


@pytest.mark.parametrize(("method", "path"), list(API_ROUTES))
def test_api_route_refuses_anonymous_and_staff_sessions(app, login_as, method, path):
    body = API_ROUTES[(method, path)]
    anonymous = _api_call(app.test_client(), method, path, body)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    for who in ROLES:  # a signed-in staff cookie is not a key
        response = _api_call(login_as(USER_OF_ROLE[who]), method, path, body)
        assert response.status_code == 401, f"{who}'s session opened {method} {path}"


def _worker_token(app) -> str:
    from backoffice.extensions import db
    from tests.integration.test_worker_api import new_worker

    with app.app_context():
        _subscriber, token = new_worker()
        db.session.commit()
    return token


@pytest.mark.parametrize(("method", "path"), list(API_ROUTES))
def test_api_route_answers_a_valid_key(app, api_key, method, path):
    body = API_ROUTES[(method, path)]
    headers = {"Authorization": f"Bearer {api_key}"}
    if path == "/api/v1/me":  # her own endpoints need her token too
        headers["X-Worker-Token"] = _worker_token(app)
    expected = {422}
    if "<reference>" in path:  # a report of hers, and its follow-up code
        submitted = _api_call(
            app.test_client(),
            "POST",
            "/api/v1/reports",
            API_ROUTES[("POST", "/api/v1/reports")],
            headers,
        ).json
        path = path.replace("<reference>", submitted["reference"])
        headers["X-Follow-Up-Code"] = submitted["follow_up_code"]
        expected.add(409)  # no question asked: nothing to answer
    response = _api_call(app.test_client(), method, path, body, headers)
    assert 200 <= response.status_code < 300 or response.status_code in expected, response.data


@pytest.mark.parametrize("who", ROLES)
def test_roles_hold_no_permission_outside_the_decisions(app, who):
    """The database grants exactly what the table allows, not more (menu-only perms aside)."""
    with app.app_context():
        role = app.appbuilder.sm.find_role(who)
        granted_views = {
            pv.view_menu.name
            for pv in role.permissions
            if pv.permission.name != "menu_access" and pv.view_menu.name != "Capabilities"
        }
    allowed = {name for name, (_url, roles) in EXPECTED.items() if who in roles}
    self_service = {"UserDBModelView", "UserInfoEditView", "ResetMyPasswordView"}
    assert granted_views <= allowed | self_service, granted_views - allowed - self_service


@pytest.mark.parametrize("who", ROLES)
def test_roles_have_exactly_the_decided_capabilities(app, who):
    with app.app_context():
        role = app.appbuilder.sm.find_role(who)
        granted = {
            pv.permission.name for pv in role.permissions if pv.view_menu.name == "Capabilities"
        }
    assert granted == {name for name, roles in CAPABILITIES.items() if who in roles}


def test_every_capability_has_a_decision(app):
    from backoffice.security import CAPABILITIES as DECLARED

    assert set(DECLARED) == set(CAPABILITIES)


def test_nobody_holds_the_superuser_role(app):
    with app.app_context():
        from backoffice.models.user import StaffUser

        for user in app.appbuilder.sm.session.query(StaffUser):
            assert "Superuser" not in {r.name for r in user.roles}
