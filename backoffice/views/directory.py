"""The directory of structures: list, show, map and export for every staff role; add, edit
and CSV import for the roles that keep it up to date (Admin, Moderator, SocialWorker).

The directory holds public-class data (organisations and public services), shared by every
partner association: there is no organisation filter here, by design. Views are thin: the
filters, checks, import and export live in ``backoffice.services.directory``.
"""

from __future__ import annotations

from flask import Response, abort, current_app, flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from backoffice import transactions
from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.structure import (
    SOURCE_KINDS,
    STRUCTURE_CATEGORIES,
    STRUCTURE_LANGUAGES,
    STRUCTURE_SERVICES,
    Structure,
    StructureChange,
    verification_state,
)
from backoffice.security import (
    ADMIN,
    ALL,
    COORDINATOR,
    MODERATOR,
    ROLES,
    SOCIAL_WORKER,
)
from backoffice.services import audit, directory, directory_provenance
from backoffice.services.directory_geography import (
    DEPARTMENT_NAMES,
    OVERSEAS_AREAS,
    department_label,
)
from backoffice.views.arguments import form_int, int_arg, page_arg
from reports_pdf.directory_sheet import build_directory_sheet

READER_PERMISSIONS = ("can_list", "can_show", "can_export")
# One colour per category, used by the map markers and the legend beside them.
CATEGORY_COLOURS = {
    "community": "#c2185b",
    "allied": "#7b1fa2",
    "cegidd": "#1976d2",
    "hospital": "#d32f2f",
    "lawyer": "#5d4037",
    "shelter": "#388e3c",
    "police": "#303f9f",
    "other": "#616161",
}
SIDE_LIST_SIZE = 100
PRINT_LIMIT = 300
MAINLAND_BOUNDS = (41.3, 51.1, -5.2, 9.6)  # south, north, west, east (Corsica included)


def _can_edit() -> bool:
    return current_app.appbuilder.sm.has_access("can_edit", "DirectoryManageView")


def _filters() -> directory.DirectoryFilters:
    return directory.DirectoryFilters.from_args(request.args, allow_inactive=_can_edit())


def _choices() -> dict:
    """The filter and form choices, labelled in the user's language."""
    return {
        "departments": [(code, department_label(code)) for code in DEPARTMENT_NAMES],
        "categories": [(code, str(label)) for code, label in STRUCTURE_CATEGORIES.items()],
        "services": [(code, str(label)) for code, label in STRUCTURE_SERVICES.items()],
        "languages": [(code, str(label)) for code, label in STRUCTURE_LANGUAGES.items()],
        "colours": CATEGORY_COLOURS,
        "labels": {
            "category": directory.category_label,
            "service": directory.service_label,
            "language": directory.language_label,
            "department": department_label,
        },
    }


