"""Pages of the virtual outreach rounds (maraudes virtuelles), for the Outreach role.

* ``OutreachSessionView`` (a ``ScopedModelView``): the organisation's rounds; its show page
  is the round's workspace: paste a batch, see at once what is new and what was already
  contacted, add the new ones, log what happened, close the round.
* ``MessageTemplateView``: texts per purpose and language with a copy button and the SMS
  count; only Outreach leads (``OutreachLead`` marker, granted by an Admin in
  ``OutreachLeadView``) may edit them. Admins grant the marker but never edit texts.
* ``PlatformView``: the managed list of sites and networks (leads add and edit).
* ``OutreachFiguresView``: monthly figures of my organisation.

Every custom page scopes its queries itself (``security.scoped`` in the service), and ids in
URLs are only ever row ids: a pasted number travels in POST bodies and pages, never in a URL,
a flash message or a log line.

Static files (``backoffice/static/outreach/``) are served by the application's own static
route (``url_for('static', filename='outreach/…')``): Flask serves ``backoffice/static`` for
the app package, so no blueprint is needed and the access matrix treats it as static.
"""

from __future__ import annotations

import datetime as dt

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from wtforms import DateField, IntegerField, SelectField, TimeField
from wtforms.validators import DataRequired, NumberRange, Optional, ValidationError
from wtforms.widgets import DateInput, TimeInput

from backoffice import transactions
from backoffice.models.outreach import (
    CONTACT_KINDS,
    MESSAGE_PURPOSES,
    OUTCOME_KINDS,
    PLATFORM_KINDS,
    OutreachLead,
    OutreachSession,
    Platform,
)
from backoffice.security import ADMIN, ALL, OUTREACH, scoped_get
from backoffice.services import audit
from backoffice.services import outreach as service
from backoffice.services.alert_text import LANGUAGE_NAMES
from backoffice.services.vocabulary import (
    ALERT_LANGUAGES,
    DEPARTMENTS,
    RIGHT_TO_LEFT_LANGUAGES,
)
from backoffice.views.arguments import form_int, form_ints, parse_int
from backoffice.views.base import (
    BackofficeModelView,
    FilterInMyOrganisation,
    Interface,
    ScopedModelView,
    expose,
    has_access,
)
from backoffice.views.formatting import local_time

_MY_ORGANISATION = [["organisation_id", FilterInMyOrganisation, None]]
_TEAM_CHOICES = [*_MY_ORGANISATION, ["active", FilterEqual, True]]
_ACTIVE_PLATFORMS = [["active", FilterEqual, True]]


def _user():
    return g.user if getattr(g, "user", None) is not None else None


def _notes_without_numbers(_form, field) -> None:
    if service.notes_contain_a_number(field.data):
        raise ValidationError(
            _("Notes must not contain phone numbers: contacts go in the session's contact list.")
        )


_CONTROL = {"class": "form-control"}


def _first_department() -> str | None:
    """The first department my organisation serves: the likeliest for a new round."""
    organisation = getattr(_user(), "organisation", None)
    departments = getattr(organisation, "departments", None) or []
    return departments[0] if departments else None


def _not_far_in_future(_form, field) -> None:
    if field.data and service.too_far_ahead(field.data):
        raise ValidationError(_("This date is too far in the future."))


# --- sessions -------------------------------------------------------------------------------


