"""Hostile input never gives a 500 (issue 12, finding 12).

The three answers reported as 500 are replayed, then every route the route walker knows is
called by a demo user who may reach it (its own organisation's rows in the URL), with
hostile values in every query parameter FAB reads (order column and direction, page, page
size, filters) and in every field of the form the page shows. No answer may be a 5xx and no
exception may escape.
"""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser
from backoffice.services.bidi import BIDI_CONTROLS
from backoffice.transactions import unit_of_work
from tests.conftest import login, make_app
from tests.integration.test_intake_api import MINIMAL, auth, new_client
from tests.integration.test_route_walker import OTHER_ARGUMENTS, argument_model, walked_rules
from tests.owned_rows import OwnedRows, make_owned_rows

HOSTILE = [
    "'",
    "9" * 40,
    "-1",
    "\u202eevil\u2066",
    "\x00",
    "x" * 3000,
    "../../etc/passwd",
]
# The demo users of AIDES, one per role: each route is walked by the first who reaches it.
USERS = [
    "demo-admin",
    "demo-moderator",
    "demo-social-a",
    "demo-coordinator",
    "demo-outreach",
    "demo-relay",
]
# Routes that end the session or need a second factor: not walked.
SKIPPED = {"logout", "login", "second_step"}


def test_audit_list_order_column_quote_is_not_a_500(login_as):
    client = login_as("demo-admin")
    response = client.get("/audit/list/?_oc_AuditEventView=%27")
    assert response.status_code < 500


def test_users_download_is_not_a_500(login_as):
    client = login_as("demo-admin")
    response = client.get("/users/download/x.csv")
    assert response.status_code == 404


def test_api_alerts_huge_cursor_is_refused_not_a_500(app):
    client, key = app.test_client(), new_client(app)[1]
    for cursor in ("9" * 40, "9" * 400, "1" * 5000, "-99999999999999999999", "1e999"):
        response = client.get(f"/api/v1/alerts?cursor={cursor}", headers=auth(key))
        assert response.status_code == 422, (cursor, response.status_code)


class _FormFields(HTMLParser):
    """The names and default values of the fields of a page's forms."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        name = attributes.get("name")
        if not name or name == "csrf_token":
            return
        if tag == "input" and attributes.get("type") not in ("submit", "button", "file"):
            self.fields.setdefault(name, attributes.get("value") or "")
        elif tag == "select":
            self.fields.setdefault(name, "")
        elif tag == "textarea":
            self.fields.setdefault(name, "")
            self._textarea = name

    def handle_data(self, data) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag) -> None:
        if tag == "textarea":
            self._textarea = None


def form_fields(html: str) -> dict[str, str]:
    parser = _FormFields()
    parser.feed(html)
    return parser.fields


def fab_parameters(app, endpoint: str) -> list[str]:
    """The query parameters FAB's list of this view reads."""
    name = endpoint.split(".")[0]
    for view in app.appbuilder.baseviews:
        if type(view).__name__ == name and hasattr(view, "search_columns"):
            filters = [f"_flt_{i}_{c}" for c in view.search_columns for i in (0, 1)]
            return [f"_oc_{name}", f"_od_{name}", f"page_{name}", f"psize_{name}", *filters]
    return []


@pytest.fixture(scope="module")
def hostile_app(database_url, test_keyring, tmp_path_factory, app):
    return make_app(
        database_url, test_keyring, tmp_path_factory.mktemp("hostile"), WTF_CSRF_ENABLED=False
    )


@pytest.fixture(scope="module")
def own_rows(hostile_app) -> OwnedRows:
    with hostile_app.app_context(), unit_of_work():
        organisation = db.session.scalar(select(Organisation).where(Organisation.name == "AIDES"))
        actor = db.session.scalar(select(StaffUser).where(StaffUser.username == "demo-social-a"))
        return make_owned_rows(organisation, actor)


def _url(app, rule, rows: OwnedRows) -> str:
    def value(match) -> str:
        model = argument_model(app, rule, match.group(1))
        return str(rows.ids[model]) if model is not None else OTHER_ARGUMENTS[match.group(1)]

    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", value, rule.rule)


def _call(client, method: str, url: str, **kwargs) -> int | str:
    try:
        return client.open(url, method=method, **kwargs).status_code
    except Exception as error:  # an escaping exception is the finding
        return f"{type(error).__name__}: {str(error)[:120]}"


def _broken(status: int | str) -> bool:
    return not isinstance(status, int) or status >= 500


def test_hostile_values_in_every_parameter_and_form_field_never_give_a_500(hostile_app, own_rows):
    clients = []
    for username in USERS:
        client = hostile_app.test_client()
        assert login(client, username).status_code == 302
        clients.append(client)
    failures, tried = [], 0
    for rule in walked_rules(hostile_app):
        if rule.endpoint.partition(".")[2] in SKIPPED or "GET" not in rule.methods:
            continue
        url = _url(hostile_app, rule, own_rows)
        client = next((c for c in clients if _call(c, "GET", url) == 200), None)
        if client is None:
            continue
        page = client.get(url).get_data().decode("utf-8", "replace")  # PNG, PDF: bytes
        for parameter in fab_parameters(hostile_app, rule.endpoint):
            for value in HOSTILE:
                status = _call(client, "GET", url, query_string={parameter: value})
                tried += 1
                if _broken(status):
                    failures.append(f"GET {url}?{parameter}={value[:20]!r}: {status}")
        if "POST" not in rule.methods:
            continue
        fields = form_fields(page)
        for name in fields:
            for value in HOSTILE:
                status = _call(client, "POST", url, data={**fields, name: value})
                tried += 1
                if _broken(status):
                    failures.append(f"POST {url} {name}={value[:20]!r}: {status}")
    assert tried > 300
    assert not failures, "\n".join(failures)


# --- bidirectional control characters -------------------------------------------------------

TROJAN = "Lila \u202egnp.exe\u202c \u2066x\u2069 \u200e\u200fend"


def test_bidi_controls_are_stripped_at_intake(app):
    from backoffice.models.report import Report

    client, key = app.test_client(), new_client(app)[1]
    response = client.post(
        "/api/v1/reports", json={**MINIMAL, "narrative": TROJAN}, headers=auth(key)
    )
    assert response.status_code == 201
    with app.app_context():
        report = db.session.scalar(
            select(Report).where(Report.reference == response.get_json()["reference"])
        )
        assert report.narrative == "Lila gnp.exe x end"


def test_bidi_controls_never_reach_a_staff_page(app, login_as):
    from backoffice.models.organisation import Organisation as Org

    name = f"Org{uuid.uuid4().hex[:6]}"
    with app.app_context(), unit_of_work():
        # Written behind intake's back: the display rule still removes them.
        db.session.add(Org(name=name + "\u202e\u2066", kind="partner"))
    page = login_as("demo-admin").get(f"/organisations/list/?_flt_0_name={name}")
    body = page.get_data(as_text=True)
    assert name in body
    assert not any(c in body for c in BIDI_CONTROLS)