class DirectoryView(BaseView):
    """Reading the directory: every staff role."""

    route_base = "/directory"
    default_view = "list"
    access = {
        role: READER_PERMISSIONS
        for role in ROLES  # every staff role
    }

    @expose("/")
    @has_access
    def list(self):
        filters = _filters()
        page = directory.page_of(filters, page_arg())
        return self.render_template(
            "directory/list.html",
            page=page,
            filters=filters,
            can_edit=_can_edit(),
            **_choices(),
        )

    @expose("/<int:structure_id>")
    @has_access
    def show(self, structure_id: int):
        structure = directory.get_structure(structure_id)
        if structure is None:
            abort(404)
        return self.render_template(
            "directory/show.html",
            structure=structure,
            can_edit=_can_edit(),
            pending_changes=directory_provenance.pending_count_for(structure.id),
            may_set_owner=directory_provenance.may_set_owner(),
            owners=directory_provenance.owner_choices(),
            source_kinds={code: str(label) for code, label in SOURCE_KINDS.items()},
            **_choices(),
        )

    @expose("/map")
    @has_access
    @permission_name("list")
    def map(self):
        # Lets _security_headers add the tiles host to img-src on this page only.
        g.allow_map_tiles = True
        filters = _filters()
        page = directory.page_of(filters, 1, size=SIDE_LIST_SIZE)
        tiles_url = current_app.config.get("MAP_TILES_URL") or ""
        return self.render_template(
            "directory/map.html",
            page=page,
            filters=filters,
            can_edit=_can_edit(),
            areas=_map_areas(),
            focus=int_arg("focus") or "",
            tiles_url=tiles_url if directory.tiles_csp_source(tiles_url) else "",
            tiles_attribution=current_app.config.get("MAP_TILES_ATTRIBUTION") or "",
            markers_url=url_for("DirectoryView.markers", **filters.as_args()),
            **_choices(),
        )

    @expose("/map/markers.json")
    @has_access
    @permission_name("list")
    def markers(self):
        points, without = directory.map_points(_filters())
        # Labels and URLs made once, not per marker: the feed may hold thousands of points.
        services = {code: str(label) for code, label in STRUCTURE_SERVICES.items()}
        categories = {code: str(label) for code, label in STRUCTURE_CATEGORIES.items()}
        show_url = url_for("DirectoryView.show", structure_id=0)[:-1]
        return jsonify(
            {
                "structures": [_marker(point, services, categories, show_url) for point in points],
                "without_coordinates": without,
            }
        )

    @expose("/print.pdf")
    @has_access
    @permission_name("export")
    def print_sheet(self):
        filters = _filters()
        rows = directory.plain_rows(directory.structures_query(filters).limit(PRINT_LIMIT + 1))
        audit.record(
            "directory_printed",
            object_type="Structure",
            details={"count": min(len(rows), PRINT_LIMIT), **filters.audit_details()},
        )
        pdf = build_directory_sheet(_print_context(rows[:PRINT_LIMIT], len(rows) > PRINT_LIMIT))
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": 'inline; filename="structures.pdf"'},
        )

    @expose("/export.csv")
    @has_access
    @permission_name("export")
    def export(self):
        # Not streamed: the export's audit event commits with the request, before the answer.
        text, _count = directory.export_csv(_filters())
        stamp = utcnow().strftime("%Y%m%d-%H%M")
        return Response(
            text.encode("utf-8"),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="structures-{stamp}.csv"',
            },
        )


def _verification_label(state: str, verified_at) -> str:
    if state == "verified":
        return _("Verified on %(date)s", date=verified_at.strftime("%d/%m/%Y"))
    if state == "due":
        return _("Verification due (last: %(date)s)", date=verified_at.strftime("%d/%m/%Y"))
    return _("Unverified")


def _print_context(rows: list[dict], truncated: bool) -> dict:
    """Primitive values for the printable directory, in the reader's language."""
    entries = []
    for row in rows:
        state = verification_state(row["verified_at"])
        entries.append(
            {
                "name": row["name"],
                "verification": state,
                "verification_label": _verification_label(state, row["verified_at"]),
                "category": directory.category_label(row["category"]),
                "place": f"{row['postcode'] or ''} {row['city']} ({row['department']})".strip(),
                "trained": row["trained_on_sex_work"],
                "address": row["address"] or "",
                "phone": row["phone"] or "",
                "hours": " · ".join(
                    line.strip() for line in (row["opening_hours"] or "").splitlines() if line
                ),
                "services": ", ".join(directory.service_label(c) for c in row["services"]),
                "languages": ", ".join(directory.language_label(c) for c in row["languages"]),
            }
        )
    return {
        "language": str(get_locale() or "fr"),
        "heading": _("Directory of structures"),
        "subtitle": _("Printed on %(date)s", date=utcnow().strftime("%d/%m/%Y")),
        "trained_label": _("Trained on sex work"),
        "entries": entries,
        "truncated": _(
            "Only the first %(count)d structures are printed: narrow the filters.",
            count=PRINT_LIMIT,
        )
        if truncated
        else "",
    }