class OutreachSessionView(ScopedModelView):
    route_base = "/outreach/sessions"
    datamodel = Interface(OutreachSession)
    access = {OUTREACH: ALL}
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    exclude_route_methods = {"delete", "download", "action", "action_post"}
    # Workspace actions change a session's contacts: they need the edit permission.
    method_permission_name = {
        "check": "edit",
        "add_contacts": "edit",
        "log": "edit",
        "remove_contact": "edit",
        "close": "edit",
        "outcome_edit": "edit",
        "outcome_delete": "edit",
    }
    list_title = _l("Outreach sessions")
    list_empty = _l("No outreach session yet.")
    show_title = _l("Outreach session")
    add_title = _l("New outreach session")
    edit_title = _l("Edit an outreach session")
    list_columns = [
        "reference",
        "session_date",
        "start_time",
        "city",
        "department",
        "team_label",
        "platforms_label",
        "contacts_count",
        "status_label",
    ]
    add_columns = edit_columns = [
        "session_date",
        "start_time",
        "duration_minutes",
        "city",
        "department",
        "team",
        "platforms",
        "notes",
    ]
    search_columns = ["session_date", "city", "department", "status", "team", "platforms"]
    order_columns = ["session_date", "city", "department"]
    base_order = ("session_date", "desc")
    label_columns = {
        "reference": _l("Session"),
        "session_date": _l("Date"),
        "start_time": _l("Start time"),
        "duration_minutes": _l("Duration (minutes)"),
        "city": _l("City"),
        "department": _l("Department"),
        "team": _l("Team"),
        "team_label": _l("Team"),
        "platforms": _l("Sites and platforms visited"),
        "platforms_label": _l("Sites and platforms"),
        "notes": _l("Notes"),
        "status": _l("Status"),
        "status_label": _l("Status"),
        "contacts_count": _l("Contacts"),
    }
    description_columns = {
        "team": _l("Staff of your organisation taking part in the round."),
        "notes": _l("What the team wants to remember. Never phone numbers or names."),
    }
    # Native date and time inputs: usable on a phone, and no script to parse typed dates.
    add_form_extra_fields = edit_form_extra_fields = {
        "session_date": DateField(
            _l("Date"),
            validators=[DataRequired(), _not_far_in_future],
            widget=DateInput(),
            default=dt.date.today,
            render_kw=_CONTROL,
        ),
        "start_time": TimeField(
            _l("Start time"), validators=[Optional()], widget=TimeInput(), render_kw=_CONTROL
        ),
        "duration_minutes": IntegerField(
            _l("Duration (minutes)"),
            validators=[Optional(), NumberRange(min=5, max=24 * 60)],
            default=120,
            render_kw=_CONTROL,
        ),
        "department": SelectField(
            _l("Department"),
            choices=[(d, d) for d in DEPARTMENTS],
            default=_first_department,
            render_kw=_CONTROL,
        ),
    }
    validators_columns = {"notes": [_notes_without_numbers]}
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "team": _TEAM_CHOICES,
        "platforms": _ACTIVE_PLATFORMS,
    }
    search_form_query_rel_fields = {"team": _TEAM_CHOICES, "platforms": _ACTIVE_PLATFORMS}

    # -- FAB hooks ------------------------------------------------------------------------
    def pre_add(self, item) -> None:
        super().pre_add(item)
        service.prepare_new_session(item, _user())

    def post_add(self, item) -> None:
        audit.record("outreach_session_created", item)
        g.outreach_new_session_id = item.id

    def post_add_redirect(self):
        new_id = g.get("outreach_new_session_id")
        if new_id:
            return redirect(url_for(".show", pk=new_id))
        return super().post_add_redirect()

    def post_update(self, item) -> None:
        audit.record("outreach_session_updated", item)

    # -- the workspace ----------------------------------------------------------------------
    def _session_or_404(self, pk) -> OutreachSession:
        # Another organisation's round, or none: OutOfScope, answered as 404.
        return scoped_get(OutreachSession, pk)

    def _workspace(self, session: OutreachSession, check=None, batch_text: str = ""):
        contacts = service.session_contacts(session)
        values = service.placeholder_values()
        templates = [
            {
                "purpose": t.purpose,
                "language": t.language,
                "text": service.render_text(t.text, values),
            }
            for t in service.organisation_templates()
        ]
        page = self.render_template(
            "outreach/session.html",
            outreach_session=session,
            contacts=contacts,
            displays=service.contact_displays(session, contacts),
            check=check,
            batch_text=batch_text,
            platforms=service.active_platforms(),
            organisations=service.referral_organisations(),
            templates=templates,
            recent_days=service.recent_contact_days(),
            **_vocabularies(),
        )
        return page

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        return self._workspace(self._session_or_404(pk))

    @expose("/<int:pk>/check", methods=["POST"])
    @has_access
    def check(self, pk):
        session = self._session_or_404(pk)
        text = request.form.get("batch", "")
        try:
            result = service.check_batch(text)
        except service.OutreachError as error:
            flash(str(error), "danger")
            return self._workspace(session, batch_text=text)
        if not result.lines:
            flash(_("Paste at least one number or handle, one per line."), "warning")
        # Counts only: who checked how many numbers, never which ones.
        audit.record("outreach_batch_checked", session, details=result.counts)
        return self._workspace(session, check=result, batch_text=text)

    @expose("/<int:pk>/contacts", methods=["POST"])
    @has_access
    def add_contacts(self, pk):
        session = self._session_or_404(pk)
        try:
            result = service.add_contacts(
                session,
                request.form.get("batch", ""),
                selected=form_ints("line"),
                platform_id=form_int("platform"),
                language=request.form.get("language") or None,
                log_first_message=request.form.get("log_first_message") == "1",
                user=_user(),
            )
        except service.OutreachError as error:
            transactions.undo()
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=session.id))
        added = result.added
        flash(
            ngettext(
                "%(count)d contact added to the session.",
                "%(count)d contacts added to the session.",
                added,
                count=added,
            ),
            "success",
        )
        if result.already_known:
            flash(
                ngettext(
                    "%(count)d was already contacted and was not added.",
                    "%(count)d were already contacted and were not added.",
                    result.already_known,
                    count=result.already_known,
                ),
                "info",
            )
        return redirect(url_for(".show", pk=session.id) + "#contacts")

    @expose("/<int:pk>/outcomes", methods=["POST"])
    @has_access
    def log(self, pk):
        session = self._session_or_404(pk)
        try:
            data = _outcome_input(session, request.form)
            outcomes = service.log_outcomes(session, form_ints("contact"), data, _user())
        except service.NotInScope:
            transactions.undo()
            abort(404)
        except service.OutreachError as error:
            transactions.undo()
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=session.id) + "#contacts")
        flash(
            ngettext(
                "%(kind)s logged for %(count)d contact.",
                "%(kind)s logged for %(count)d contacts.",
                len(outcomes),
                kind=str(OUTCOME_KINDS[data.kind]),
                count=len(outcomes),
            ),
            "success",
        )
        return redirect(url_for(".show", pk=session.id) + "#contacts")

    @expose("/<int:pk>/contacts/<int:contact_id>/remove", methods=["POST"])
    @has_access
    def remove_contact(self, pk, contact_id):
        session = self._session_or_404(pk)
        try:
            service.remove_contact(session, service.get_contact(session, contact_id))
        except service.NotInScope:
            abort(404)
        except service.OutreachError as error:
            transactions.undo()
            flash(str(error), "danger")
            return redirect(url_for(".show", pk=session.id))
        flash(_("Contact removed from the session."), "success")
        return redirect(url_for(".show", pk=session.id) + "#contacts")

    @expose("/<int:pk>/close", methods=["POST"])
    @has_access
    def close(self, pk):
        session = self._session_or_404(pk)
        try:
            erased = service.close_round(session)
        except service.OutreachError as error:
            flash(str(error), "info")
            return redirect(url_for(".show", pk=session.id))
        flash(
            ngettext(
                "Session closed: the %(count)d number it showed is erased for good. "
                "It is still recognised when pasted again.",
                "Session closed: the %(count)d numbers it showed are erased for good. "
                "They are still recognised when pasted again.",
                erased,
                count=erased,
            ),
            "success",
        )
        return redirect(url_for(".show", pk=session.id))

    @expose("/outcome/<int:outcome_id>/edit", methods=["GET", "POST"])
    @has_access
    def outcome_edit(self, outcome_id):
        try:
            outcome = service.get_outcome(outcome_id)
        except service.NotInScope:
            abort(404)
        session = outcome.session
        back = url_for(".show", pk=session.id) + "#contacts"
        if request.method == "POST":
            try:
                service.update_outcome(outcome, _outcome_input(session, request.form))
                flash(_("Outcome updated."), "success")
                return redirect(back)
            except service.OutreachError as error:
                transactions.undo()
                flash(str(error), "danger")
                outcome = service.get_outcome(outcome_id)
        return self.render_template(
            "outreach/outcome_edit.html",
            outcome=outcome,
            outreach_session=outcome.session,
            occurred_local=service.local_time_of(outcome.session, outcome.occurred_at),
            organisations=service.referral_organisations(),
            back=back,
            **_vocabularies(),
        )

    @expose("/outcome/<int:outcome_id>/delete", methods=["POST"])
    @has_access
    def outcome_delete(self, outcome_id):
        try:
            outcome = service.get_outcome(outcome_id)
        except service.NotInScope:
            abort(404)
        session_id = outcome.session_id
        try:
            service.delete_outcome(outcome)
            flash(_("Outcome deleted."), "success")
        except service.OutreachError as error:
            transactions.undo()
            flash(str(error), "danger")
        return redirect(url_for(".show", pk=session_id) + "#contacts")


