"""Error pages that say what happened in the user's language and leak nothing else."""

from __future__ import annotations

import logging

from flask import current_app, g, make_response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException, InternalServerError

from backoffice import transactions
from backoffice.views import api

log = logging.getLogger(__name__)

DATABASE_DOWN = api.SERVICE_UNAVAILABLE


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Go back and try again."),
        403: _("You do not have access to this page."),
        404: _("This page does not exist, or you do not have access to it."),
        405: _("This action is not allowed here."),
        413: _("What you sent is too large."),
        429: _("Too many attempts. Wait a moment, then try again."),
        500: _("Something went wrong on our side. Nothing you sent was lost; try again."),
    }


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def render_error(error):
    status = error.code if isinstance(error, HTTPException) else 500
    if is_api_request():  # the API's JSON error shape, in English (shared/API.md)
        return api.http_error(status)
    if not hasattr(g, "user"):
        # CSRF and some errors are raised before FAB's before_request sets g.user, which the
        # page layout needs.
        g.user = current_user
    if not isinstance(error, HTTPException):
        error = InternalServerError()
    message = _messages().get(status, _messages()[500])
    if status == 400 and getattr(error, "description", "").lower().startswith("the csrf"):
        message = _("Your form expired. Reload the page and submit it again.")
    appbuilder = current_app.appbuilder
    try:
        # The layout reads the menu, permissions and the navigation's counts from the database.
        page = render_template(
            "backoffice/error.html",
            status=status,
            message=message,
            appbuilder=appbuilder,
            base_template=appbuilder.base_template,
        )
    except DATABASE_DOWN as dropped:  # the connection dropped under the error page itself
        return database_unavailable(dropped)
    return page, status


def commit_failed(error: Exception | None = None):
    """The answer when the request's commit failed: nothing it did was stored.

    API clients get 503 with Retry-After (send the same request again). Staff get the
    standalone 503 page with Retry-After when the connection dropped (the layout would query
    the database that just failed), otherwise the generic error page (the page they asked
    for is not shown: its reading was not audited).
    """
    if is_api_request():
        return api.unavailable()
    if isinstance(error, DATABASE_DOWN):
        return database_unavailable(error)
    return make_response(render_error(InternalServerError()))


def database_unavailable(error: Exception):
    """The database connection dropped or refused (a restart, a terminated backend), or a key
    this process cannot find (a rotation not deployed here): 503 with Retry-After, never
    500. The request's transaction is lost with its connection, so nothing it did was
    stored; the page is standalone because the layout would query the database."""
    log.warning(
        "Request failed, unavailable: %s %s", type(error).__name__, getattr(error, "key_id", "")
    )
    transactions.rollback_quietly()
    if is_api_request():
        return api.unavailable()
    page = render_template(
        "backoffice/unavailable.html",
        lang=str(get_locale() or "fr"),
        message=_(
            "The service is briefly unavailable. Nothing you sent was lost; try again in a moment."
        ),
    )
    response = make_response(page, 503)
    response.headers["Retry-After"] = str(api.BUSY_RETRY_AFTER)
    return response
