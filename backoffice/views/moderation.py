"""The moderators' pages: the queue, the report page, the alert composer, alerts, the check.

Thin by design: every rule is in ``services/moderation.py`` (the lifecycle) and
``services/alerts.py`` (composition, publication, the check); these views parse forms, call
them, and show their refusals as messages in the moderator's language. Changes are POST
forms with the CSRF token and the version the moderator saw; identifiers to check travel in
POST bodies, never in URLs.
"""

from __future__ import annotations

import datetime as dt
import json

from flask import abort, current_app, flash, g, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import format_timedelta, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from backoffice import transactions
from backoffice.models.base import utcnow
from backoffice.models.report import DATE_PRECISIONS, Report
from backoffice.security import (
    ALL,
    CAPABILITIES,
    MODERATOR,
    ROLES,
)
from backoffice.services import alerts, audit, intake, moderation, outbox, questions
from backoffice.services.alert_text import (
    LANGUAGE_NAMES,
)
from backoffice.services.anonymise import PLACEHOLDERS
from backoffice.services.identifiers import KINDS, InvalidIdentifier, display
from backoffice.services.vocabulary import (
    AGE_RANGES,
    ALERT_LANGUAGES,
    BUILDS,
    CHANNELS,
    DEPARTMENTS,
    GENDERS,
    HEIGHTS,
    IDENTIFIER_KINDS,
    SEVERITIES,
    VEHICLE_FIELDS,
    VIOLENCE_TYPES,
    WORK_CONTEXTS,
    described,
    severity_for,
)
from backoffice.views import confirmation
from backoffice.views.arguments import form_int, page_arg, parse_int
from reports_pdf.alert_sheet import SheetError, published_sheet

EVERY_ROLE = ROLES


def _choice(value: str | None, choices) -> str | None:
    return value if value in choices else None


def _version() -> int:
    """The version the moderator saw (-1, never a real version, when the form lacks it)."""
    return form_int("version", -1)


def _refused(error: Exception) -> None:
    transactions.undo()
    flash(str(getattr(error, "message", error)), "danger")


# Transitions of the report page that ask for confirmation first, and what they do.
CONFIRMED_TRANSITIONS = ("reject", "merge")


def _transition_consequences(report: Report, name: str, merge_into: Report | None) -> list[str]:
    if name == "merge":
        return [
            _(
                "Report %(reference)s is merged into %(target)s: it leaves the queue and its "
                "identifiers count with %(target)s.",
                reference=report.reference,
                target=merge_into.reference if merge_into else "?",
            ),
            _("Nothing is sent to anyone."),
        ]
    return [
        _(
            "Report %(reference)s is rejected: it leaves the queue and will feed no alert.",
            reference=report.reference,
        ),
        _("Your reason is kept in its history. Nothing is sent to anyone."),
    ]


def _publication_consequences(alert) -> list[str]:
    counts = outbox.recipient_counts(alert)
    sms = ngettext("%(num)d SMS", "%(num)d SMS", counts["sms"])
    emails = ngettext("%(num)d e-mail", "%(num)d e-mails", counts["email"])
    reports = len(alert.reports)
    return [
        _("%(sms)s and %(emails)s will be sent to the subscribers.", sms=sms, emails=emails),
        ngettext(
            "%(num)d partner organisation will receive the alert by e-mail.",
            "%(num)d partner organisations will receive the alert by e-mail.",
            counts["partners"],
        ),
        ngettext(
            "The alert enters the feed and the identifier check at once; its report is "
            "marked published.",
            "The alert enters the feed and the identifier check at once; its %(num)d reports "
            "are marked published.",
            reports,
        ),
    ]


def _publication_blockers(alert) -> list[str]:
    blockers = []
    leaks = alerts.leaked_details(alert)
    if leaks:
        blockers.append(
            _(
                "The text repeats a detail of the victim redacted in report %(reference)s.",
                reference=", ".join(leaks),
            )
        )
    blocking = [f for f in alerts.text_findings(alert) if f.blocking]
    if blocking:
        blockers.append(
            ngettext(
                "The anonymisation assistant found %(num)d possible victim detail in the texts.",
                "The anonymisation assistant found %(num)d possible victim details in the texts.",
                len(blocking),
            )
        )
    return blockers


