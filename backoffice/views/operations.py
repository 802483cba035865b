"""``/healthz`` for the proxy and monitoring, ``/metrics`` for Prometheus.

Neither shows personal data. ``/healthz`` answers 200 when every check passes and 503
otherwise, with the checks as JSON. ``/metrics`` asks for ``Authorization: Bearer
<METRICS_TOKEN>`` when that setting is set (nginx keeps both to the inside anyway).
"""

from __future__ import annotations

import hmac

from flask import Response, current_app, jsonify, request
from flask_appbuilder import BaseView, expose
from prometheus_client import CONTENT_TYPE_LATEST

from backoffice.services import health


class OperationsView(BaseView):
    """Health and metrics for the proxy and monitoring (no login, no personal data)."""

    route_base = ""
    base_permissions: list[str] = []
    access: dict = {}

    @expose("/healthz")
    def healthz(self):
        results = health.checks(current_app.config, current_app.extensions.get("keyring"))
        healthy = all(check["ok"] for check in results.values())
        answer = jsonify(status="ok" if healthy else "failing", checks=results)
        answer.status_code = 200 if healthy else 503
        if not healthy:
            answer.headers["Retry-After"] = "30"
        return answer

    @expose("/metrics")
    def metrics(self):
        token = current_app.config.get("METRICS_TOKEN")
        given = request.headers.get("Authorization", "")
        if token and not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response("unauthorised\n", status=401, mimetype="text/plain")
        return Response(health.metrics_text(), mimetype=CONTENT_TYPE_LATEST)


def register(appbuilder) -> None:
    appbuilder.add_view_no_menu(OperationsView)
