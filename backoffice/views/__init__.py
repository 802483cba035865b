"""Registers every view and its menu entry. Later areas add their own ``register`` call."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_views(appbuilder) -> None:
    from backoffice.views.api_clients import ApiClientView
    from backoffice.views.audit import AuditEventView
    from backoffice.views.organisations import OrganisationView
    from backoffice.views.second_factor import SecondFactorView

    appbuilder.add_view(
        OrganisationView,
        "organisations",
        label=_l("Partner associations"),
        icon="fa-sitemap",
        category="Administration",
        category_label=_l("Administration"),
        category_icon="fa-cogs",
    )
    appbuilder.add_view(
        ApiClientView,
        "api_clients",
        label=_l("API clients"),
        icon="fa-key",
        category="Administration",
    )
    appbuilder.add_view_no_menu(SecondFactorView)
    appbuilder.add_view(
        AuditEventView,
        "audit",
        label=_l("Audit trail"),
        icon="fa-history",
        category="Administration",
    )
