"""View base classes that carry the access rules, so that a new view cannot forget them."""

from __future__ import annotations

from flask import abort
from flask_appbuilder import ModelView
from flask_appbuilder.actions import action  # noqa: F401 - re-exported for views
from flask_appbuilder.models.sqla.filters import FilterEqualFunction
from flask_appbuilder.security.decorators import has_access  # noqa: F401
from flask_appbuilder.views import expose  # noqa: F401

from backoffice.security import current_organisation_id


class BackofficeModelView(ModelView):
    """A ModelView whose ``action`` routes re-apply ``base_filters``.

    FAB loads action rows with ``datamodel.get(pk)`` and no filters (FAB_NOTES.md), so a
    guessed id would reach a row the list never shows.
    """

    access: dict = {}

    def _get_filtered(self, pk):
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    def action(self, name, pk):
        self._get_filtered(pk)
        return super().action(name, pk)

    def action_post(self):
        from flask import request

        for pk in request.form.getlist("rowid"):
            self._get_filtered(pk)
        return super().action_post()


class ScopedModelView(BackofficeModelView):
    """A view over an organisation-owned model: every path sees only my organisation's rows.

    The organisation filter is prepended to ``base_filters`` (list, show, edit, delete,
    search, actions), new rows take my organisation, and an edit cannot move a row away.
    """

    def __init__(self, **kwargs):
        model = self.datamodel.obj
        if not getattr(model, "__organisation_owned__", False):
            raise TypeError(f"{model.__name__} is not organisation-owned")
        self.base_filters = [
            ["organisation_id", FilterEqualFunction, current_organisation_id],
            *(type(self).base_filters or []),
        ]
        super().__init__(**kwargs)

    def pre_add(self, item) -> None:
        item.organisation_id = current_organisation_id()
        super().pre_add(item)

    def pre_update(self, item) -> None:
        item.organisation_id = current_organisation_id()
        super().pre_update(item)
