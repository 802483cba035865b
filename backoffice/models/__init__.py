"""The aggregates, one module each. Importing this package registers every table."""

from backoffice.models.alert import (
    Alert,
    AlertDepartment,
    AlertIdentifier,
    AlertReport,
    AlertTranslation,
    IdentifierCheck,
)
from backoffice.models.api_client import ApiClient
from backoffice.models.audit import AuditChainHead, AuditEvent
from backoffice.models.case import (
    Case,
    CaseConsent,
    CaseEvent,
    CaseEvidence,
    CaseFlag,
    CaseNeed,
    CaseNote,
    CaseTransfer,
    Complaint,
    Dossier,
    FollowUpAction,
    LegalConsent,
    Referral,
)
from backoffice.models.dispatch import AlertDispatch, Delivery
from backoffice.models.grant import GrantRequest
from backoffice.models.information import InfoSheet, InfoSheetVersion
from backoffice.models.jobs import JobLock
from backoffice.models.keys import DataKey
from backoffice.models.organisation import Organisation
from backoffice.models.outreach import (
    ContactOutcome,
    MessageTemplate,
    OutreachContact,
    OutreachLead,
    OutreachSession,
    Platform,
)
from backoffice.models.report import (
    IdempotencyRecord,
    ReferenceCounter,
    Report,
    ReportEvent,
    ReportIdentifier,
)
from backoffice.models.sign_in import LoginThrottle, RecoveryCode, StaffInvitation, StaffSession
from backoffice.models.staff_notice import StaffNotice, StaffNoticeSettings
from backoffice.models.statistics import FunderReport, StatisticsDaily, StatisticsRefresh
from backoffice.models.structure import (
    Structure,
    StructureChange,
    StructureLanguage,
    StructureService,
)
from backoffice.models.subscriber import Subscriber, SubscriberDepartment
from backoffice.models.user import StaffUser
from backoffice.models.worker_access import (
    PendingRegistration,
    ReportAnswer,
    ReportFollowUp,
    ReportQuestion,
    WorkerToken,
)

__all__ = [
    "ApiClient",
    "AuditChainHead",
    "AuditEvent",
    "DataKey",
    "JobLock",
    "Organisation",
    "StaffUser",
]
__all__ += ["Structure", "StructureChange", "StructureLanguage", "StructureService"]
__all__ += ["InfoSheet", "InfoSheetVersion"]
__all__ += ["IdempotencyRecord", "ReferenceCounter", "Report", "ReportIdentifier"]
__all__ += ["Alert", "AlertDepartment", "AlertIdentifier", "AlertReport", "AlertTranslation"]
__all__ += ["IdentifierCheck", "ReportEvent"]
__all__ += ["ContactOutcome", "MessageTemplate", "OutreachContact", "OutreachLead"]
__all__ += ["OutreachSession", "Platform"]
__all__ += ["Case", "CaseConsent", "CaseEvent", "CaseFlag", "CaseNeed", "CaseNote"]
__all__ += ["CaseTransfer", "FollowUpAction", "Referral"]
__all__ += ["CaseEvidence", "Complaint", "Dossier", "LegalConsent"]
__all__ += ["AlertDispatch", "Delivery", "Subscriber", "SubscriberDepartment"]
__all__ += ["FunderReport", "StatisticsDaily", "StatisticsRefresh"]
__all__ += ["GrantRequest"]
__all__ += ["PendingRegistration", "ReportAnswer", "ReportFollowUp", "ReportQuestion"]
__all__ += ["WorkerToken"]
__all__ += ["StaffNotice", "StaffNoticeSettings"]
__all__ += ["LoginThrottle", "RecoveryCode", "StaffInvitation", "StaffSession"]
