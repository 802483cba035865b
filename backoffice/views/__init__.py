"""Registers every view and its menu entry. Later areas add their own ``register`` call."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


def register_views(appbuilder) -> None:
    from backoffice.views.api_clients import ApiClientView
    from backoffice.views.audit import AuditCheckView, AuditEventView
    from backoffice.views.grants import GrantRequestView
    from backoffice.views.organisations import OrganisationView
    from backoffice.views.second_factor import SecondFactorView
    from backoffice.views.sessions import SessionsView

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
    appbuilder.add_view(
        GrantRequestView,
        "access_requests",
        label=_l("Access requests"),
        icon="fa-user-secret",
        category="Security",
    )
    appbuilder.add_view_no_menu(SecondFactorView)
    appbuilder.add_view_no_menu(SessionsView)
    from backoffice.views.invitations import register as register_invitations

    register_invitations(appbuilder)
    appbuilder.add_view(
        AuditEventView,
        "audit",
        label=_l("Audit trail"),
        icon="fa-history",
        category="Administration",
    )
    appbuilder.add_view(
        AuditCheckView,
        "audit_check",
        label=_l("Check the audit trail"),
        icon="fa-check-square-o",
        category="Administration",
    )
    _register_directory(appbuilder)
    from backoffice.views.outreach import register as register_outreach

    register_outreach(appbuilder)
    from backoffice.views.reports import register as register_reports

    register_reports(appbuilder)
    from backoffice.views.partner import register as register_partner

    register_partner(appbuilder)
    from backoffice.views.moderation import register as register_moderation

    register_moderation(appbuilder)
    from backoffice.views.cases import register as register_cases

    register_cases(appbuilder)
    from backoffice.views.subscribers import register as register_subscribers

    register_subscribers(appbuilder)
    from backoffice.views.deliveries import register as register_deliveries

    register_deliveries(appbuilder)
    from backoffice.views.unsubscribe import register as register_unsubscribe

    register_unsubscribe(appbuilder)
    from backoffice.views.sms_providers import register as register_sms_providers

    register_sms_providers(appbuilder)
    from backoffice.views.notifications import register as register_notifications

    register_notifications(appbuilder)
    from backoffice.views.operations import register as register_operations

    register_operations(appbuilder)
    from backoffice.views.api import register_api

    register_api()
    from backoffice.views.statistics import register as register_statistics

    register_statistics(appbuilder)


def _register_directory(appbuilder) -> None:
    from backoffice.views.directory import (
        DirectoryManageView,
        DirectoryReviewView,
        DirectoryView,
    )

    directory_view = appbuilder.add_view(
        DirectoryView,
        "directory",
        label=_l("Structures"),
        icon="fa-address-book",
        category="Directory",
        category_label=_l("Directory"),
        category_icon="fa-map-marker",
    )
    appbuilder.add_link(
        "directory_map",
        href="/directory/map",
        label=_l("Map of structures"),
        icon="fa-map",
        category="Directory",
        baseview=directory_view,  # the menu entry shows for whoever may read the directory
    )
    appbuilder.add_view(
        DirectoryManageView,
        "directory_import",
        label=_l("Import structures (CSV)"),
        icon="fa-upload",
        category="Directory",
    )
    from backoffice.views.information import InformationView

    appbuilder.add_view(
        InformationView,
        "information_sheets",
        label=_l("Information sheets"),
        icon="fa-book",
        category="Directory",
    )
    appbuilder.add_view(
        DirectoryReviewView,
        "directory_changes",
        label=_l("Changes to review"),
        icon="fa-check-square-o",
        category="Directory",
    )
