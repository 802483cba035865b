"""The landing page: what this user can do, by role."""

from __future__ import annotations

from flask import g
from flask_appbuilder import IndexView, expose


class HomeIndexView(IndexView):
    index_template = "backoffice/index.html"

    @expose("/")
    def index(self):
        user = g.user if getattr(g.user, "is_authenticated", False) else None
        return self.render_template(self.index_template, appbuilder=self.appbuilder, user=user)