def _outcome_input(session: OutreachSession, form) -> service.OutcomeInput:
    """The outcome form; its time is the round's local time (the picker's), stored as UTC."""
    occurred_at = None
    raw_time = (form.get("occurred_at") or "").strip()
    if raw_time:
        try:
            occurred_at = service.utc_of_local(session, dt.datetime.fromisoformat(raw_time))
        except ValueError:
            raise service.OutreachError(
                _l("The time is not valid: use the date and time picker.")
            ) from None
    return service.OutcomeInput(
        kind=form.get("kind", ""),
        purpose=form.get("purpose") or None,
        language=form.get("language") or None,
        referral_organisation_id=parse_int(form.get("referral_organisation")),
        occurred_at=occurred_at,
    )


def _vocabularies() -> dict:
    return {
        "outcome_kinds": OUTCOME_KINDS,
        "purposes": MESSAGE_PURPOSES,
        "contact_kinds": CONTACT_KINDS,
        "languages": ALERT_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "rtl_languages": RIGHT_TO_LEFT_LANGUAGES,
    }


# --- message templates ----------------------------------------------------------------------


class MessageTemplateView(BaseView):
    route_base = "/outreach/templates"
    default_view = "list"
    access = {OUTREACH: ALL}

    @expose("/")
    @has_access
    def list(self):
        language = request.args.get("lang")
        language = language if language in ALERT_LANGUAGES else None
        values = service.placeholder_values()
        rows = []
        for template in service.organisation_templates():
            if language and template.language != language:
                continue
            text = service.render_text(template.text, values)
            rows.append({"template": template, "text": text, "sms": service.sms_info(text)})
        return self.render_template(
            "outreach/templates.html",
            rows=rows,
            language=language,
            is_lead=service.is_outreach_lead(_user()),
            **_vocabularies(),
        )

    @expose("/<int:template_id>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, template_id):
        if not service.is_outreach_lead(_user()):
            flash(_("Only Outreach leads can edit the message texts."), "warning")
            return redirect(url_for(".list"))
        try:
            template = service.get_template(template_id)
        except service.NotInScope:
            abort(404)
        text = template.text
        if request.method == "POST":
            text = request.form.get("text", "")
            try:
                service.update_template(template, text, _user())
                flash(_("Message text saved."), "success")
                return redirect(url_for(".list", lang=template.language))
            except service.OutreachError as error:
                transactions.undo()
                flash(str(error), "danger")
                template = service.get_template(template_id)
        return self.render_template(
            "outreach/template_edit.html",
            message=template,
            text=text,
            placeholders=service.placeholder_values(),
            sms=service.sms_info(service.render_text(text)),
            **_vocabularies(),
        )


# --- platforms and leads ----------------------------------------------------------------------


class PlatformView(BackofficeModelView):
    route_base = "/outreach/platforms"
    datamodel = Interface(Platform)
    access = {OUTREACH: ALL}
    base_permissions = ["can_list", "can_show", "can_add", "can_edit"]
    exclude_route_methods = {"delete", "download", "action", "action_post"}
    list_title = _l("Sites and platforms")
    list_empty = _l("No site or platform yet.")
    show_title = _l("Site or platform")
    add_title = _l("Add a site or platform")
    edit_title = _l("Edit a site or platform")
    list_columns = ["name", "kind_label", "active"]
    show_columns = ["name", "kind_label", "active", "created_at"]
    add_columns = edit_columns = ["name", "kind", "active"]
    search_columns = ["name", "kind", "active"]
    base_order = ("name", "asc")
    label_columns = {
        "name": _l("Name"),
        "kind": _l("Kind"),
        "kind_label": _l("Kind"),
        "active": _l("Active"),
        "created_at": _l("Created"),
    }
    formatters_columns = {"created_at": local_time}
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=list(PLATFORM_KINDS.items())),
    }

    def _lead_only(self):
        if service.is_outreach_lead(_user()):
            return None
        flash(_("Only Outreach leads can change the list of platforms."), "warning")
        return redirect(url_for(".list"))

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        return self._lead_only() or super().add()

    @expose("/edit/<pk>", methods=["GET", "POST"])
    @has_access
    def edit(self, pk):
        return self._lead_only() or super().edit(pk)

    def post_add(self, item) -> None:
        audit.record("outreach_platform_created", item)

    def post_update(self, item) -> None:
        audit.record("outreach_platform_updated", item, details={"active": bool(item.active)})


