"""Staff screens of the information sheets: write, translate, review, publish, print.

Thin: the rules (second person, revisions, fallback) live in ``services/information.py``.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import gettext as _

from backoffice import transactions
from backoffice.models.information import (
    REVIEW_STATES,
    SHEET_TOPICS,
    SOURCE_LANGUAGE,
    TRANSLATION_STATES,
    InfoSheet,
)
from backoffice.security import COORDINATOR, MODERATOR, OUTREACH, SOCIAL_WORKER
from backoffice.services import information
from backoffice.services.vocabulary import ALERT_LANGUAGES
from reports_pdf.info_sheet import build_info_sheet

WRITERS = (MODERATOR, COORDINATOR, OUTREACH, SOCIAL_WORKER)


def _sheet(sheet_id: int) -> InfoSheet:
    sheet = information.get_sheet(sheet_id)
    if sheet is None:
        abort(404)
    return sheet


def _language(language: str) -> str:
    if language not in ALERT_LANGUAGES:
        abort(404)
    return language


def _labels() -> dict:
    return {
        "topics": {code: str(label) for code, label in SHEET_TOPICS.items()},
        "states": {code: str(label) for code, label in TRANSLATION_STATES.items()},
        "reviews": {code: str(label) for code, label in REVIEW_STATES.items()},
        "languages": ALERT_LANGUAGES,
    }


class InformationView(BaseView):
    route_base = "/information"
    default_view = "list"
    access = {role: ("can_list", "can_show", "can_write", "can_publish") for role in WRITERS}

    @expose("/")
    @has_access
    def list(self):
        return self.render_template(
            "information/list.html", sheets=information.all_sheets(), **_labels()
        )

    @expose("/new", methods=["GET", "POST"])
    @has_access
    @permission_name("write")
    def new(self):
        form = request.form
        if request.method == "POST":
            try:
                sheet = information.create_sheet(form.get("slug", ""), form.get("topic", ""))
                information.save_draft(
                    sheet, SOURCE_LANGUAGE, form.get("title"), form.get("body"), form.get("sources")
                )
            except information.InformationError as error:
                transactions.undo()
                flash(str(error), "danger")
            else:
                flash(
                    _("Sheet written: a second person must now review and publish it."), "success"
                )
                return redirect(url_for("InformationView.show", sheet_id=sheet.id))
        return self.render_template("information/new.html", form=form, **_labels())

    @expose("/<int:sheet_id>")
    @has_access
    def show(self, sheet_id: int):
        sheet = _sheet(sheet_id)
        return self.render_template(
            "information/show.html",
            sheet=sheet,
            render=information.render_markdown,
            may_publish=information.may_publish,
            sources_text=information.sources_as_text,
            **_labels(),
        )

    @expose("/<int:sheet_id>/<language>/edit", methods=["GET", "POST"])
    @has_access
    @permission_name("write")
    def edit(self, sheet_id: int, language: str):
        sheet, language = _sheet(sheet_id), _language(language)
        version = sheet.version(language)
        french = sheet.version(SOURCE_LANGUAGE)
        if request.method == "POST":
            form = request.form
            try:
                information.save_draft(
                    sheet, language, form.get("title"), form.get("body"), form.get("sources")
                )
            except information.InformationError as error:
                transactions.undo()
                flash(str(error), "danger")
                values = {
                    "title": form.get("title", ""),
                    "body": form.get("body", ""),
                    "sources": form.get("sources", ""),
                }
                return self._edit_page(sheet, language, french, values)
            flash(_("Draft saved: a second person must review and publish it."), "success")
            return redirect(url_for("InformationView.show", sheet_id=sheet.id) + f"#{language}")
        values = {
            "title": (version.draft_title or version.published_title) if version else "",
            "body": (version.draft_body or version.published_body) if version else "",
            "sources": information.sources_as_text(
                (version.draft_sources or version.published_sources) if version else None
            ),
        }
        return self._edit_page(sheet, language, french, values)

    def _edit_page(self, sheet, language, french, values):
        return self.render_template(
            "information/edit.html",
            sheet=sheet,
            language=language,
            french=french,
            values=values,
            **_labels(),
        )

    @expose("/<int:sheet_id>/<language>/publish", methods=["POST"])
    @has_access
    @permission_name("publish")
    def publish(self, sheet_id: int, language: str):
        sheet, language = _sheet(sheet_id), _language(language)
        try:
            information.publish(sheet, language, native_review=bool(request.form.get("native")))
            flash(_("Published."), "success")
        except information.InformationError as error:
            transactions.undo()
            flash(str(error), "danger")
        return redirect(url_for("InformationView.show", sheet_id=sheet_id) + f"#{language}")

    @expose("/<int:sheet_id>/<language>/reviewed", methods=["POST"])
    @has_access
    @permission_name("publish")
    def reviewed(self, sheet_id: int, language: str):
        sheet, language = _sheet(sheet_id), _language(language)
        try:
            information.mark_reviewed(sheet, language)
            flash(_("Marked as reviewed by a native speaker."), "success")
        except information.InformationError as error:
            transactions.undo()
            flash(str(error), "danger")
        return redirect(url_for("InformationView.show", sheet_id=sheet_id) + f"#{language}")

    @expose("/<int:sheet_id>/<language>/sheet.pdf")
    @has_access
    @permission_name("show")
    def pdf(self, sheet_id: int, language: str):
        sheet, language = _sheet(sheet_id), _language(language)
        item = information.served(sheet, language)
        if item is None:
            abort(404)
        information.record_printed(sheet, language)
        pdf = build_info_sheet(information.printable(item, language))
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{sheet.slug}-{language}.pdf"'},
        )
