"""Staff pages of intake: the "report on behalf" form, and a read-only look at reports.

* ``ReportFormView`` (Moderator, SocialWorker, PartnerRelay): a testimony taken by phone, on an
  outreach round or at a drop-in, entered by a staff member. Field names are the API body's
  field paths (``incident.date``, ``aggressor.identifiers[1].value``), so the form builds the
  same body and goes through the same ``intake.submit_report``; its errors come back keyed
  by those paths and are shown next to their fields, in the user's language. Each consent is
  a yes/no question with no default: it must be asked. The filing organisation is the
  user's own.
* ``ReportView`` (Moderators only): the received reports and one report in full — narrative,
  redaction proposal with its spans highlighted, the aggressor's identifiers and the other
  reports naming them. Never the victim's contact details (DESIGN.md: moderators do not see
  them); the page only says whether some were recorded.
"""

from __future__ import annotations

import re

from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backoffice.models.report import Report
from backoffice.security import ALL, DATA_PROTECTION, MODERATOR, PARTNER_RELAY, SOCIAL_WORKER
from backoffice.services import audit, identifiers, intake, moderation, report_erasure
from backoffice.services.alert_text import LANGUAGE_NAMES
from backoffice.services.vocabulary import (
    AGE_RANGES,
    ALERT_LANGUAGES,
    BUILDS,
    CHANNELS,
    DEPARTMENTS,
    GENDERS,
    HEIGHTS,
    IDENTIFIER_KINDS,
    REPORTER_RELATIONS,
    SEVERITIES,
    SPAN_LABELS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
)
from backoffice.views.arguments import page_arg

IDENTIFIER_ROWS = 4
PAGE_SIZE = 50

PRECISION_LABELS = {
    "day": _l("On that day"),
    "week": _l("That week"),
    "month": _l("That month"),
}
CONSENT_QUESTIONS = {
    "publish_alert": _l(
        "May an anonymous alert about this aggressor be sent to workers and partners?"
    ),
    "follow_up": _l("Does she want to be contacted for support (health, legal, shelter…)?"),
    "share_with_partner": _l(
        "May her report be shared with the partner association that follows her?"
    ),
    "statistics": _l("May the report count, anonymously, in the programme's statistics?"),
}
REDACTION_STATUS_LABELS = {
    "pending": _l("Being prepared"),
    "proposed": _l("Proposed"),
    "failed": _l("Failed: redact by hand"),
}
CORROBORATION_SUBJECTS = {
    "phone": _l("This phone number"),
    "email": _l("This email address"),
    "plate": _l("This licence plate"),
    "pseudonym": _l("This pseudonym"),
    "url": _l("This profile URL"),
}
_IDENTIFIER_PATH = re.compile(r"aggressor\.identifiers\[(\d+)\]\.(kind|value|platform)")


def _choices() -> dict:
    """Controlled vocabularies as (code, label) pairs, labelled in the user's language."""
    return {
        "channels": list(CHANNELS.items()),
        "languages": [(code, LANGUAGE_NAMES[code]) for code in ALERT_LANGUAGES],
        "departments": [(code, code) for code in DEPARTMENTS],
        "contexts": list(WORK_CONTEXTS.items()),
        "violence_types": list(VIOLENCE_TYPES.items()),
        "precisions": list(PRECISION_LABELS.items()),
        "genders": list(GENDERS.items()),
        "age_ranges": [(code, AGE_RANGES.get(code, code)) for code in intake.AGE_RANGES],
        "heights": list(HEIGHTS.items()),
        "builds": list(BUILDS.items()),
        "identifier_kinds": list(IDENTIFIER_KINDS.items()),
        "relations": list(REPORTER_RELATIONS.items()),
        "consent_questions": list(CONSENT_QUESTIONS.items()),
    }


# --- the form -------------------------------------------------------------------------------


def _value(name: str) -> str | None:
    value = request.form.get(name, "")
    return value if value.strip() else None


