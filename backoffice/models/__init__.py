"""The aggregates, one module each. Importing this package registers every table."""

from backoffice.models.api_client import ApiClient
from backoffice.models.audit import AuditEvent
from backoffice.models.jobs import JobLock
from backoffice.models.keys import DataKey
from backoffice.models.organisation import Organisation
from backoffice.models.user import StaffUser

__all__ = ["ApiClient", "AuditEvent", "DataKey", "JobLock", "Organisation", "StaffUser"]
