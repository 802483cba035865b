"""The landing page: each role's work (services/home.py), then what this user can open."""

from __future__ import annotations

from flask import g
from flask_appbuilder import IndexView, expose

from backoffice import security
from backoffice.models.case import ACTION_KINDS, CASE_SOURCES, URGENT_FLAGS
from backoffice.services import home
from backoffice.services.cases.deadlines import describe_time_left
from backoffice.services.moderation import STATUSES
from backoffice.services.vocabulary import SEVERITIES


class HomeIndexView(IndexView):
    index_template = "backoffice/index.html"

    @expose("/")
    def index(self):
        user = g.user if getattr(g.user, "is_authenticated", False) else None
        if user is None:
            return self.render_template(self.index_template, appbuilder=self.appbuilder, user=None)
        return self.render_template(
            self.index_template,
            appbuilder=self.appbuilder,
            user=user,
            home=home.home_of(user),
            # The relays' section (templates/home/_relay.html) gets its own data.
            relay=security.can("answer_filed_reports"),
            severities=SEVERITIES,
            report_statuses=STATUSES,
            flag_labels=URGENT_FLAGS,
            action_kinds=ACTION_KINDS,
            case_sources=CASE_SOURCES,
            describe_time_left=describe_time_left,
        )