def _pruned(data: dict) -> dict:
    """Drop empty values, so that an untouched optional section is simply absent."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _form_payload() -> tuple[dict, list[int]]:
    """The API body built from the posted form, and the form row of each identifier sent."""
    rows = [i for i in range(IDENTIFIER_ROWS) if _value(f"aggressor.identifiers[{i}].value")]
    consent = {}
    for item in intake.CONSENT_ITEMS:
        answer = request.form.get(f"consent.{item}")
        consent[item] = {"yes": True, "no": False}.get(answer)
    consent["police_or_lawyer"] = request.form.get("consent.police_or_lawyer") == "yes"
    payload = {
        "channel": _value("channel"),
        "language": _value("language"),
        "incident": _pruned(
            {
                "date": _value("incident.date"),
                "time": _value("incident.time"),
                "date_precision": _value("incident.date_precision"),
                "department": _value("incident.department"),
                "city": _value("incident.city"),
                "context": _value("incident.context"),
                "violence_types": request.form.getlist("incident.violence_types"),
            }
        ),
        "narrative": _value("narrative"),
        "aggressor": _pruned(
            {
                "description": _pruned(
                    {
                        **{
                            key: _value(f"aggressor.description.{key}")
                            for key in (
                                "gender",
                                "age_range",
                                "height",
                                "build",
                                "hair",
                                "distinctive_signs",
                            )
                        },
                        "languages": request.form.getlist("aggressor.description.languages"),
                    }
                ),
                "vehicle": _pruned(
                    {
                        key: _value(f"aggressor.vehicle.{key}")
                        for key in ("make", "model", "colour", "plate")
                    }
                ),
                "identifiers": [
                    _pruned(
                        {
                            "kind": _value(f"aggressor.identifiers[{i}].kind"),
                            "value": _value(f"aggressor.identifiers[{i}].value"),
                            "platform": _value(f"aggressor.identifiers[{i}].platform"),
                        }
                    )
                    for i in rows
                ],
            }
        ),
        "victim": _pruned(
            {
                "pseudonym": _value("victim.pseudonym"),
                "contact": _pruned(
                    {
                        "phone": _value("victim.contact.phone"),
                        "email": _value("victim.contact.email"),
                    }
                ),
                "preferred_language": _value("victim.preferred_language"),
            }
        ),
        "consent": consent,
        "reporter": _pruned({"relation": _value("reporter.relation")}),
    }
    return _pruned(payload), rows


def _form_errors(failed: intake.ValidationFailed, rows: list[int]) -> dict[str, list[str]]:
    """Errors keyed by form field name, in the user's language."""
    errors: dict[str, list[str]] = {}
    for path, messages in failed.errors.items():
        name = path
        match = _IDENTIFIER_PATH.fullmatch(path)
        if match:  # the body holds only the filled rows: back to the form's row number
            name = f"aggressor.identifiers[{rows[int(match.group(1))]}].{match.group(2)}"
        elif path.startswith("incident.violence_types"):
            name = "incident.violence_types"
        elif path.startswith("aggressor.description.languages"):
            name = "aggressor.description.languages"
        texts = [str(m) for m in messages]
        if path.startswith("consent.") and request.form.get(path) is None:
            texts = [_("Ask her, and record her answer.")]
        errors.setdefault(name, []).extend(texts)
    return errors


class ReportFormView(BaseView):
    """Report on behalf of a worker, from a testimony (FR/EN like the rest of the UI)."""

    route_base = "/reports/new"
    default_view = "form"
    access = {MODERATOR: ALL, SOCIAL_WORKER: ALL, PARTNER_RELAY: ALL}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def form(self):
        errors: dict[str, list[str]] = {}
        if request.method == "POST":
            payload, rows = _form_payload()
            try:  # the API's validation (ReportSchema); the request commits the report
                report = intake.submit_report(
                    payload,
                    default_channel="phone",
                    filed_by=g.user,
                    filing_organisation_id=g.user.organisation_id,
                )
            except intake.ValidationFailed as failed:  # nothing was added
                errors = _form_errors(failed, rows)
            else:
                reference = report.reference
                flash(
                    _(
                        "Report %(reference)s recorded. Give her this reference: it is what "
                        "she quotes to a partner association.",
                        reference=reference,
                    ),
                    "success",
                )
                return redirect(url_for("ReportFormView.form"))
        return self.render_template(
            "reports/form.html",
            errors=errors,
            form=request.form,
            identifier_rows=range(IDENTIFIER_ROWS),
            organisation=getattr(g.user, "organisation", None),
            **_choices(),
        )


# --- reading reports (moderators) -----------------------------------------------------------


def _highlighted(text: str, spans: list[dict]) -> list[tuple[str, str | None]]:
    """The narrative cut into (piece, span type or None), for highlighting the proposal."""
    pieces, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s.get("start", 0), -s.get("end", 0))):
        start, end = int(span.get("start", 0)), int(span.get("end", 0))
        if start < cursor or not 0 <= start < end <= len(text):
            continue  # overlapping or out of range: the proposal is advisory, skip it
        pieces.append((text[cursor:start], None))
        pieces.append((text[start:end], str(span.get("type", ""))))
        cursor = end
    pieces.append((text[cursor:], None))
    return [(piece, kind) for piece, kind in pieces if piece]