def _vocabularies() -> dict:
    return {
        "statuses": moderation.STATUSES,
        "violence_types": VIOLENCE_TYPES,
        "severities": SEVERITIES,
        "channels": CHANNELS,
        "work_contexts": WORK_CONTEXTS,
        "identifier_kinds": IDENTIFIER_KINDS,
        "departments": DEPARTMENTS,
        "alert_languages": ALERT_LANGUAGES,
        "language_names": LANGUAGE_NAMES,
        "alert_statuses": alerts_statuses(),
        "described": described,
        "vehicle_fields": VEHICLE_FIELDS,
    }


def waiting(since: dt.datetime | None, now: dt.datetime) -> str:
    if since is None:
        return ""
    return format_timedelta(now - since, granularity="minute", threshold=1.5)


# --- the queue and the report page -------------------------------------------------------------


class ModerationView(BaseView):
    """The moderation queue and the report page (Moderators only)."""

    route_base = "/moderation"
    default_view = "queue"
    access = {MODERATOR: ALL}

    @expose("/queue")
    @has_access
    def queue(self):
        filters = moderation.QueueFilters(
            status=request.args.get("status") or "open",
            age=_choice(request.args.get("age"), moderation.AGE_FILTERS),
            department=_choice(request.args.get("department"), DEPARTMENTS),
            violence_type=_choice(request.args.get("violence_type"), VIOLENCE_TYPES),
            severity=_choice(request.args.get("severity"), SEVERITIES),
            language=_choice(request.args.get("language"), ALERT_LANGUAGES),
            channel=_choice(request.args.get("channel"), CHANNELS),
        )
        if filters.status not in (*moderation.STATUSES, "open", "all"):
            filters.status = "open"
        page = moderation.queue(
            filters,
            page=page_arg(),
            page_size=current_app.config.get("MODERATION_PAGE_SIZE", 50),
        )
        return self.render_template(
            "moderation/queue.html",
            page=page,
            unanswered=questions.unanswered_report_ids([r.id for r in page.items]),
            filters=filters,
            open_statuses=moderation.OPEN_STATUSES,
            age_filters=moderation.AGE_FILTERS,
            waiting=waiting,
            **_vocabularies(),
        )

    @expose("/reports/<reference>")
    @has_access
    def report(self, reference: str):
        report = moderation.report_by_reference(reference)
        now = utcnow()
        actor = g.user
        audit.record("report_viewed", report)
        context = {
            "report": report,
            "now": now,
            "mine": moderation.holds_claim(report, actor, now),
            "claim_live": moderation.claim_is_live(report, now),
            "actions": [
                t for t in moderation.available_transitions(report, actor, now) if not t.via_alert
            ],
            "segments": _segments(report.narrative or "", moderation.current_spans(report)),
            "spans_json": json.dumps(moderation.current_spans(report)),
            "proposal_count": len(moderation.proposal_spans(report)),
            "placeholders": PLACEHOLDERS,
            "identifiers": _identifier_rows(report),
            "linked": moderation.linked_reports(report),
            "history": moderation.history(report),
            "questions": questions.answers(report),
            "event_labels": {
                **{name: t.label for name, t in moderation.TRANSITIONS.items()},
                "redaction_reviewed": _("Redaction reviewed"),
                "merged_from": _("Another report was merged into this one"),
            },
            "alerts_of_report": alerts.alerts_of_report(report),
            "merge_candidates": moderation.merge_candidates(report),
            "waiting": waiting,
        }
        return self.render_template("moderation/report.html", **context, **_vocabularies())

    @expose("/reports/<reference>/transition", methods=["POST"])
    @has_access
    def transition(self, reference: str):
        report = moderation.report_by_reference(reference)
        name = request.form.get("transition", "")
        merge_into = None
        if name == "merge":
            merge_into = moderation.find_report(request.form.get("merge_into"))
        if name in CONFIRMED_TRANSITIONS and not confirmation.confirmed():
            return self._confirm_transition(report, name, merge_into)
        try:
            moderation.perform(
                report,
                name,
                g.user,
                expected_version=_version(),
                reason=request.form.get("reason"),
                merge_into=merge_into,
            )
        except moderation.ModerationError as error:
            _refused(error)
            return redirect(url_for("ModerationView.report", reference=reference))
        label = moderation.TRANSITIONS[name].label
        flash(_("Done: %(action)s.", action=label), "success")
        if name in ("release", "reject", "merge", "record_only", "request_info"):
            return redirect(url_for("ModerationView.queue"))
        return redirect(url_for("ModerationView.report", reference=reference))

    def _confirm_transition(self, report: Report, name: str, merge_into: Report | None):
        fields = ("transition", "version", "reason", "merge_into")
        return confirmation.page(
            self,
            title=_("Confirm: %(action)s", action=moderation.TRANSITIONS[name].label),
            consequences=_transition_consequences(report, name, merge_into),
            action=url_for("ModerationView.transition", reference=report.reference),
            hidden={k: request.form.get(k) for k in fields if request.form.get(k) is not None},
            submit=moderation.TRANSITIONS[name].label,
            back=url_for("ModerationView.report", reference=report.reference),
        )

    @expose("/reports/<reference>/redaction", methods=["POST"])
    @has_access
    def redaction(self, reference: str):
        report = moderation.report_by_reference(reference)
        try:
            spans = None
            if request.form.get("decision") != "accept":
                try:
                    raw = json.loads(request.form.get("spans") or "[]")
                except ValueError:
                    raw = None
                if not isinstance(raw, list):
                    raise moderation.TransitionRefused(
                        _("The redaction could not be read; reload the page.")
                    )
                spans = moderation.parse_spans(report.narrative or "", raw)
            moderation.review_redaction(report, g.user, spans, expected_version=_version())
            flash(_("The redaction is reviewed."), "success")
        except moderation.ModerationError as error:
            _refused(error)
        return redirect(url_for("ModerationView.report", reference=reference) + "#redaction")