class OutreachLeadView(BackofficeModelView):
    """Admins grant or withdraw the Outreach lead marker; they cannot edit texts themselves."""

    route_base = "/outreach/leads"
    datamodel = Interface(OutreachLead)
    access = {ADMIN: ALL}
    base_permissions = ["can_list", "can_add", "can_delete"]
    exclude_route_methods = {"show", "edit", "download", "action", "action_post"}
    list_title = _l("Outreach leads")
    list_empty = _l("No outreach lead named yet.")
    add_title = _l("Name an Outreach lead")
    list_columns = ["user", "user.organisation", "created_at"]
    add_columns = ["user"]
    label_columns = {
        "user": _l("User"),
        "user.organisation": _l("Organisation"),
        "created_at": _l("Since"),
    }
    formatters_columns = {"created_at": local_time}
    description_columns = {"user": _l("The user must hold the Outreach role.")}
    add_form_query_rel_fields = {"user": [["active", FilterEqual, True]]}
    base_order = ("created_at", "desc")

    def pre_add(self, item) -> None:
        service.check_can_lead(item.user)

    def post_add(self, item) -> None:
        audit.record("outreach_lead_granted", object_type="User", object_id=item.user_id)

    def post_delete(self, item) -> None:
        audit.record("outreach_lead_withdrawn", object_type="User", object_id=item.user_id)


