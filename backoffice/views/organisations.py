"""Partner associations, managed by Admins."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SelectMultipleField

from backoffice.models.organisation import ORGANISATION_KINDS, Organisation
from backoffice.security import ADMIN, ALL, COORDINATOR, READ
from backoffice.services import audit, organisations
from backoffice.services.vocabulary import DEPARTMENTS
from backoffice.views.base import BackofficeModelView, Interface


class OrganisationView(BackofficeModelView):
    route_base = "/organisations"
    datamodel = Interface(Organisation)
    access = {ADMIN: ALL, COORDINATOR: READ}
    list_title = _l("Partner associations")
    list_empty = _l("No partner association yet.")
    show_title = _l("Partner association")
    add_title = _l("Add a partner association")
    edit_title = _l("Edit a partner association")
    list_columns = ["name", "kind", "departments_label", "active"]
    show_columns = [
        "name",
        "kind",
        "departments_label",
        "contact_email",
        "contact_phone",
        "alert_email",
        "referral_code",
        "active",
    ]
    add_columns = edit_columns = [
        "name",
        "kind",
        "departments",
        "contact_email",
        "contact_phone",
        "alert_email",
        "referral_code",
        "active",
    ]
    description_columns = {
        "referral_code": _l(
            "Given to the workers you co-opt: a registration on the site or the app with this "
            "code joins your association, validated."
        ),
    }
    search_columns = ["name", "kind", "active"]
    label_columns = {
        "name": _l("Name"),
        "kind": _l("Kind"),
        "departments": _l("Departments served"),
        "departments_label": _l("Departments served"),
        "contact_email": _l("Contact email"),
        "contact_phone": _l("Contact phone"),
        "alert_email": _l("Alert email"),
        "referral_code": _l("Referral code"),
        "active": _l("Active"),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(_l("Kind"), choices=list(ORGANISATION_KINDS.items())),
        "departments": SelectMultipleField(
            _l("Departments served"), choices=[(d, d) for d in DEPARTMENTS]
        ),
    }
    base_order = ("name", "asc")

    def pre_add(self, item) -> None:
        _blank_referral_is_none(item)

    def pre_update(self, item) -> None:
        _blank_referral_is_none(item)

    def post_add(self, item) -> None:
        organisations.created(item)

    def post_update(self, item) -> None:
        audit.record("organisation_updated", item)

    def post_delete(self, item) -> None:
        audit.record("organisation_deleted", object_type="Organisation", object_id=item.id)


def _blank_referral_is_none(item) -> None:
    # The column is unique: an empty code must be NULL, not "", or a second one would clash.
    item.referral_code = (item.referral_code or "").strip() or None
