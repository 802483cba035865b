"""The roles screen in words: "Dossiers : voir la liste, ouvrir, modifier", not "can show on
CaseView".

A role's permissions are grouped by area (the menu category of each screen; "My account"
for one's own pages; "What the role may do" for ``security.CAPABILITIES``). A screen is
named by its menu label (or ``SCREEN_LABELS`` for screens without one), a permission by
``PERMISSION_LABELS``, a capability by ``security.CAPABILITY_DESCRIPTIONS``. Menu entries
("menu_access") follow from the screens and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from backoffice import security

PERMISSION_LABELS = {
    "can_list": _l("see the list"),
    "can_show": _l("open"),
    "can_add": _l("add"),
    "can_edit": _l("edit"),
    "can_delete": _l("delete"),
    "can_this_form_get": _l("use"),
    "can_this_form_post": _l("use"),
    "can_userinfo": _l("own profile"),
    "userinfoedit": _l("own profile"),
    "resetmypassword": _l("own password"),
    "resetpasswords": _l("passwords"),
    "send_link": _l("send sign-in links"),
    "revoke_link": _l("withdraw sign-in links"),
    "unlock": _l("reset sign-in delays"),
    "reset_second_factor": _l("ask for a second-factor reset"),
    "can_answer": _l("answer the questions"),
    "can_attach": _l("attach a report to an alert"),
    "can_build": _l("build"),
    "can_check": _l("check"),
    "can_correct": _l("correct a published alert"),
    "can_counts": _l("see the counts"),
    "can_dashboard": _l("see the dashboard"),
    "can_decide": _l("decide"),
    "can_discard": _l("discard"),
    "can_download": _l("download"),
    "can_erase": _l("erase"),
    "can_export": _l("export"),
    "can_form": _l("use the form"),
    "can_import": _l("import"),
    "can_index": _l("open"),
    "can_new": _l("create"),
    "can_notifications": _l("use"),
    "can_progress": _l("follow the progress"),
    "can_publish": _l("publish"),
    "can_queue": _l("see the queue"),
    "can_read": _l("read"),
    "can_redaction": _l("mask passages"),
    "can_report": _l("read reports"),
    "can_retract": _l("withdraw"),
    "can_retry": _l("retry"),
    "can_review": _l("review"),
    "can_rotate": _l("replace keys"),
    "can_route": _l("route"),
    "can_sessions": _l("use"),
    "can_settings": _l("use"),
    "can_sheet": _l("print the sheet"),
    "can_transition": _l("change the state"),
    "can_verify": _l("verify"),
    "can_week_sheet": _l("print the week's sheet"),
    "can_write": _l("write"),
}
# Screens with no menu entry of their own (or whose menu label is FAB's).
SCREEN_LABELS = {
    "UserDBModelView": _l("Staff accounts"),
    "RoleModelView": _l("Roles"),
    "ResetPasswordView": _l("Password form"),
    "UserInfoEditView": _l("My profile"),
    "ResetMyPasswordView": _l("My password"),
    "SecondFactorView": _l("My second factor"),
    "SessionsView": _l("My sessions"),
    "ReportView": _l("Reports"),
    "ReportErasureView": _l("Erasing a report on request"),
}
# One's own profile, password and second factor: FAB keeps the first two on the user view.
SELF_SERVICE = frozenset({"can_userinfo", "userinfoedit", "resetmypassword"})
OWN_ACCOUNT = {"UserInfoEditView", "ResetMyPasswordView", "SecondFactorView", "SessionsView"}
MY_ACCOUNT = _l("My account")
OTHER_SCREENS = _l("Other screens")
CAPABILITIES_AREA = _l("What the role may do")


@dataclass(frozen=True)
class Line:
    label: str
    permissions: str  # "see the list, open, edit" ("" for a capability)


@dataclass(frozen=True)
class Area:
    label: str
    lines: tuple[Line, ...]


def permission_label(name: str) -> str:
    if name in PERMISSION_LABELS:
        return str(PERMISSION_LABELS[name])
    return name.removeprefix("can_").replace("_", " ")


def _screens(appbuilder) -> dict[str, tuple[str, str]]:
    """view name -> (area label, screen label), from the menu."""
    found: dict[str, tuple[str, str]] = {}
    for item in appbuilder.menu.get_list():
        children = [c for c in item.childs if c.name != "-"] or [item]
        for child in children:
            view = child.baseview
            if view is None or view.class_permission_name in found:
                continue
            found[view.class_permission_name] = (str(item.label), str(child.label))
    return found


def screen_of(appbuilder, view_name: str) -> tuple[str, str]:
    menu = _screens(appbuilder)
    area = str(MY_ACCOUNT) if view_name in OWN_ACCOUNT else None
    if view_name in menu:
        area = area or menu[view_name][0]
        label = menu[view_name][1]
    else:
        label = view_name.removesuffix("View")
    label = str(SCREEN_LABELS.get(view_name, label))
    return area or str(OTHER_SCREENS), label


def describe(appbuilder, permission_views) -> list[Area]:
    """A role's permissions (``role.permissions``) as areas of lines, in the reader's
    language."""
    by_view: dict[str, set[str]] = {}
    capabilities: list[str] = []
    for permission_view in permission_views or ():
        permission = permission_view.permission.name
        view = permission_view.view_menu.name
        if view == security.CAPABILITY_MENU:
            capabilities.append(permission)
        elif permission != "menu_access":
            by_view.setdefault(view, set()).add(permission)
    areas: dict[str, dict[str, set[str]]] = {}
    for view, permissions in by_view.items():
        area, label = screen_of(appbuilder, view)
        if view == "UserDBModelView" and permissions <= SELF_SERVICE:
            area, label = str(MY_ACCOUNT), str(SCREEN_LABELS["UserInfoEditView"])
        words = areas.setdefault(area, {}).setdefault(label, set())
        words.update(permission_label(p) for p in permissions)
    result = [
        Area(
            area,
            tuple(Line(label, ", ".join(sorted(words))) for label, words in sorted(lines.items())),
        )
        for area, lines in sorted(areas.items())
    ]
    if capabilities:
        lines = [
            Line(str(security.CAPABILITY_DESCRIPTIONS.get(name, name)), "")
            for name in sorted(capabilities)
        ]
        result.append(Area(str(CAPABILITIES_AREA), tuple(lines)))
    return result


def summary(appbuilder, permission_views) -> str:
    """The areas a role reaches, for the roles list: "Annuaire, Dossiers, Mon compte"."""
    return ", ".join(area.label for area in describe(appbuilder, permission_views))
