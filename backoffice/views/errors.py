"""Error pages that say what happened in the user's language and leak nothing else."""

from __future__ import annotations

from flask import current_app, g, jsonify, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import HTTPException, InternalServerError


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


def render_error(error):
    if not hasattr(g, "user"):
        # CSRF and some errors are raised before FAB's before_request sets g.user, which the
        # page layout needs.
        g.user = current_user
    status = error.code if isinstance(error, HTTPException) else 500
    if not isinstance(error, HTTPException):
        error = InternalServerError()
    if request.path.startswith("/api/"):
        return _api_error(status)
    message = _messages().get(status, _messages()[500])
    if status == 400 and getattr(error, "description", "").lower().startswith("the csrf"):
        message = _("Your form expired. Reload the page and submit it again.")
    if request.path.startswith("/api/"):
        codes = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
            429: "rate_limited",
            500: "server_error",
        }
        response = jsonify({"error": codes.get(status, "error"), "message": message, "errors": {}})
        response.status_code = status
        return response
    appbuilder = current_app.appbuilder
    page = render_template(
        "backoffice/error.html",
        status=status,
        message=message,
        appbuilder=appbuilder,
        base_template=appbuilder.base_template,
    )
    return page, status


_API_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    500: "server_error",
}


def _api_error(status: int):
    """API clients get English, the contract's language, whatever the UI language is."""
    with force_locale("en"):
        message = _messages().get(status, _messages()[500])
    response = jsonify({"error": _API_CODES.get(status, "error"), "message": message, "errors": {}})
    response.status_code = status
    return response
