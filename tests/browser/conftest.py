"""Browser fixtures: the test application served on a real port, and Debian's chromium.

* ``live_server`` (session): serves the ``app`` fixture's application with
  ``werkzeug.serving.make_server`` in a daemon thread on 127.0.0.1 and a free port; its value
  is the base URL (``http://127.0.0.1:<port>``). Same database and keys as the ``app``
  fixture, so tests can prepare data with ``app.app_context()`` and then drive the browser.
* ``browser`` (session): a headless chromium from ``/usr/bin/chromium`` through Playwright's
  sync API (never ``playwright install``).
* ``page`` (per test): a fresh browser context (no cookies shared between tests) and page
  whose base URL is the live server (``page.goto("/login/")``); Playwright keeps its console
  messages (``page.console_messages()``).
* ``browser_login(page, username)``: signs in through the login form.

Browser tests are marked ``@pytest.mark.browser`` and skipped when chromium or Playwright is
missing.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "demo-jasmine-2026"


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="fr-FR")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def browser_login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("[type=submit]")
    assert "/login" not in page.url, f"login of {username} failed"
