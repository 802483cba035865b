"""Reports a partner association filed ("Signalements déposés"), for its relays.

Thin: the rules are in ``services/questions.py``. A relay sees the reports her association
filed (status in words, the alert's reference once published, the case's reference when
routed to her association) and answers the moderators' questions about them; any other
report is a 404. Her home page's section (``home/_relay.html``) reads its counts through the
``relay_home()`` Jinja global registered here, so including the partial is enough.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backoffice import transactions
from backoffice.security import ALL, PARTNER_RELAY, current_user_or_none
from backoffice.services import audit, questions
from backoffice.views.arguments import form_int, page_arg

PAGE_SIZE = 50
FILTER_LABELS = {
    "open": _l("Still open"),
    "question": _l("A question for you"),
    "all": _l("All"),
}


class FiledReportsView(BaseView):
    """The reports my association filed, their outcome, and the questions to answer."""

    route_base = "/partner/reports"
    default_view = "list"
    access = {PARTNER_RELAY: ALL}

    @expose("/")
    @has_access
    def list(self):
        which = request.args.get("show") or "all"
        if which not in questions.FILTERS:
            which = "all"
        page = questions.filed_reports(g.user, which, page_arg(), PAGE_SIZE)
        return self.render_template(
            "partner/reports.html", page=page, which=which, filters=FILTER_LABELS
        )

    @expose("/<reference>")
    @has_access
    def show(self, reference: str):
        return self._page(questions.filed_report(reference, g.user))

    @expose("/<reference>/answer", methods=["POST"])
    @has_access
    def answer(self, reference: str):
        report = questions.filed_report(reference, g.user)
        text = request.form.get("answer", "")
        try:
            questions.answer(report, g.user, text, expected_version=form_int("version", -1))
        except questions.AnswerRefused as refused:
            transactions.undo()
            report = questions.filed_report(reference, g.user)
            return self._page(report, error=str(refused.message), text=text, status=400)
        flash(
            _("Thank you: your answer is sent to the moderators, the report is back in review."),
            "success",
        )
        return redirect(url_for("FiledReportsView.show", reference=report.reference))

    def _page(self, report, *, error: str | None = None, text: str = "", status: int = 200):
        audit.record("filed_report_viewed", report)
        (outcome,) = questions.outcomes([report], g.user)
        question = questions.question_text(report)  # sealed: audited when read
        page = self.render_template(
            "partner/report.html",
            outcome=outcome,
            question=question,
            error=error,
            text=text,
            max_length=questions.ANSWER_MAX_LENGTH,
        )
        return page, status


def relay_home():
    """The relay's home-page counts (None for anyone else): a Jinja global."""
    if current_user_or_none() is None:
        return None
    return questions.relay_home()


def register(appbuilder) -> None:
    appbuilder.add_view(
        FiledReportsView,
        "filed_reports",
        label=_l("Filed reports"),
        icon="fa-folder-open",
        category="Reports",
        category_label=_l("Reports"),
        category_icon="fa-inbox",
    )
    current_app.jinja_env.globals["relay_home"] = relay_home