def _identifier_lines(report: Report) -> list[dict]:
    """Each identifier, its display form, and the other reports that name it."""
    counts = {c.identifier_id: c for c in intake.corroborations(report)}
    lines = []
    for row in report.identifiers:
        found = counts.get(row.id)
        line = {
            "kind": row.kind,
            "kind_label": IDENTIFIER_KINDS.get(row.kind, row.kind),
            "display": identifiers.display(row.kind, intake.identifier_value(row)),
            "platform": row.platform,
            "corroboration": None,
            "others": [],
        }
        if found is not None:
            line["corroboration"] = ngettext(
                "%(subject)s appears in %(num)d other report since %(month)s.",
                "%(subject)s appears in %(num)d other reports since %(month)s.",
                found.other_reports,
                subject=CORROBORATION_SUBJECTS.get(row.kind, _l("This identifier")),
                month=format_date(found.since, "MMMM yyyy"),
            )
            line["others"] = intake.corroborating_reports(row)[:20]
        lines.append(line)
    return lines


class ReportView(BaseView):
    """Received reports, read-only, for moderators (the moderation queue builds on it)."""

    route_base = "/reports"
    default_view = "list"
    access = {MODERATOR: ALL}

    @expose("/list/")
    @has_access
    def list(self):
        return self.render_template(
            "reports/list.html",
            page=moderation.received_reports(page_arg(), PAGE_SIZE),
            labels=_labels(),
        )

    @expose("/show/<int:pk>")
    @has_access
    def show(self, pk: int):
        report = moderation.get_report(pk)
        audit.record("report_viewed", report)
        proposal = report.redaction_proposal or {}
        return self.render_template(
            "reports/show.html",
            report=report,
            labels=_labels(),
            pieces=_highlighted(report.narrative or "", proposal.get("spans") or []),
            proposal_text=proposal.get("text"),
            identifier_lines=_identifier_lines(report),
            contact_recorded=any(
                getattr(report, column) is not None
                for column in ("victim_phone_sealed", "victim_email_sealed")
            ),
            consent_questions=CONSENT_QUESTIONS,
        )


ERASURE_REASONS = {
    "her_request": _l("She asked for it"),
    "legal_obligation": _l("A legal obligation"),
    "recorded_in_error": _l("Recorded in error"),
}


class ReportErasureView(BaseView):
    """Erasing one report on request (Moderators and the DataProtection role): a reason, a
    confirmation typed by hand, and optionally the withdrawal of its published alert."""

    route_base = "/reports/erasure"
    default_view = "index"
    access = {MODERATOR: ALL, DATA_PROTECTION: ALL}

    @expose("/")
    @has_access
    def index(self):
        reference = request.args.get("reference", "").strip()
        if reference:
            report = moderation.find_report(reference)
            if report is not None:
                return redirect(url_for("ReportErasureView.erase", pk=report.id))
            flash(_("No report has this reference."), "warning")
        return self.render_template("reports/erasure_find.html", reference=reference)

    @expose("/<int:pk>", methods=["GET", "POST"])
    @has_access
    def erase(self, pk: int):
        report = moderation.get_report(pk)
        if request.method == "POST" and self._confirmed(report):
            report_erasure.erase_by_staff(
                report,
                g.user,
                request.form.get("reason", ""),
                withdraw_alert=request.form.get("withdraw_alert") == "y",
            )
            flash(_("The report's personal data is erased for good."), "success")
            return redirect(url_for("ReportErasureView.erase", pk=pk))
        return self.render_template(
            "reports/erase.html",
            report=report,
            erased=report_erasure.is_erased(report),
            reasons=ERASURE_REASONS,
            chosen=request.form.get("reason", ""),
        )

    @staticmethod
    def _confirmed(report: Report) -> bool:
        if request.form.get("reason") not in ERASURE_REASONS:
            flash(_("Choose a reason."), "danger")
            return False
        if request.form.get("confirmation", "").strip() != report.reference:
            flash(_("To confirm, type the report's reference exactly."), "danger")
            return False
        return True


def _labels() -> dict:
    return {
        "channel": CHANNELS,
        "context": WORK_CONTEXTS,
        "violence": VIOLENCE_TYPES,
        "severity": SEVERITIES,
        "relation": REPORTER_RELATIONS,
        "precision": PRECISION_LABELS,
        "redaction": REDACTION_STATUS_LABELS,
        "span": SPAN_LABELS,
        "gender": GENDERS,
        "age_range": AGE_RANGES,
        "height": HEIGHTS,
        "build": BUILDS,
        "language": LANGUAGE_NAMES,
    }


def register(appbuilder) -> None:
    appbuilder.add_view(
        ReportFormView,
        "report_on_behalf",
        label=_l("Report on behalf of a worker"),
        icon="fa-pencil",
        category="Reports",
        category_label=_l("Reports"),
        category_icon="fa-inbox",
    )
    # Moderators work from the moderation queue; this read-only list stays reachable by URL.
    appbuilder.add_view_no_menu(ReportView)
    appbuilder.add_view_no_menu(ReportErasureView)
