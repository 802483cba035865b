"""Case pages for social workers, and the routing page for moderators.

Thin views: every rule is in ``backoffice.services.cases``. Rows named in a URL are loaded
with ``security.scoped_get`` for the signed-in user, so a guessed id of another association's
case, note, referral, flag, consent or action raises ``OutOfScope``, answered 404 whatever
the path. Views only flush: the request commits once (``backoffice.transactions``), and a
refused action is rolled back. Confidential values are decrypted once per request, each
decryption audited in the request's transaction.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.case import (
    CASE_STATUSES,
    EVIDENCE_KINDS,
    LEGAL_RECIPIENTS,
    NEEDS,
    Case,
    CaseConsent,
    CaseEvidence,
    CaseFlag,
    CaseNote,
    Complaint,
    FollowUpAction,
    LegalConsent,
    Referral,
)
from backoffice.models.structure import STRUCTURE_LANGUAGES, STRUCTURE_SERVICES
from backoffice.security import ALL, MODERATOR, SOCIAL_WORKER, scoped_get
from backoffice.services import audit_journal, cases
from backoffice.services.cases import CaseRuleError
from backoffice.services.timezones import to_local, zone_of_user
from backoffice.services.vocabulary import DEPARTMENTS, SEVERITIES
from backoffice.views import confirmation
from backoffice.views.arguments import page_arg, parse_int
from backoffice.views.uploads import uploaded_bytes
from reports_pdf.dossier import render_dossier
from reports_pdf.liaison_sheet import render_liaison_sheet

READ_METHODS = (
    "list",
    "readers",
    "export",
    "show",
    "my_actions",
    "edit_note_form",
    "correct_note_form",
    "new_referral_form",
    "evidence_file",
    "evidence_thumbnail",
    "dossier_page",
    "liaison_sheet",
)


def _actor():
    return g.user


def _saved(success: str | None) -> bool:
    """Flush the service's work: a concurrent change or a duplicate says so, changes nothing."""
    try:
        db.session.flush()
    except StaleDataError:
        _undo(_("Someone else changed this case meanwhile. Reload it and try again."))
        return False
    except IntegrityError:
        _undo(_("This was already done by someone else. Reload the page."))
        return False
    if success:
        flash(success, "success")
    return True


def _refused(error: CaseRuleError) -> None:
    _undo(error.message)


def _undo(message: str) -> None:
    """Nothing of a refused action is kept: rolled back now (the page may be shown again)
    and at the end of the request."""
    db.session.rollback()
    transactions.doom()
    flash(message, "danger")


# --- parsing form and query values --------------------------------------------------------------


def parse_date(value: str | None, field_name: str) -> dt.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CaseRuleError(
            _("This date is not valid (expected DD/MM/YYYY)."), field_name
        ) from None


def parse_time(value: str | None, field_name: str) -> dt.time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value).replace(second=0, microsecond=0)
    except ValueError:
        raise CaseRuleError(_("This time is not valid (expected HH:MM)."), field_name) from None