# --- figures ----------------------------------------------------------------------------------


def _month_arg(name: str, default: dt.date) -> tuple[dt.date, bool]:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default, True
    try:
        return dt.datetime.strptime(raw, "%Y-%m").date(), True
    except ValueError:
        return default, False


def _month_end(first_day: dt.date) -> dt.date:
    following = (first_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


class OutreachFiguresView(BaseView):
    route_base = "/outreach/figures"
    default_view = "index"
    access = {OUTREACH: ALL}

    @expose("/")
    @has_access
    def index(self):
        today = dt.date.today()
        default_start = (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
        start, start_ok = _month_arg("from", default_start)
        end_month, end_ok = _month_arg("to", today.replace(day=1))
        if not (start_ok and end_ok) or start > end_month:
            flash(_("Give months as YYYY-MM, the first one before the second."), "warning")
            start, end_month = default_start, today.replace(day=1)
        department = request.args.get("department") or None
        if department not in (None, *DEPARTMENTS):
            flash(_("Unknown department."), "warning")
            department = None
        rows = service.organisation_figures(g.user, start, _month_end(end_month), department)
        totals = {name: sum(row[name] for row in rows) for name in service.FIGURE_COLUMNS}
        return self.render_template(
            "outreach/figures.html",
            rows=rows,
            totals=totals,
            columns=service.FIGURE_COLUMNS,
            start=start,
            end=end_month,
            department=department,
            departments=DEPARTMENTS,
        )


def register(appbuilder) -> None:
    """Menu entries of the outreach area (called from ``views.register_views``)."""
    category = {"category": "Outreach", "category_label": _l("Outreach rounds")}
    appbuilder.add_view(
        OutreachSessionView,
        "outreach_sessions",
        label=_l("Sessions"),
        icon="fa-comments",
        category_icon="fa-bullhorn",
        **category,
    )
    appbuilder.add_view(
        MessageTemplateView,
        "outreach_templates",
        label=_l("Message templates"),
        icon="fa-file-text",
        **category,
    )
    appbuilder.add_view(
        PlatformView,
        "outreach_platforms",
        label=_l("Sites and platforms"),
        icon="fa-globe",
        **category,
    )
    appbuilder.add_view(
        OutreachFiguresView,
        "outreach_figures",
        label=_l("Figures"),
        icon="fa-bar-chart",
        **category,
    )
    appbuilder.add_view(
        OutreachLeadView,
        "outreach_leads",
        label=_l("Outreach leads"),
        icon="fa-star",
        category="Administration",
    )
