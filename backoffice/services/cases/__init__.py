"""Victim follow-up: every rule about cases, notes, referrals, transfers, actions and erasure.

Views and jobs call these functions (``from backoffice.services import cases``); none of them
reads the Flask request, commits, or names a role. The package's modules:

* ``rules`` — the refusal (``CaseRuleError``), input checks, the case's history, guards, and
  the staff a case can go to (the ``hold_cases`` capability);
* ``contact`` — the person's contact details (sealed with the case's key) and the facts;
* ``deadlines`` — urgent deadlines medicine sets (48-hour post-exposure treatment);
* ``opening`` — a case opened in the field, or routed from a report by a moderator;
* ``operations`` — corrections, assignment, needs, flags, status, closure, first contact;
* ``notes``, ``referrals``, ``transfers`` (with consents to sharing), ``actions`` (with the
  daily digest), ``erasure``;
* ``queries`` — the list, search, export, history and the case page.

Scoping: a row is found by ``security.scoped_get`` / ``scoped`` for the acting user, and a
case's own rows with the case as the actor, so a guessed id of another association's row is
``security.OutOfScope`` (a 404), exactly like a row that does not exist. Times are stored as
naive UTC and converted with ``services.timezones``.
"""

from backoffice.models.case import ERASURE_REASONS, Case
from backoffice.services.cases.actions import (
    DueAction,
    add_action,
    complete_action,
    digest_days_ahead,
    digest_message,
    my_due_actions,
    read_actions,
    send_action_digests,
    split_due,
)
from backoffice.services.cases.complaints import (
    ComplaintInput,
    change_complaint_dates,
    complaints_of,
    record_complaint,
)
from backoffice.services.cases.contact import (
    CaseFacts,
    Contact,
    display_phone,
    normalise_email,
    normalise_phone,
    read_contact,
)
from backoffice.services.cases.deadlines import (
    PEP_VIOLENCE_TYPES,
    describe_span,
    describe_time_left,
    flag_deadline,
    pep_deadline_of,
    time_left,
)
from backoffice.services.cases.dossiers import (
    DossierRequest,
    build_dossier,
    dossier_consent_active,
    dossiers_of,
    legal_consents_of,
    published_alert_of,
    recipients,
    record_legal_consent,
    withdraw_legal_consent,
)
from backoffice.services.cases.erasure import erase_case
from backoffice.services.cases.evidence import add_evidence, evidence_of, read_evidence
from backoffice.services.cases.liaison import liaison_sheet
from backoffice.services.cases.notes import (
    NoteView,
    add_note,
    can_edit_note,
    edit_note,
    note_edit_deadline,
    read_note,
    read_notes,
)
from backoffice.services.cases.opening import (
    open_direct,
    routable_reports,
    route_report,
    routing_organisations,
    source_report_summary,
)
from backoffice.services.cases.operations import (
    STATUS_TRANSITIONS,
    add_flag,
    assign,
    change_status,
    close_case,
    first_contact_delay,
    record_first_contact,
    reopen_case,
    resolve_flag,
    set_needs,
    update_case,
)
from backoffice.services.cases.queries import (
    CaseFile,
    CaseFilters,
    CaseRow,
    case_labels,
    case_select,
    export_csv,
    history_of,
    list_cases,
    read_case,
    reveal_names,
)
from backoffice.services.cases.referrals import (
    NEED_SERVICES,
    REFERRAL_TRANSITIONS,
    add_referral,
    change_referral,
    read_referrals,
    structures_for,
)
from backoffice.services.cases.rules import (
    CaseRuleError,
    case_holders,
    note_edit_minutes,
    staff_names,
)
from backoffice.services.cases.transfers import (
    active_consent,
    record_consent,
    transfer_case,
    transfers_of,
    withdraw_consent,
)

__all__ = [
    "ERASURE_REASONS",
    "NEED_SERVICES",
    "PEP_VIOLENCE_TYPES",
    "REFERRAL_TRANSITIONS",
    "STATUS_TRANSITIONS",
    "Case",
    "CaseFacts",
    "CaseFile",
    "CaseFilters",
    "CaseRow",
    "CaseRuleError",
    "Contact",
    "DueAction",
    "NoteView",
    "active_consent",
    "add_action",
    "add_flag",
    "add_note",
    "add_referral",
    "assign",
    "can_edit_note",
    "case_holders",
    "case_labels",
    "case_select",
    "change_referral",
    "change_status",
    "close_case",
    "complete_action",
    "describe_span",
    "describe_time_left",
    "digest_days_ahead",
    "digest_message",
    "display_phone",
    "edit_note",
    "erase_case",
    "export_csv",
    "first_contact_delay",
    "flag_deadline",
    "history_of",
    "list_cases",
    "my_due_actions",
    "normalise_email",
    "normalise_phone",
    "note_edit_deadline",
    "note_edit_minutes",
    "open_direct",
    "pep_deadline_of",
    "read_actions",
    "read_case",
    "read_contact",
    "read_note",
    "read_notes",
    "read_referrals",
    "record_consent",
    "record_first_contact",
    "reopen_case",
    "resolve_flag",
    "reveal_names",
    "routable_reports",
    "route_report",
    "routing_organisations",
    "send_action_digests",
    "set_needs",
    "source_report_summary",
    "split_due",
    "staff_names",
    "structures_for",
    "time_left",
    "transfer_case",
    "transfers_of",
    "update_case",
    "withdraw_consent",
]
__all__ += ["add_evidence", "evidence_of", "read_evidence"]
__all__ += ["DossierRequest", "build_dossier", "dossiers_of", "legal_consents_of"]
__all__ += ["dossier_consent_active"]
__all__ += ["ComplaintInput", "change_complaint_dates", "complaints_of", "record_complaint"]
__all__ += ["liaison_sheet"]
__all__ += ["published_alert_of", "recipients", "record_legal_consent", "withdraw_legal_consent"]