def parse_datetime(value: str | None, field_name: str) -> dt.datetime | None:
    """A ``datetime-local`` value: a wall-clock time in the reader's zone (as pages show)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value).replace(second=0, microsecond=0, tzinfo=None)
    except ValueError:
        raise CaseRuleError(_("This date and time are not valid."), field_name) from None
    return moment.replace(tzinfo=zone_of_user(_actor()))


def _contact_from_form() -> cases.Contact:
    form = request.form
    return cases.Contact(
        name=form.get("victim_name"),
        phone=form.get("victim_phone"),
        email=form.get("victim_email"),
        preferred_language=form.get("preferred_language"),
        instructions=form.get("contact_instructions"),
    )


def _facts_from_form() -> cases.CaseFacts:
    form = request.form
    return cases.CaseFacts(
        incident_date=parse_date(form.get("incident_date"), "incident_date"),
        incident_time=parse_time(form.get("incident_time"), "incident_time"),
        department=form.get("department") or None,
        violence_types=form.getlist("violence_types"),
    )


def _filters_from_args() -> cases.CaseFilters:
    args = request.args
    assignee = args.get("assignee", "")
    assignee_id = {"me": _actor().id, "none": 0}.get(assignee, parse_int(assignee))
    status = args.get("status", "current")
    filters = cases.CaseFilters(
        reference=(args.get("reference") or "").strip()[:20] or None,
        status=status if status in CASE_STATUSES or status == "current" else None,
        need=args.get("need") if args.get("need") in NEEDS else None,
        assignee_id=assignee_id,
        urgent=args.get("urgent") == "1",
    )
    for name in ("opened_from", "opened_to"):
        try:
            setattr(filters, name, parse_date(args.get(name), name))
        except CaseRuleError as error:
            flash(error.message, "warning")
    return filters


# --- for templates --------------------------------------------------------------------------------


def local_input(value: dt.datetime) -> str:
    """A stored moment as a ``datetime-local`` value, in the reader's zone."""
    return to_local(value, zone_of_user(_actor())).strftime("%Y-%m-%dT%H:%M")


def _helpers() -> dict:
    zone = zone_of_user(_actor())
    return {
        "labels": cases.case_labels(),
        "describe_time_left": cases.describe_time_left,
        "describe_span": cases.describe_span,
        "local_input": local_input,
        "time_left": cases.time_left,
        "display_phone": cases.display_phone,
        "zone": zone,  # found once for every time of the page
        "reader_zone": zone.key,
        "severities": SEVERITIES,
    }


def _languages() -> dict:
    from backoffice.models.structure import STRUCTURE_LANGUAGES

    return STRUCTURE_LANGUAGES


NOTE_ID_SLOT = 999_999_999


def _note_urls() -> dict[str, str]:
    """Note links with a slot for the id: building 200 URLs one by one costs more."""
    return {
        name: url_for(f"CaseView.{name}", note_id=NOTE_ID_SLOT)
        for name in ("edit_note_form", "correct_note_form")
    }


