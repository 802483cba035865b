"""Every page of every role on a phone (390 px) and a laptop (1,366 px): no page wider than
the screen, no axe-core violation of WCAG 2.1 level A or AA, no stock English string on a
French page, and on the laptop a menu of one row.

The pages come from the application's routes (``app.url_map``), so a new page is visited
without anyone adding it here: every GET route without arguments, and every GET route whose
one argument names a row (``pk`` of a model view, ``case_id``, a report's or an alert's
reference…) with the newest row of that model the role's organisation may see. A route
answering anything but an HTML page with 200 (a redirect, a refusal, a CSV, a PDF, JSON) is
not a page of that role and is passed over. axe-core comes bundled with
axe-playwright-python (no CDN).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice import security
from backoffice.demo.base import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.alert import Alert
from backoffice.models.information import InfoSheet
from backoffice.models.organisation import Organisation
from backoffice.models.report import Report
from backoffice.models.statistics import FunderReport
from backoffice.models.structure import Structure
from backoffice.models.user import StaffUser
from backoffice.services import alerts, audit
from backoffice.transactions import unit_of_work
from tests.browser.axe_support import WIDE_ELEMENTS, axe, violations
from tests.browser.conftest import browser_login
from tests.integration.moderation_support import report_in, user
from tests.integration.test_access_matrix import PUBLIC, ROLES, USER_OF_ROLE
from tests.integration.test_french_stock_screens import _stock_strings_in
from tests.integration.test_route_walker import ARGUMENT_MODELS, SKIPPED_ENDPOINTS
from tests.owned_rows import _Maker, make_owned_rows

pytestmark = pytest.mark.browser

WIDTHS = (390, 1366)
AUDIT_PAGES = 8  # FAB's pager then shows all its links
# Arguments naming a row that is not organisation-owned (the first row is taken).
SHARED_ARGUMENTS: dict[str, type] = {
    "structure_id": Structure,
    "sheet_id": InfoSheet,
    "alert_id": Alert,
    "report_id": FunderReport,
}
# Routes never visited: they end the session, delete, or change the language of the walk.
NOT_PAGES = {*SKIPPED_ENDPOINTS, "logout", "delete", "download"}
NOT_PAGE_VIEWS = {"LocaleView", "UtilView", "static", "appbuilder", "api_v1"}


@pytest.fixture(scope="module")
def rows(app) -> None:
    """Something on every page: reports at three steps, a draft and a published alert, one
    row of every organisation-owned model (and an outreach round of the programme), and an
    audit trail of several pages."""
    with app.app_context():
        for status in ("received", "in_review", "published"):
            report_in(status)
        draft = report_in("approved")
        with unit_of_work():
            alerts.compose([draft], user("demo-moderator"))
        with unit_of_work():
            make_owned_rows(_organisation(AIDES), user("demo-social-a"))
            rounds = _Maker(_organisation(JASMINE), user("demo-outreach"))
            rounds.contact_outcome()  # a round, a contact and its outcome
        with unit_of_work():
            for _ in range(AUDIT_PAGES * 50):  # stock lists of several pages (their pager)
                audit.record("directory_exported", actor=user("demo-coordinator"))


def _organisation(name: str) -> Organisation:
    return db.session.scalar(select(Organisation).where(Organisation.name == name))


FORM_SCROLLS = """() => document.querySelectorAll(
  'form .table-scroll[data-scroll-region] > table.table-bordered:not(.table-hover)').length"""

MENU_HEIGHT = """() => {
  const menu = document.querySelector('.navbar-collapse');
  return menu ? Math.round(menu.getBoundingClientRect().height) : 0;
}"""


def _view_model(app, view_name: str):
    for view in app.appbuilder.baseviews:
        if type(view).__name__ == view_name:
            return getattr(getattr(view, "datamodel", None), "obj", None)
    return None


def _model_of(app, rule, argument: str) -> tuple[type, str] | None:
    """The model and column a route argument names, or None when it names no row."""
    if argument == "pk":
        model = _view_model(app, rule.endpoint.split(".")[0])
        return (model, "id") if model is not None else None
    if argument == "reference":
        return (Report if "/reports/" in rule.rule else Alert), "reference"
    model = ARGUMENT_MODELS.get(argument) or SHARED_ARGUMENTS.get(argument)
    return (model, "id") if model is not None else None


def _first_row_value(model, column: str, user) -> str | None:
    statement = select(getattr(model, column)).order_by(model.id.desc()).limit(1)
    if getattr(model, "__organisation_owned__", False) or model is StaffUser:
        if user is None:
            return None
        statement = security.scoped(statement, model, user)
    value = db.session.scalar(statement)
    return None if value is None else str(value)


def pages_of(app, username: str | None) -> list[str]:
    """The URLs of the pages the walk tries for a user (None: someone not signed in)."""
    urls = set()
    with app.app_context():
        user = None
        if username:
            user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        for rule in app.url_map.iter_rules():
            view, _, method = rule.endpoint.partition(".")
            if "GET" not in rule.methods or view in NOT_PAGE_VIEWS or method in NOT_PAGES:
                continue
            if rule.rule.startswith("/api/") or rule.rule.endswith((".json", ".csv", ".pdf")):
                continue
            if not rule.arguments:
                urls.add(rule.rule)
                continue
            if len(rule.arguments) != 1:
                continue
            (argument,) = rule.arguments
            named = _model_of(app, rule, argument)
            value = named and _first_row_value(*named, user)
            if value:
                urls.add(rule.build({argument: value}, append_unknown=False)[1])
    return sorted(urls)


def _is_page(page, url: str) -> bool:
    """An HTML page answered 200 without a redirect (asked first, so no download starts)."""
    answer = page.request.get(url, max_redirects=0)
    kind = answer.headers.get("content-type", "")
    return answer.status == 200 and kind.startswith("text/html")


def test_the_walk_finds_the_pages_of_the_routes(app, rows):
    pages = pages_of(app, USER_OF_ROLE["SocialWorker"])
    assert len(pages) > 40
    assert any(url.startswith("/cases/") and url.rstrip("/")[-1].isdigit() for url in pages)
    assert "/audit/list/" in pages


@pytest.mark.parametrize("who", [PUBLIC, *ROLES])
def test_every_page_fits_the_screen_passes_axe_and_speaks_french(app, rows, page, who):
    checker = axe()
    username = None if who == PUBLIC else USER_OF_ROLE[who]
    if username:
        browser_login(page, username)
    page.goto("/lang/fr")
    problems: dict[str, list[str]] = {}
    urls = [url for url in pages_of(app, username) if _is_page(page, url)]
    assert urls, f"no page found for {who}"
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for url in urls:
            answer = page.goto(url)
            if answer is None or answer.status != 200:
                continue
            where = f"{url} @{width}px"
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            if scroll > inner:
                culprits = page.evaluate(WIDE_ELEMENTS)
                problems.setdefault(where, []).append(
                    f"page is {scroll}px wide for {inner}px: {culprits}"
                )
            if width == WIDTHS[0]:
                if page.evaluate(FORM_SCROLLS):
                    # a form on a phone stacks: a label or help sentence cut off or hidden
                    # in a sideways-scrolling box is a form she cannot read
                    problems.setdefault(where, []).append("a form scrolls sideways")
                problems.setdefault(where, []).extend(violations(checker, page))
                if found := _stock_strings_in(page.content()):
                    problems[where].append(f"stock strings on a French page: {found}")
            elif url == urls[0]:
                # on a laptop the whole menu fits one row (one navbar's height: 50 px)
                height = page.evaluate(MENU_HEIGHT)
                if height > 60:
                    problems.setdefault(where, []).append(f"the menu is {height}px tall")
            if width != WIDTHS[0] and who in (PUBLIC, "Admin"):
                # axe at both widths would double the run time: 1,366 px for two roles
                problems.setdefault(where, []).extend(violations(checker, page))
    problems = {where: found for where, found in problems.items() if found}
    assert not problems, "\n".join(f"{w}: {p}" for w, p in problems.items())