def _map_areas() -> list[tuple[str, str]]:
    """Buttons that move the map to mainland France or an overseas department."""
    south, north, west, east = MAINLAND_BOUNDS
    areas = [(_("Metropolitan France"), f"{south},{west},{north},{east}")]
    for code, boxes in OVERSEAS_AREAS.items():
        south, north, west, east = boxes[0]
        areas.append((DEPARTMENT_NAMES[code], f"{south},{west},{north},{east}"))
    return areas


def _marker(point: dict, services: dict, categories: dict, show_url: str) -> dict:
    return {
        "id": point["id"],
        "name": point["name"],
        "category": point["category"],
        "category_label": categories.get(point["category"], point["category"]),
        "colour": CATEGORY_COLOURS.get(point["category"], CATEGORY_COLOURS["other"]),
        "city": point["city"],
        "department": point["department"],
        "lat": point["latitude"],
        "lon": point["longitude"],
        "approximate": point["location_approximate"],
        "trained": point["trained_on_sex_work"],
        "verification": verification_state(point["verified_at"]),
        "phone": point["phone"],
        "services": [services.get(code, code) for code in point["services"]],
        "url": f"{show_url}{point['id']}",
    }


class DirectoryManageView(BaseView):
    """Keeping the directory up to date: Admins, Moderators and Social workers."""

    route_base = "/directory/manage"
    default_view = "import_file"
    access = {ADMIN: ALL, MODERATOR: ALL, SOCIAL_WORKER: ALL}

    @expose("/add", methods=["GET", "POST"])
    @has_access
    def add(self):
        values, errors, warnings = {"active": "yes"}, {}, []
        if request.method == "POST":
            values = _submitted_values()
            checked = directory.validate_row(values)
            errors, warnings = checked.errors, checked.warnings
            if checked.fields is not None:
                structure = directory.create_structure(checked.fields)
                flash(_("Structure added to the directory."), "success")
                for warning in warnings:
                    flash(warning, "warning")
                return redirect(url_for("DirectoryView.show", structure_id=structure.id))
        return self._form(None, values, errors)

    @expose("/<int:structure_id>/edit", methods=["GET", "POST"])
    @has_access
    def edit(self, structure_id: int):
        structure = directory.get_structure(structure_id)
        if structure is None:
            abort(404)
        values, errors = directory.structure_as_row(structure), {}
        values["opening_hours"] = structure.opening_hours or ""  # one line per range
        if request.method == "POST":
            values = _submitted_values()
            if not directory.is_current(structure, request.form.get("version")):
                flash(
                    _(
                        "Someone else changed this structure while you were editing it. "
                        "Here is the current version: make your changes again."
                    ),
                    "danger",
                )
                return redirect(url_for("DirectoryManageView.edit", structure_id=structure.id))
            checked = directory.validate_row(values)
            errors = checked.errors
            if checked.fields is not None:
                changed, held = directory.update_structure(structure, checked.fields)
                if changed or not held:
                    flash(_("Structure updated.") if changed else _("Nothing changed."), "success")
                if held:
                    flash(
                        _(
                            "This entry is verified: your change to its contact details waits "
                            "for the review of its organisation or a coordinator."
                        ),
                        "info",
                    )
                for warning in checked.warnings:
                    flash(warning, "warning")
                return redirect(url_for("DirectoryView.show", structure_id=structure.id))
        return self._form(structure, values, errors)

    @expose("/<int:structure_id>/verify", methods=["POST"])
    @has_access
    def verify(self, structure_id: int):
        structure = directory.get_structure(structure_id)
        if structure is None:
            abort(404)
        try:
            directory_provenance.mark_verified(structure, request.form.get("verification_note"))
            flash(_("Entry marked as verified."), "success")
        except directory_provenance.ReviewError as error:
            flash(str(error), "danger")
        return redirect(url_for("DirectoryView.show", structure_id=structure.id))

    def _form(self, structure: Structure | None, values: dict, errors: dict):
        return self.render_template(
            "directory/form.html",
            structure=structure,
            values=values,
            errors=errors,
            version=directory.version_of(structure) if structure else "",
            selected_services=set(filter(None, (values.get("services") or "").split("|"))),
            selected_languages=set(filter(None, (values.get("languages") or "").split("|"))),
            **_choices(),
        )

    @expose("/import", methods=["GET", "POST"])
    @has_access
    @permission_name("import")
    def import_file(self):
        report = None
        if request.method == "POST":
            report = self._run_import()
        return self.render_template(
            "directory/import.html",
            report=report,
            columns=directory.CSV_COLUMNS,
            required=directory.REQUIRED_COLUMNS,
            max_lines=directory.MAX_IMPORT_LINES,
            max_megabytes=directory.MAX_IMPORT_BYTES // (1024 * 1024),
            **_choices(),
        )

    def _run_import(self) -> directory.ImportReport:
        upload = request.files.get("file")
        dry_run = request.form.get("dry_run") == "1"
        if upload is None or not upload.filename:
            return directory.ImportReport(dry_run=dry_run, error=_("Choose a CSV file to import."))
        raw = upload.stream.read(directory.MAX_IMPORT_BYTES + 1)
        try:
            report = directory.import_csv(raw, dry_run=dry_run)
        except IntegrityError:
            # Another import wrote the same codes meanwhile: everything of this one is undone,
            # and the refusal is kept in the audit trail.
            transactions.undo()
            audit.record("directory_import_refused", object_type="Structure", outcome="failure")
            report = directory.ImportReport(
                dry_run=dry_run,
                error=_("The directory changed during the import; nothing was imported. Retry."),
            )
        return report