class CaseView(BaseView):
    """Cases of my association: list, search, the case page and everything done on it."""

    route_base = "/cases"
    default_view = "list"
    access = {SOCIAL_WORKER: ALL}
    method_permission_name = {
        **dict.fromkeys(READ_METHODS, "read"),
        **dict.fromkeys(
            (
                "new",
                "edit",
                "assign",
                "first_contact",
                "status",
                "close",
                "reopen",
                "needs",
                "add_flag",
                "resolve_flag",
                "add_note",
                "edit_note",
                "correct_note",
                "new_referral",
                "referral_status",
                "add_consent",
                "withdraw_consent",
                "transfer",
                "add_action",
                "complete_action",
                "add_evidence",
                "add_legal_consent",
                "withdraw_legal_consent",
                "build_dossier",
                "add_complaint",
                "complaint_dates",
                "erase",
            ),
            "write",
        ),
    }

    def render(self, template: str, **kwargs):
        return self.render_template(template, **_helpers(), **kwargs)

    def _back(self, case_id: int, anchor: str = ""):
        return redirect(url_for("CaseView.show", case_id=case_id) + anchor)

    # -- list, search, export -----------------------------------------------------------------
    @expose("/")
    @has_access
    def list(self):
        filters = _filters_from_args()
        page = cases.list_cases(_actor(), filters, page_arg())
        show_names = request.args.get("names") == "1"
        if show_names:
            cases.reveal_names(page.items, _actor())
        query = {k: v for k, v in request.args.items() if k not in ("page", "names") and v}
        return self.render(
            "cases/list.html",
            page=page,
            filters=filters,
            args=request.args,
            query=query,
            show_names=show_names,
            workers=cases.case_holders(_actor()),
            title=_("Cases"),
        )

    @expose("/export.csv")
    @has_access
    def export(self):
        body = cases.export_csv(_actor(), _filters_from_args())
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="cases.csv"'},
        )

    @expose("/actions/")
    @has_access
    def my_actions(self):
        overdue, upcoming, _today = cases.my_due_actions(_actor())
        return self.render(
            "cases/actions.html",
            overdue=overdue,
            upcoming=upcoming,
            days=cases.digest_days_ahead(),
            title=_("My follow-up actions"),
        )

    # -- opening ------------------------------------------------------------------------------
    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        actor = _actor()
        if request.method == "POST":
            try:
                case = cases.open_direct(
                    actor,
                    _contact_from_form(),
                    _facts_from_form(),
                    needs=request.form.getlist("needs"),
                    assignee_id=parse_int(request.form.get("assignee_id")),
                    consent_follow_up=request.form.get("consent_follow_up") == "1",
                )
            except CaseRuleError as error:
                _refused(error)
            else:
                if _saved(_("Case %(ref)s opened.", ref=case.reference)):
                    return self._back(case.id)
        return self.render(
            "cases/new.html",
            form=request.form,
            workers=cases.case_holders(actor),
            languages=_languages(),
            departments=DEPARTMENTS,
            me=actor.id,
            title=_("Open a case"),
        )

    # -- the case page ------------------------------------------------------------------------
    @expose("/<int:case_id>")
    @has_access
    def show(self, case_id: int):
        page = cases.read_case(case_id, _actor())
        return self.render(
            "cases/show.html",
            page=page,
            case=page.case,
            languages=_languages(),
            transitions=sorted(cases.STATUS_TRANSITIONS[page.case.status]),
            now=utcnow(),
            edit_minutes=cases.note_edit_minutes(),
            note_urls=_note_urls(),
            slot=str(NOTE_ID_SLOT),
            evidence=page.evidence,
            evidence_kinds=EVIDENCE_KINDS,
            title=page.case.reference,
        )

    @expose("/<int:case_id>/readers")
    @has_access
    def readers(self, case_id: int):
        """Who read this person's file: readers, how many times, when last (audited)."""
        case = scoped_get(Case, case_id)
        return self.render(
            "cases/readers.html",
            case=case,
            readers=audit_journal.readers_of_case(case),
            title=case.reference,
        )

    @expose("/<int:case_id>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, case_id: int):
        case = scoped_get(Case, case_id)
        if case.is_erased:
            flash(_("This case was erased: nothing can be added to it."), "warning")
            return self._back(case.id)
        form = None
        if request.method == "POST":
            try:
                cases.update_case(case, _actor(), _contact_from_form(), _facts_from_form())
            except CaseRuleError as error:
                _refused(error)
            else:
                if _saved(_("Case updated.")):
                    return self._back(case_id)
            form = request.form
        return self.render(
            "cases/edit.html",
            case=case,
            form=form,
            contact=cases.read_contact(case) if form is None else None,
            languages=_languages(),
            departments=DEPARTMENTS,
            title=_("Edit %(ref)s", ref=case.reference),
        )

    def _on_case(self, case_id: int, action, success: str, anchor: str = ""):
        """Run one service action on a case of mine and go back to the case."""
        case = scoped_get(Case, case_id)
        try:
            action(case)
        except CaseRuleError as error:
            _refused(error)
        else:
            _saved(success)
        return self._back(case_id, anchor)

    def _on_row(self, model, row_id: int, action, success: str, anchor: str = ""):
        """Run one service action on a row of one of my cases and go back to its case."""
        row = scoped_get(model, row_id)
        case_id = row.case_id
        try:
            action(row)
        except CaseRuleError as error:
            _refused(error)
        else:
            _saved(success)
        return self._back(case_id, anchor)

    @expose("/<int:case_id>/assign", methods=["POST"])
    @has_access
    def assign(self, case_id: int):
        assignee = parse_int(request.form.get("assignee_id"))
        return self._on_case(
            case_id, lambda c: cases.assign(c, assignee, _actor()), _("Case assigned.")
        )

    @expose("/<int:case_id>/first-contact", methods=["POST"])
    @has_access
    def first_contact(self, case_id: int):
        def action(case):
            moment = parse_datetime(request.form.get("first_contact_at"), "first_contact_at")
            cases.record_first_contact(case, _actor(), moment)

        return self._on_case(case_id, action, _("First contact recorded."), "#first-contact")

    @expose("/<int:case_id>/status", methods=["POST"])
    @has_access
    def status(self, case_id: int):
        status = request.form.get("status", "")
        return self._on_case(
            case_id, lambda c: cases.change_status(c, status, _actor()), _("Status changed.")
        )

    @expose("/<int:case_id>/close", methods=["POST"])
    @has_access
    def close(self, case_id: int):
        outcome = request.form.get("outcome", "")
        return self._on_case(
            case_id, lambda c: cases.close_case(c, outcome, _actor()), _("Case closed.")
        )

    @expose("/<int:case_id>/reopen", methods=["POST"])
    @has_access
    def reopen(self, case_id: int):
        return self._on_case(case_id, lambda c: cases.reopen_case(c, _actor()), _("Case reopened."))

    @expose("/<int:case_id>/needs", methods=["POST"])
    @has_access
    def needs(self, case_id: int):
        statuses = {need: request.form.get(f"need_{need}") or None for need in NEEDS}
        return self._on_case(
            case_id,
            lambda c: cases.set_needs(c, statuses, _actor()),
            _("Needs assessment saved."),
            "#needs",
        )

    @expose("/<int:case_id>/flags", methods=["POST"])
    @has_access
    def add_flag(self, case_id: int):
        def action(case):
            deadline = parse_datetime(request.form.get("deadline"), "deadline")
            cases.add_flag(case, request.form.get("kind", ""), _actor(), deadline)

        return self._on_case(case_id, action, _("Urgent flag raised."))

    @expose("/flags/<int:flag_id>/resolve", methods=["POST"])
    @has_access
    def resolve_flag(self, flag_id: int):
        resolution = request.form.get("resolution", "")
        return self._on_row(
            CaseFlag,
            flag_id,
            lambda flag: cases.resolve_flag(flag, resolution, _actor()),
            _("Flag resolved."),
        )

    # -- notes --------------------------------------------------------------------------------
    @expose("/<int:case_id>/notes", methods=["POST"])
    @has_access
    def add_note(self, case_id: int):
        text = request.form.get("body", "")
        return self._on_case(
            case_id, lambda c: cases.add_note(c, text, _actor()), _("Note added."), "#notes"
        )

    @expose("/notes/<int:note_id>/edit", methods=["GET"])
    @has_access
    def edit_note_form(self, note_id: int):
        note = scoped_get(CaseNote, note_id)
        if not cases.can_edit_note(note, _actor()):
            flash(_("This note can no longer be edited. Add a correction instead."), "warning")
            return self._back(note.case_id, "#notes")
        return self.render(
            "cases/note_edit.html",
            case=note.case,
            note_id=note.id,
            text=cases.read_note(note),
            until=cases.note_edit_deadline(note),
            title=_("Edit a note"),
        )

    @expose("/notes/<int:note_id>/edit", methods=["POST"])
    @has_access
    def edit_note(self, note_id: int):
        text = request.form.get("body", "")
        return self._on_row(
            CaseNote,
            note_id,
            lambda note: cases.edit_note(note, text, _actor()),
            _("Note saved."),
            "#notes",
        )

    @expose("/notes/<int:note_id>/correct", methods=["GET"])
    @has_access
    def correct_note_form(self, note_id: int):
        note = scoped_get(CaseNote, note_id)
        text = cases.read_note(note)
        if text is None:
            flash(_("This case was erased: nothing can be added to it."), "warning")
            return self._back(note.case_id, "#notes")
        return self.render(
            "cases/note_correct.html",
            case=note.case,
            note_id=note.id,
            created_at=note.created_at,
            text=text,
            title=_("Add a correction"),
        )

    @expose("/notes/<int:note_id>/correct", methods=["POST"])
    @has_access
    def correct_note(self, note_id: int):
        text = request.form.get("body", "")
        return self._on_row(
            CaseNote,
            note_id,
            lambda note: cases.add_note(
                scoped_get(Case, note.case_id), text, _actor(), corrects=note
            ),
            _("Correction added."),
            "#notes",
        )

    # -- referrals ----------------------------------------------------------------------------
    @expose("/<int:case_id>/referrals/new", methods=["GET"])
    @has_access
    def new_referral_form(self, case_id: int):
        case = scoped_get(Case, case_id)
        need = request.args.get("need") if request.args.get("need") in NEEDS else None
        service = request.args.get("service") or None
        text = " ".join((request.args.get("q") or "").split())[:100] or None
        found = cases.structures_for(need, case.department, 100, service=service, text=text)
        return self.render(
            "cases/referral_new.html",
            case=case,
            need=need,
            service=service,
            text=text or "",
            need_services=cases.NEED_SERVICES.get(need or "", ()),
            service_labels={code: str(label) for code, label in STRUCTURE_SERVICES.items()},
            language_labels={code: str(label) for code, label in STRUCTURE_LANGUAGES.items()},
            structures=found if need else [],
            title=_("Refer to a structure"),
        )

    @expose("/<int:case_id>/referrals/new", methods=["POST"])
    @has_access
    def new_referral(self, case_id: int):
        case = scoped_get(Case, case_id)
        form = request.form
        try:
            cases.add_referral(
                case,
                parse_int(form.get("structure_id")),
                form.get("need", ""),
                _actor(),
                notes=form.get("notes"),
            )
        except CaseRuleError as error:
            _refused(error)
            need = form.get("need") if form.get("need") in NEEDS else None
            return redirect(url_for("CaseView.new_referral_form", case_id=case_id, need=need))
        _saved(_("Referral proposed."))
        return self._back(case_id, "#referrals")

    @expose("/referrals/<int:referral_id>/status", methods=["POST"])
    @has_access
    def referral_status(self, referral_id: int):
        form = request.form

        def action(referral):
            cases.change_referral(
                referral,
                form.get("status", ""),
                _actor(),
                appointment_local=parse_datetime(form.get("appointment_at"), "appointment_at"),
                note=form.get("note"),
            )

        return self._on_row(Referral, referral_id, action, _("Referral updated."), "#referrals")

    # -- consents and transfers ---------------------------------------------------------------
    @expose("/<int:case_id>/consents", methods=["POST"])
    @has_access
    def add_consent(self, case_id: int):
        partner = parse_int(request.form.get("partner_id"))
        channel = request.form.get("channel", "")
        return self._on_case(
            case_id,
            lambda c: cases.record_consent(c, partner, channel, _actor()),
            _("Consent recorded."),
            "#sharing",
        )

    @expose("/consents/<int:consent_id>/withdraw", methods=["POST"])
    @has_access
    def withdraw_consent(self, consent_id: int):
        return self._on_row(
            CaseConsent,
            consent_id,
            lambda consent: cases.withdraw_consent(consent, _actor()),
            _("Consent withdrawn."),
            "#sharing",
        )

    @expose("/<int:case_id>/transfer", methods=["GET", "POST"])
    @has_access
    def transfer(self, case_id: int):
        case = scoped_get(Case, case_id)
        if request.method == "POST" and not confirmation.confirmed():
            return self._confirm_transfer(case)
        if request.method == "POST":
            form = request.form
            note_ids = [i for i in map(parse_int, form.getlist("note_ids")) if i is not None]
            try:
                cases.transfer_case(
                    case,
                    parse_int(form.get("partner_id")),
                    form.getlist("items"),
                    note_ids,
                    _actor(),
                    close_sender=form.get("close_sender") == "1",
                )
            except CaseRuleError as error:
                _refused(error)
            else:
                if _saved(_("Case transferred. Your own case and its history stay here.")):
                    return self._back(case_id, "#sharing")
            # The form shows decrypted notes: shown again by its own request, which audits.
            return redirect(url_for("CaseView.transfer", case_id=case_id))
        consents = [c for c in case.consents if c.is_active]
        notes = cases.read_notes(case, _actor()) if consents and not case.is_erased else []
        return self.render(
            "cases/transfer.html",
            case=case,
            consents=consents,
            notes=notes,
            title=_("Transfer %(ref)s", ref=case.reference),
        )

    def _confirm_transfer(self, case: Case):
        form = request.form
        notes = len([i for i in map(parse_int, form.getlist("note_ids")) if i is not None])
        consequences = [
            ngettext(
                "The parts you chose of case %(ref)s and %(num)d note are sent to the partner "
                "organisation you chose; it opens its own case.",
                "The parts you chose of case %(ref)s and %(num)d notes are sent to the partner "
                "organisation you chose; it opens its own case.",
                notes,
                ref=case.reference,
            ),
            _("Your own case is closed.")
            if form.get("close_sender") == "1"
            else _("Your own case stays open here."),
        ]
        return confirmation.page(
            self,
            title=_("Transfer %(ref)s?", ref=case.reference),
            consequences=consequences,
            action=url_for("CaseView.transfer", case_id=case.id),
            hidden=confirmation.resent_form("partner_id", "items", "note_ids", "close_sender"),
            submit=_("Transfer"),
            back=url_for("CaseView.transfer", case_id=case.id),
        )

    # -- actions ------------------------------------------------------------------------------
    @expose("/<int:case_id>/actions", methods=["POST"])
    @has_access
    def add_action(self, case_id: int):
        form = request.form

        def action(case):
            cases.add_action(
                case,
                form.get("kind", ""),
                parse_date(form.get("due_on"), "due_on"),
                parse_int(form.get("assignee_id")),
                _actor(),
                details=form.get("details"),
            )

        return self._on_case(case_id, action, _("Action added."), "#actions")

    @expose("/actions/<int:action_id>/done", methods=["POST"])
    @has_access
    def complete_action(self, action_id: int):
        response = self._on_row(
            FollowUpAction,
            action_id,
            lambda action: cases.complete_action(action, _actor()),
            _("Action done."),
            "#actions",
        )
        if request.form.get("back") == "actions":
            return redirect(url_for("CaseView.my_actions"))
        return response

    # -- evidence -----------------------------------------------------------------------------
    @expose("/<int:case_id>/evidence", methods=["POST"])
    @has_access
    def add_evidence(self, case_id: int):
        data, kind = uploaded_bytes("file"), request.form.get("kind", "")
        return self._on_case(
            case_id,
            lambda case: cases.add_evidence(case, data, kind, _actor()),
            _("Evidence added."),
            "#evidence",
        )

    def _evidence(self, evidence_id: int, thumbnail: bool):
        """The image of a case of mine (404 otherwise); each view is audited."""
        evidence = scoped_get(CaseEvidence, evidence_id)
        try:
            data, content_type = cases.read_evidence(evidence, thumbnail=thumbnail)
        except CaseRuleError:
            return Response(status=404)
        return Response(
            data,
            mimetype=content_type,
            headers={
                "Content-Disposition": "inline",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @expose("/evidence/<int:evidence_id>")
    @has_access
    def evidence_file(self, evidence_id: int):
        return self._evidence(evidence_id, thumbnail=False)

    @expose("/evidence/<int:evidence_id>/thumbnail")
    @has_access
    def evidence_thumbnail(self, evidence_id: int):
        return self._evidence(evidence_id, thumbnail=True)

    # -- the emergency liaison sheet for a doctor -------------------------------------------
    @expose("/<int:case_id>/liaison-sheet.pdf")
    @has_access
    def liaison_sheet(self, case_id: int):
        """One A4 page for the doctor: French on the front, her language on the back; her
        account only with her consent. Reading it is audited (her language is sealed)."""
        case = scoped_get(Case, case_id)
        try:
            pdf = cases.liaison_sheet(case, _actor(), render_liaison_sheet)
        except CaseRuleError as error:
            flash(error.message, "warning")
            return self._back(case_id)
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{case.reference}-liaison.pdf"',
                "Cache-Control": "no-store",
            },
        )

    # -- police or lawyer: consent and dossier ---------------------------------------------
    @expose("/<int:case_id>/legal-consents", methods=["POST"])
    @has_access
    def add_legal_consent(self, case_id: int):
        form = request.form

        def action(case):
            cases.record_legal_consent(
                case,
                form.get("recipient_kind", ""),
                form.get("testimony") == "1",
                form.get("evidence") == "1",
                form.get("channel", ""),
                _actor(),
            )

        self._on_case(case_id, action, _("Consent recorded."))
        return redirect(url_for("CaseView.dossier_page", case_id=case_id))

    @expose("/legal-consents/<int:legal_consent_id>/withdraw", methods=["POST"])
    @has_access
    def withdraw_legal_consent(self, legal_consent_id: int):
        consent = scoped_get(LegalConsent, legal_consent_id)
        self._on_row(
            LegalConsent,
            consent.id,
            lambda row: cases.withdraw_legal_consent(row, _actor()),
            _("Consent withdrawn: no new dossier can be built on it."),
        )
        return redirect(url_for("CaseView.dossier_page", case_id=consent.case_id))

    @expose("/<int:case_id>/dossier", methods=["GET"])
    @has_access
    def dossier_page(self, case_id: int):
        """Her consents to a dossier, the dossiers given, and the form when one applies."""
        case = scoped_get(Case, case_id)
        consents = cases.legal_consents_of(case)
        active = cases.dossier_consent_active(case)
        directory = cases.recipients()
        return self.render(
            "cases/dossier.html",
            case=case,
            legal_consents=consents,
            dossiers=cases.dossiers_of(case),
            complaints=cases.complaints_of(case),
            police=[s for s in directory if s.category == "police"],
            lawyers=[s for s in directory if s.category == "lawyer"],
            recipients=directory if active else [],
            today=utcnow().date().isoformat(),
            published_alert=None if active else cases.published_alert_of(case),
            legal_recipients=LEGAL_RECIPIENTS,
            title=_("Police or lawyer"),
        )

    @expose("/<int:case_id>/complaints", methods=["POST"])
    @has_access
    def add_complaint(self, case_id: int):
        form = request.form

        def action(case):
            cases.record_complaint(
                case,
                cases.ComplaintInput(
                    filed_on=parse_date(form.get("filed_on"), "filed_on"),
                    filed_with_id=parse_int(form.get("filed_with_id")),
                    lawyer_id=parse_int(form.get("lawyer_id")),
                    hearing_on=parse_date(form.get("hearing_on"), "hearing_on"),
                    deadline_on=parse_date(form.get("deadline_on"), "deadline_on"),
                    details=form.get("details"),
                ),
                _actor(),
            )

        self._on_case(case_id, action, _("Complaint recorded; its dates are in the actions."))
        return redirect(url_for("CaseView.dossier_page", case_id=case_id))

    @expose("/complaints/<int:complaint_id>/dates", methods=["POST"])
    @has_access
    def complaint_dates(self, complaint_id: int):
        complaint = scoped_get(Complaint, complaint_id)
        form = request.form

        def action(row):
            cases.change_complaint_dates(
                row,
                parse_date(form.get("hearing_on"), "hearing_on"),
                parse_date(form.get("deadline_on"), "deadline_on"),
                _actor(),
            )

        self._on_row(
            Complaint, complaint.id, action, _("Dates saved; new ones are in the actions.")
        )
        return redirect(url_for("CaseView.dossier_page", case_id=complaint.case_id))

    @expose("/<int:case_id>/dossier", methods=["POST"])
    @has_access
    def build_dossier(self, case_id: int):
        """The dossier's PDF, only if her consent covers the recipient and the content."""
        case = scoped_get(Case, case_id)
        wanted = cases.DossierRequest(
            structure_id=parse_int(request.form.get("structure_id")),
            testimony=request.form.get("testimony") == "1",
            evidence=request.form.get("evidence") == "1",
        )
        try:
            dossier, pdf = cases.build_dossier(case, wanted, _actor(), render_dossier)
        except CaseRuleError as error:
            _refused(error)
            return redirect(url_for("CaseView.dossier_page", case_id=case_id))
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{dossier.reference}.pdf"',
                "Cache-Control": "no-store",
            },
        )

    # -- erasure ------------------------------------------------------------------------------
    @expose("/<int:case_id>/erase", methods=["GET", "POST"])
    @has_access
    def erase(self, case_id: int):
        case = scoped_get(Case, case_id)
        if request.method == "POST" and not case.is_erased:
            try:
                cases.erase_case(
                    case,
                    request.form.get("reason", ""),
                    request.form.get("confirmation", ""),
                    _actor(),
                )
            except CaseRuleError as error:
                _refused(error)
            else:
                if _saved(_("The person's data in this case is erased for good.")):
                    return self._back(case_id)
        return self.render(
            "cases/erase.html",
            case=case,
            chosen=request.form.get("reason", ""),
            title=_("Erase this person"),
        )


