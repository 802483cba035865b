"""Partner associations: what every new one starts with."""

from __future__ import annotations

from backoffice.models.organisation import Organisation
from backoffice.services import audit, outreach


def created(organisation: Organisation) -> None:
    """A partner association was just added (and flushed): it starts with the programme's
    outreach message texts, which its Outreach leads then adapt. Audited; flushes only."""
    audit.record("organisation_created", organisation)
    outreach.seed_templates(organisation.id)
