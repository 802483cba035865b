"""Flask-AppBuilder's stock screens, made to speak our French.

FAB ships its own French catalogue, with mistakes ("S'enregistrer" for "Sign In", "Nombre de
record"…). Flask-Babel merges FAB's catalogue first and ours after it, so an entry of ours for
one of FAB's msgids wins. ``N_`` only marks FAB's msgids for extraction into our catalogue
(``make messages``); the French is in ``tools/glossary_fr.d/ui.json``.

It also makes the language switch return to the page it was used on (FAB's returns to the
last list page or the home page).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, redirect, request


def N_(message: str) -> str:  # Babel marks N_("...") for extraction; it translates nothing
    return message


FAB_MESSAGES = (
    N_("Sign In"),
    N_("Record Count"),
    N_("Add Filter"),
    N_("Show record"),
    N_("Edit record"),
    N_("Delete record"),
    N_("Reset my password"),
    N_("Select Value"),
    N_("User confirmation needed"),
    N_("You sure you want to delete this item?"),
    N_("Username valid for authentication on DB or LDAP, unused for OID auth"),
    N_("The user's email, this will also be used for OID auth"),
    N_("It's not a good policy to remove a user, just make it inactive"),
    N_("The user role on the application, this will associate with a list of permissions"),
    N_("Write the user first name or names"),
    N_("Write the user last name"),
    N_("Please use a good password policy, this application does not check this for you"),
    N_("Not possible to register you at the moment, try again later"),
    N_("Click on your OpenID provider below"),
    N_("Yes"),
    N_("No"),
    N_("Actions"),
    N_("Search"),
    N_("Refresh"),
    N_("Back"),
    N_("Save"),
    N_("No records found"),
)


def _same_site_path(target: str | None) -> str | None:
    """``target`` if it is a path of this site (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


def install(app: Flask) -> None:
    """Wraps FAB's language switch: with ``?next=/same/page`` it returns there."""
    _install_select_labels()
    endpoint = "LocaleView.index"
    original = app.view_functions.get(endpoint)
    if original is None:
        return

    def switch_language(**kwargs):
        answer = original(**kwargs)
        target = _same_site_path(request.args.get("next"))
        if target and getattr(answer, "status_code", 200) in (301, 302, 303):
            return redirect(target)
        return answer

    app.view_functions[endpoint] = switch_language


def _readable_choices(original):
    """FAB's relation selects: an empty choice reads "—" (WTForms 3.3 would show its value,
    "__None"), and roles read as their labels."""
    from backoffice.views.formatting import stock_value

    def iter_choices(self):
        for value, label, *rest in original(self):
            if value == "__None" and not label:
                label = "—"
            yield (value, stock_value(label), *rest)

    return iter_choices


def _install_select_labels() -> None:
    from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField

    for field in (QuerySelectField, QuerySelectMultipleField):
        if "iter_choices" in vars(field) and not getattr(field.iter_choices, "_jasmine", False):
            field.iter_choices = _readable_choices(field.iter_choices)
            field.iter_choices._jasmine = True