class CaseRoutingView(BaseView):
    """Moderators hand a report's follow-up to a partner association (opens a case there)."""

    route_base = "/cases/routing"
    default_view = "list"
    access = {MODERATOR: ALL}

    @expose("/")
    @has_access
    def list(self):
        reports = cases.routable_reports()
        return self.render_template(
            "cases/routing.html",
            reports=reports,
            deadlines={r.id: cases.pep_deadline_of(r) for r in reports},
            describe_time_left=cases.describe_time_left,
            time_left=cases.time_left,
            organisations=cases.routing_organisations(),
            labels=cases.case_labels(),
            severities=SEVERITIES,
            title=_("Route reports to an association"),
        )

    @expose("/<int:report_id>", methods=["POST"])
    @has_access
    def route(self, report_id: int):
        organisation_id = parse_int(request.form.get("organisation_id"), 0)
        try:
            case = cases.route_report(report_id, organisation_id, _actor())
        except CaseRuleError as error:
            _refused(error)
        else:
            if _saved(None):  # flushed first: a report routed twice at once is refused cleanly
                name = case.organisation.name
                message = _(
                    "Report routed: case %(ref)s opened at %(org)s.", ref=case.reference, org=name
                )
                flash(message, "success")
        return redirect(url_for("CaseRoutingView.list"))


def register(appbuilder) -> None:
    case_view = appbuilder.add_view(
        CaseView,
        "cases",
        label=_l("Cases"),
        icon="fa-folder-open",
        category="Follow-up",
        category_label=_l("Follow-up"),
        category_icon="fa-life-ring",
    )
    appbuilder.add_link(
        "case_actions",
        href="/cases/actions/",
        label=_l("My follow-up actions"),
        icon="fa-calendar-check-o",
        category="Follow-up",
        baseview=case_view,
    )
    appbuilder.add_link(
        "case_new",
        href="/cases/new",
        label=_l("Open a case"),
        icon="fa-plus",
        category="Follow-up",
        baseview=case_view,
    )
    appbuilder.add_view(
        CaseRoutingView,
        "case_routing",
        label=_l("Route reports to an association"),
        icon="fa-share",
        category="Follow-up",
    )