def _submitted_values() -> dict[str, str]:
    """The form's fields as the text values of one CSV line, for ``validate_row``."""
    form = request.form
    values = {name: form.get(name, "") for name in directory.CSV_COLUMNS}
    values["services"] = "|".join(form.getlist("services"))
    values["languages"] = "|".join(form.getlist("languages"))
    for flag in ("location_approximate", "trained_on_sex_work", "active"):
        values[flag] = "yes" if form.get(flag) else "no"
    values["code"] = ""  # codes are made by the application, never typed in the form
    return values


class DirectoryReviewView(BaseView):
    """Pending changes to verified entries' contact details: the entry's owner organisation
    (its editors) or a coordinator approves or refuses them."""

    route_base = "/directory/changes"
    default_view = "list"
    access = {
        role: ("can_list", "can_review") for role in (ADMIN, MODERATOR, SOCIAL_WORKER, COORDINATOR)
    }

    @expose("/")
    @has_access
    def list(self):
        changes = db.session.scalars(directory_provenance.pending_changes().limit(200)).all()
        return self.render_template("directory/changes.html", changes=changes, **_choices())

    @expose("/owner/<int:structure_id>", methods=["POST"])
    @has_access
    @permission_name("review")
    def owner(self, structure_id: int):
        structure = directory.get_structure(structure_id)
        if structure is None:
            abort(404)
        try:
            directory_provenance.set_owner(structure, form_int("owner_organisation_id"))
            flash(_("Organisation answering for this entry saved."), "success")
        except directory_provenance.ReviewError as error:
            transactions.undo()
            flash(str(error), "danger")
        return redirect(url_for("DirectoryView.show", structure_id=structure.id))

    @expose("/<int:change_id>/review", methods=["POST"])
    @has_access
    @permission_name("review")
    def review(self, change_id: int):
        decision = request.form.get("decision")
        visible = directory_provenance.pending_changes().where(StructureChange.id == change_id)
        change = db.session.scalars(visible).first()
        if change is None or decision not in ("approve", "refuse"):
            abort(404)
        try:
            directory_provenance.review(change, approve=decision == "approve")
            flash(
                _("Change approved.") if decision == "approve" else _("Change refused."), "success"
            )
        except directory_provenance.ReviewError as error:
            flash(str(error), "danger")
        return redirect(url_for("DirectoryReviewView.list"))