def _segments(text: str, spans: list[dict]) -> list[tuple[int, str, str | None]]:
    """(start offset, piece of text, redaction type or None) covering the whole narrative."""
    pieces, cursor = [], 0
    for span in sorted(spans, key=lambda s: (s["start"], -s["end"])):
        start, end = max(span["start"], cursor), span["end"]
        if end <= start or end > len(text):
            continue
        if start > cursor:
            pieces.append((cursor, text[cursor:start], None))
        pieces.append((start, text[start:end], span["type"]))
        cursor = end
    if cursor < len(text):
        pieces.append((cursor, text[cursor:], None))
    return pieces


def _identifier_rows(report: Report) -> list[dict]:
    rows = []
    for row in report.identifiers:
        rows.append(
            {
                "id": row.id,
                "kind": row.kind,
                "display": display(row.kind, intake.identifier_value(row)),
                "platform": row.platform,
                "others": len(intake.corroborating_reports(row)),
            }
        )
    return rows


# --- the composer --------------------------------------------------------------------------


def _split_codes(raw: str | None) -> list[str]:
    return [
        part.strip().upper()
        for part in (raw or "").replace(";", ",").replace(" ", ",").split(",")
        if part.strip()
    ]


def _date(raw: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def parts_from_form(form) -> alerts.AlertParts:
    """The composer form as AlertParts (validation is the service's)."""
    description = {
        "gender": form.get("gender") or None,
        "age_range": form.get("age_range") or None,
        "height": form.get("height") or None,
        "build": form.get("build") or None,
        "hair": (form.get("hair") or "").strip() or None,
        "distinctive_signs": (form.get("distinctive_signs") or "").strip() or None,
    }
    languages = [
        c.strip().lower()
        for c in (form.get("languages") or "").replace(" ", ",").split(",")
        if c.strip()
    ]
    if languages:
        description["languages"] = languages
    extra = []
    for index in range(3):
        kind, value = (
            form.get(f"extra_kind_{index}"),
            (form.get(f"extra_value_{index}") or "").strip(),
        )
        if value:
            extra.append((kind if kind in KINDS else "pseudonym", value))
    return alerts.AlertParts(
        violence_types=[v for v in form.getlist("violence_types") if v],
        departments=_split_codes(form.get("departments")),
        incident_date=_date(form.get("incident_date")),
        date_precision=form.get("date_precision") or "day",
        work_context=form.get("work_context") or None,
        description={k: v for k, v in description.items() if v},
        vehicle={
            k: (form.get(f"vehicle_{k}") or "").strip()
            for k in alerts.VEHICLE_FIELDS
            if (form.get(f"vehicle_{k}") or "").strip()
        },
        report_identifier_ids=[i for i in (parse_int(v) for v in form.getlist("identifiers")) if i],
        kept_identifier_ids=[
            i for i in (parse_int(v) for v in form.getlist("keep_identifiers")) if i
        ],
        extra_identifiers=extra,
        severity=form.get("severity") or None,
        summary=form.get("summary") or "",
        translations={
            lang: form.get(f"summary_{lang}") or "" for lang in ALERT_LANGUAGES if lang != "fr"
        },
    )


CORRECTION_FIELDS = (
    "version",
    "reason",
    "summary",
    "severity",
    "keep_identifiers",
    *(f"summary_{lang}" for lang in ALERT_LANGUAGES if lang != "fr"),
    *(f"extra_{name}_{index}" for index in range(3) for name in ("kind", "value")),
)


def _revision_line(counts: dict, purpose: str) -> str:
    sms = ngettext("%(num)d SMS", "%(num)d SMS", counts["sms"])
    emails = ngettext("%(num)d e-mail", "%(num)d e-mails", counts["email"])
    partners = counts["partners"]
    if purpose == "update":
        return ngettext(
            "%(sms)s and %(emails)s will tell those who received the alert that it was "
            "reported again, and %(num)d partner organisation by e-mail.",
            "%(sms)s and %(emails)s will tell those who received the alert that it was "
            "reported again, and %(num)d partner organisations by e-mail.",
            partners,
            sms=sms,
            emails=emails,
        )
    return ngettext(
        "%(sms)s and %(emails)s will carry the correction to those who received the alert, "
        "and %(num)d partner organisation by e-mail.",
        "%(sms)s and %(emails)s will carry the correction to those who received the alert, "
        "and %(num)d partner organisations by e-mail.",
        partners,
        sms=sms,
        emails=emails,
    )


class AlertComposerView(BaseView):
    """Composing, publishing and retracting alerts (Moderators only)."""

    route_base = "/composer"
    default_view = "new"
    access = {MODERATOR: ALL}

    def _form(self, template_reports, parts, alert=None, errors=None, status=200):
        reports = template_reports
        identifiers = [(r, _identifier_rows(r)) for r in reports]
        selected = set(parts.report_identifier_ids)
        if alert is not None and not selected:
            selected = alerts.selected_identifier_ids(alert)
        context = {
            "alert": alert,
            "reports": reports,
            "candidates": alerts.candidate_reports(reports),
            "parts": parts,
            "identifier_groups": identifiers,
            "selected_identifiers": selected,
            "typed_identifiers": [
                {
                    "id": row.id,
                    "kind": row.kind,
                    "display": display(row.kind, alerts.alert_identifier_value(row)),
                }
                for row in (alerts.typed_identifiers(alert) if alert is not None else [])
            ],
            "errors": errors or {},
            "derived_severity": severity_for(parts.violence_types)
            if parts.violence_types
            else None,
            "previews": alerts.previews(alert) if alert is not None else {},
            "leaks": alerts.leaked_details(alert)
            if alert is not None and alert.status == "draft"
            else [],
            "placeholders": PLACEHOLDERS,
            "findings": alerts.text_findings(alert)
            if alert is not None and alert.status == "draft"
            else [],
            "date_precisions": DATE_PRECISIONS,
            "genders": GENDERS,
            "age_ranges": AGE_RANGES,
            "heights": HEIGHTS,
            "builds": BUILDS,
            "kinds": KINDS,
            **_vocabularies(),
        }
        return self.render_template("moderation/composer.html", **context), status

    @expose("/new", methods=["GET", "POST"])
    @has_access
    def new(self):
        reports = moderation.reports_by_reference(request.values.getlist("reports"))
        if not reports:
            return self.render_template(
                "moderation/composer_pick.html",
                reports=alerts.reports_awaiting_alert(),
                **_vocabularies(),
            )
        if request.method == "GET":
            try:
                alerts.check_reports(reports)
            except alerts.AlertError as error:
                flash(str(error.message), "danger")
                return redirect(url_for("AlertComposerView.new"))
            return self._form(reports, alerts.parts_from_reports(reports))
        parts = parts_from_form(request.form)
        try:
            alert = alerts.compose(reports, g.user, parts)
        except alerts.AlertError as error:
            _refused(error)
            return self._form(reports, parts, errors=error.errors, status=422)
        flash(
            _(
                "Draft %(reference)s saved. Check the previews, then publish.",
                reference=alert.reference,
            ),
            "success",
        )
        return redirect(url_for("AlertComposerView.edit", reference=alert.reference))

    @expose("/edit/<reference>", methods=["GET", "POST"])
    @has_access
    def edit(self, reference: str):
        alert = alerts.get_alert(reference)
        if request.method == "GET" or alert.status != "draft":
            return self._form(alert.reports, alerts.parts_from_alert(alert), alert)
        parts = parts_from_form(request.form)
        reports = moderation.reports_by_reference(request.form.getlist("reports")) or alert.reports
        try:
            alerts.update_draft(alert, g.user, parts, expected_version=_version(), reports=reports)
        except (alerts.AlertError, moderation.ModerationError) as error:
            _refused(error)
            alert = alerts.get_alert(reference)
            return self._form(alert.reports, parts, alert, getattr(error, "errors", {}), 422)
        flash(_("Draft saved."), "success")
        return redirect(url_for("AlertComposerView.edit", reference=reference) + "#previews")

    @expose("/review/<reference>", methods=["POST"])
    @has_access
    def review(self, reference: str):
        """Mark one finding of the anonymisation assistant reviewed, with a reason."""
        alert = alerts.get_alert(reference)
        try:
            alerts.review_text_finding(
                alert,
                g.user,
                request.form.get("key", ""),
                request.form.get("reason", ""),
                expected_version=_version(),
            )
            flash(_("Marked reviewed; your reason is kept."), "success")
        except alerts.AlertError as error:
            _refused(error)
        return redirect(url_for("AlertComposerView.edit", reference=reference) + "#text-check")

    @expose("/publish/<reference>", methods=["GET", "POST"])
    @has_access
    def publish(self, reference: str):
        alert = alerts.get_alert(reference)
        if request.method == "GET" or not confirmation.confirmed():
            if request.method == "POST":
                flash(_("Nothing was published: confirm on this page."), "warning")
            return self._confirm_publish(alert)
        try:
            alerts.publish(alert, g.user, expected_version=_version())
        except (alerts.AlertError, moderation.ModerationError) as error:
            _refused(error)
            return redirect(url_for("AlertComposerView.edit", reference=reference))
        flash(_("Alert %(reference)s is published.", reference=reference), "success")
        return redirect(url_for("AlertsView.show", reference=reference))

    def _confirm_publish(self, alert):
        if alert.status != "draft":
            return redirect(url_for("AlertsView.show", reference=alert.reference))
        blockers = _publication_blockers(alert)
        return confirmation.page(
            self,
            title=_("Publish alert %(reference)s?", reference=alert.reference),
            consequences=[] if blockers else _publication_consequences(alert),
            blocking=blockers,
            action=url_for("AlertComposerView.publish", reference=alert.reference),
            hidden={"version": alert.version_id},
            submit=_("Publish the alert"),
            back=url_for("AlertComposerView.edit", reference=alert.reference),
        )

    @expose("/retract/<reference>", methods=["GET", "POST"])
    @has_access
    def retract(self, reference: str):
        alert = alerts.get_alert(reference)
        if request.method == "GET" or not confirmation.confirmed():
            return self._confirm_retract(alert)
        try:
            alerts.retract(
                alert, g.user, request.form.get("reason", ""), expected_version=_version()
            )
            flash(_("Alert %(reference)s is retracted.", reference=reference), "success")
        except (alerts.AlertError, moderation.ModerationError) as error:
            _refused(error)
        return redirect(url_for("AlertsView.show", reference=reference))

    def _confirm_retract(self, alert):
        if alert.status != "published":
            return redirect(url_for("AlertsView.show", reference=alert.reference))
        live = [r for r in alert.reports if r.status == "published"]
        return confirmation.page(
            self,
            title=_("Retract alert %(reference)s?", reference=alert.reference),
            consequences=[
                _("The alert leaves the feed and the identifier check at once."),
                ngettext("%(num)d report is archived.", "%(num)d reports are archived.", len(live)),
                _("No message is sent: subscribers who received it are not told."),
            ],
            action=url_for("AlertComposerView.retract", reference=alert.reference),
            hidden={"version": request.form.get("version") or alert.version_id},
            reason_label=_("Reason (kept with the alert)"),
            reason=request.form.get("reason", ""),
            submit=_("Retract now"),
            back=url_for("AlertsView.show", reference=alert.reference),
        )

    # --- correcting and strengthening a published alert (issue 18.6) ---

    @expose("/correct/<reference>", methods=["GET", "POST"])
    @has_access
    def correct(self, reference: str):
        """Correct a published alert as a new version: form, confirmation, then the change."""
        alert = alerts.get_alert(reference)
        if alert.status != "published":
            return redirect(url_for("AlertsView.show", reference=reference))
        if request.method == "GET":
            return self._correction_form(alert, alerts.parts_from_alert(alert), keep_all=True)
        parts = alerts.correction_parts(alert, parts_from_form(request.form))

        def change():
            return alerts.correct(
                alert, g.user, parts, request.form.get("reason", ""), expected_version=_version()
            )

        try:
            if not confirmation.confirmed():
                alerts.refusal_of(change)
                return self._confirm_correction(alert)
            version = change()
        except (alerts.AlertError, moderation.ModerationError) as error:
            _refused(error)
            alert = alerts.get_alert(reference)
            return self._correction_form(alert, parts, errors=getattr(error, "errors", {}))
        flash(
            ngettext(
                "Alert %(reference)s corrected; %(num)d correction notice queued.",
                "Alert %(reference)s corrected; %(num)d correction notices queued.",
                version.notices,
                reference=reference,
            ),
            "success",
        )
        return redirect(url_for("AlertsView.show", reference=reference) + "#history")

    def _correction_form(self, alert, parts, *, keep_all=False, errors=None):
        kept = set(parts.kept_identifier_ids)
        current = [
            {
                "id": row.id,
                "kind": row.kind,
                "display": display(row.kind, alerts.alert_identifier_value(row)),
                "kept": keep_all or row.id in kept,
            }
            for row in alert.identifiers
        ]
        page = self.render_template(
            "moderation/correct.html",
            alert=alert,
            parts=parts,
            current_identifiers=current,
            errors=errors or {},
            reason=request.form.get("reason", ""),
            kinds=KINDS,
            **_vocabularies(),
        )
        return page, 422 if errors else 200

    def _confirm_correction(self, alert):
        counts = outbox.revision_counts(alert)
        return confirmation.page(
            self,
            title=_("Correct alert %(reference)s?", reference=alert.reference),
            consequences=[
                _revision_line(counts, "correction"),
                _("The check and the feed use the corrected identifiers and texts at once."),
                _("The version it replaces stays in the alert's history, with your reason."),
            ],
            action=url_for("AlertComposerView.correct", reference=alert.reference),
            hidden=confirmation.resent_form(*CORRECTION_FIELDS),
            submit=_("Correct the alert"),
            back=url_for("AlertComposerView.correct", reference=alert.reference),
        )

    @expose("/attach/<reference>", methods=["POST"])
    @has_access
    def attach(self, reference: str):
        """Strengthen a live alert with a later report about the same aggressor."""
        alert = alerts.get_alert(reference)
        report = alerts.attachable_report(request.form.get("report", ""))
        severity = _choice(request.form.get("severity"), SEVERITIES)
        notify = request.form.get("notify") == "1"
        back = url_for("AlertsView.show", reference=reference) + "#strengthen"
        if report is None:
            flash(_("No report has this reference."), "danger")
            return redirect(back)

        def change():
            return alerts.attach_report(
                alert,
                report,
                g.user,
                severity=severity,
                notify=notify,
                reason=request.form.get("reason", ""),
                expected_version=_version(),
            )

        try:
            if not confirmation.confirmed():
                alerts.refusal_of(change)
                return self._confirm_attach(alert, report, severity, notify)
            change()
        except (alerts.AlertError, moderation.ModerationError) as error:
            _refused(error)
            return redirect(back)
        flash(
            _(
                "Report %(report)s now backs alert %(reference)s.",
                report=report.reference,
                reference=reference,
            ),
            "success",
        )
        return redirect(url_for("AlertsView.show", reference=reference) + "#history")

    def _confirm_attach(self, alert, report, severity, notify):
        count = alert.reports_count + 1
        lines = [
            ngettext(
                "Report %(report)s is published with the alert, which will show it was "
                "reported %(num)d time.",
                "Report %(report)s is published with the alert, which will show it was "
                "reported %(num)d times.",
                count,
                report=report.reference,
            )
        ]
        if severity and severity != alert.severity:
            lines.append(_("Its severity becomes “%(severity)s”.", severity=SEVERITIES[severity]))
        if notify:
            lines.append(_revision_line(outbox.revision_counts(alert), "update"))
        else:
            lines.append(_("No message is sent: the feed and the alert page show the new count."))
        return confirmation.page(
            self,
            title=_("Attach report %(report)s?", report=report.reference),
            consequences=lines,
            action=url_for("AlertComposerView.attach", reference=alert.reference),
            hidden=confirmation.resent_form("report", "severity", "notify", "reason", "version"),
            submit=_("Attach the report"),
            back=url_for("AlertsView.show", reference=alert.reference),
        )

    @expose("/discard/<reference>", methods=["POST"])
    @has_access
    def discard(self, reference: str):
        alert = alerts.get_alert(reference)
        try:
            alerts.discard_draft(alert, g.user, expected_version=_version())
            flash(_("Draft %(reference)s discarded.", reference=reference), "success")
        except alerts.AlertError as error:
            _refused(error)
            return redirect(url_for("AlertComposerView.edit", reference=reference))
        return redirect(url_for("AlertsView.list"))


# --- alerts, for every role ------------------------------------------------------------------


class AlertsView(BaseView):
    """Alerts: published ones for every role (read, print); drafts and history for Moderators."""

    route_base = "/alerts"
    default_view = "list"
    access = {role: ALL for role in EVERY_ROLE}

    @expose("/list")
    @has_access
    def list(self):
        moderator = alerts.sees_every_alert(g.user)
        status = _choice(request.args.get("status"), alerts_statuses()) if moderator else None
        department = _choice(request.args.get("department"), DEPARTMENTS)
        page = alerts.staff_alerts(
            g.user,
            status=status,
            department=department,
            page=page_arg(),
            page_size=current_app.config.get("MODERATION_PAGE_SIZE", 50),
        )
        return self.render_template(
            "moderation/alerts.html",
            page=page,
            status=status or ("published" if not moderator else None),
            department=department,
            moderator=moderator,
            **_vocabularies(),
        )

    @expose("/show/<reference>")
    @has_access
    def show(self, reference: str):
        alert = alerts.visible_alert(reference, g.user)
        lang = _choice(request.args.get("lang"), ALERT_LANGUAGES) or "fr"
        moderator = alerts.sees_every_alert(g.user)
        return self.render_template(
            "moderation/alert.html",
            alert=alert,
            previews=alerts.previews(alert),
            lang=lang,
            moderator=moderator,
            history=alerts.version_history(alert, g.user) if moderator else [],
            change_labels=alerts.CHANGE_LABELS,
            version_kinds=alerts.VERSION_KINDS,
            **_vocabularies(),
        )

    @expose("/sheet/<reference>")
    @has_access
    def sheet(self, reference: str):
        lang = _choice(request.args.get("lang"), ALERT_LANGUAGES) or "fr"
        try:
            pdf, _count = published_sheet(lang, reference=reference)
        except SheetError:
            abort(404)
        return _pdf_response(pdf, f"{reference}-{lang}.pdf")

    @expose("/week-sheet")
    @has_access
    def week_sheet(self):
        department = _choice(request.args.get("department"), DEPARTMENTS)
        lang = _choice(request.args.get("lang"), ALERT_LANGUAGES) or "fr"
        try:
            pdf, _count = published_sheet(lang, department=department)
        except SheetError:
            flash(_("Choose a department for the week's sheet."), "warning")
            return redirect(url_for("AlertsView.list"))
        return _pdf_response(pdf, f"alerts-{department}-{lang}.pdf")


def alerts_statuses() -> dict:
    return {
        "draft": _("Draft"),
        "published": _("Published"),
        "retracted": _("Retracted"),
        "archived": _("Archived"),
    }


def _pdf_response(pdf: bytes, filename: str):
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# --- the back-office check -------------------------------------------------------------------


class IdentifierCheckView(BaseView):
    """The identifier check for Moderators: published alerts, and every report (any status)."""

    route_base = "/check"
    default_view = "check"
    access = {MODERATOR: ALL}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def check(self):
        result, error, kind = None, None, request.form.get("kind") or None
        if request.method == "POST":
            try:
                result = alerts.check_identifier(
                    request.form.get("value", ""),
                    _choice(kind, KINDS),
                    source="backoffice",
                    include_reports=True,
                )
                audit.record(
                    "identifier_checked",
                    object_type="Identifier",
                    details={
                        "kind": result.kind,
                        "alerts": len(result.matches),
                        "reports": len(result.reports),
                    },
                )
            except InvalidIdentifier as invalid:
                error = _check_error(invalid)
        return self.render_template(
            "moderation/check.html",
            result=result,
            error=error,
            kind=kind,
            kinds=KINDS,
            **_vocabularies(),
        ), (422 if error else 200)


class FieldCheckView(BaseView):
    """The identifier check for staff who meet workers: published alerts only (issue 18.8).

    Open to the holders of the ``check_identifiers`` capability other than moderators, who
    have the fuller check above. Counted like the API's checks (source "field").
    """

    route_base = "/field-check"
    default_view = "check"
    access = {role: ALL for role in CAPABILITIES["check_identifiers"] if role != MODERATOR}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def check(self):
        result, error, kind = None, None, request.form.get("kind") or None
        if request.method == "POST":
            try:
                result = alerts.field_check(
                    request.form.get("value", ""), _choice(kind, KINDS), g.user
                )
            except InvalidIdentifier as invalid:
                error = _check_error(invalid)
        return self.render_template(
            "moderation/field_check.html",
            result=result,
            error=error,
            kind=kind,
            kinds=KINDS,
            **_vocabularies(),
        ), (422 if error else 200)


def _check_error(invalid: InvalidIdentifier) -> str:
    messages = {
        "empty": _("Type the identifier to check."),
        "too_short": _("This identifier is too short."),
        "too_long": _("This identifier is too long."),
        "letters": _("A phone number cannot contain letters."),
        "unknown_kind": _("Unknown kind of identifier."),
    }
    return messages.get(invalid.reason) or _("This value is not a valid identifier of this kind.")


def register(appbuilder) -> None:
    appbuilder.add_view(
        ModerationView,
        "moderation_queue",
        label=_l("Moderation queue"),
        icon="fa-inbox",
        category="Moderation",
        category_label=_l("Moderation"),
        category_icon="fa-gavel",
    )
    appbuilder.add_view(
        AlertComposerView,
        "compose_alert",
        label=_l("Compose an alert"),
        icon="fa-bullhorn",
        category="Moderation",
    )
    appbuilder.add_view(
        IdentifierCheckView,
        "check_identifier",
        label=_l("Check an identifier"),
        icon="fa-search",
        category="Moderation",
    )
    appbuilder.add_view(
        AlertsView,
        "alerts",
        label=_l("Alerts"),
        icon="fa-exclamation-triangle",
        category="Alerts",
        category_label=_l("Alerts"),
        category_icon="fa-exclamation-triangle",
    )
    appbuilder.add_view(
        FieldCheckView,
        "field_check",
        label=_l("Check a number for a worker"),
        icon="fa-search",
        category="Alerts",
    )
