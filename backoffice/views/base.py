"""View base classes that carry the access and transaction rules, so a new view cannot
forget them.

* ``Interface`` is FAB's ``SQLAInterface`` that flushes instead of committing: the request
  commits once (``backoffice.transactions``), with the audit events the hooks wrote.
* ``BackofficeModelView`` re-applies ``base_filters`` to FAB's action routes, and rolls the
  request back when one of its hooks fails (FAB flashes the error and redirects, which would
  otherwise commit what the form had already written on the row).
* ``ScopedModelView`` limits every path to the actor's organisation with the same rule as
  ``security.scoped``.
"""

from __future__ import annotations

import functools

from flask import abort, request
from flask_appbuilder import ModelView
from flask_appbuilder.actions import action  # noqa: F401 - re-exported for views
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access  # noqa: F401
from flask_appbuilder.views import expose
from sqlalchemy.exc import SQLAlchemyError

from backoffice import transactions
from backoffice.security import organisation_of, scope_condition


class Interface(SQLAInterface):
    """FAB's data interface, flushing only: the request owns the commit."""

    def add(self, item, commit: bool = True) -> None:
        self._flush(lambda: self.session.add(item))

    def edit(self, item, commit: bool = True) -> None:
        self._flush(lambda: self.session.merge(item))

    def delete(self, item, commit: bool = True) -> None:
        self._flush(lambda: self.session.delete(item))

    def delete_all(self, items) -> None:
        self._flush(lambda: [self.session.delete(item) for item in items])

    def _flush(self, change) -> None:
        try:
            change()
            self.session.flush()
        except SQLAlchemyError:
            transactions.doom()
            transactions.rollback_quietly()  # the connection may be the thing that failed
            raise


_HOOKS = ("pre_add", "post_add", "pre_update", "post_update", "pre_delete", "post_delete")


def _dooming(hook):
    @functools.wraps(hook)
    def wrapper(self, item):
        try:
            return hook(self, item)
        except Exception:
            transactions.doom()
            raise

    return wrapper


class DoomsFailedHooks:
    """A FAB ModelView whose add/update/delete hooks roll the request back when they fail
    (FAB flashes the error and redirects; without this, the redirect would commit)."""

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for name in _HOOKS:
            if name in cls.__dict__:
                setattr(cls, name, _dooming(cls.__dict__[name]))


class ScopedActions:
    """FAB's action and download routes, re-exposed with the checks FAB lacks.

    * An unknown action name answers 404 (FAB dereferences it and fails with a 500).
    * The rows are loaded through ``base_filters``: FAB loads action rows with
      ``datamodel.get(pk)`` and no filters (FAB_NOTES.md), so a guessed id would reach a row
      the list never shows.

    * Downloads of uploaded files answer 404: no view here has file columns, and FAB's route
      fails with a 500 when no upload folder is configured.

    The routes must be exposed again here: a method overridden without ``@expose`` loses its
    route, and the view's actions then answered 404.
    """

    @expose("/download/<string:filename>")
    def download(self, filename):
        abort(404)

    def _get_filtered(self, pk):
        item = self.datamodel.get(self._deserialize_pk_if_composite(pk), self._base_filters)
        if item is None:
            abort(404)
        return item

    @expose("/action/<string:name>/<pk>", methods=["GET", "POST"])
    def action(self, name, pk):
        if name not in self.actions:
            abort(404)
        self._get_filtered(pk)
        return super().action(name, pk)

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        if request.form.get("action") not in self.actions:
            abort(404)
        for pk in request.form.getlist("rowid"):
            self._get_filtered(pk)
        return super().action_post()


class BackofficeModelView(ScopedActions, DoomsFailedHooks, ModelView):
    """The project's ModelView: scoped actions, hooks that roll back on failure, flushing."""

    access: dict = {}


class FilterInMyOrganisation(BaseFilter):
    """FAB's form of ``security.scope_condition``: my organisation's rows, or none."""

    name = "In my organisation"
    arg_name = "in_my_organisation"

    def apply(self, query, value):
        return query.filter(scope_condition(self.model))


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
            ["organisation_id", FilterInMyOrganisation, None],
            *(type(self).base_filters or []),
        ]
        super().__init__(**kwargs)

    def pre_add(self, item) -> None:
        item.organisation_id = _my_organisation()
        super().pre_add(item)

    def pre_update(self, item) -> None:
        item.organisation_id = _my_organisation()
        super().pre_update(item)


def _my_organisation() -> int:
    organisation_id = organisation_of()
    if organisation_id is None:
        abort(403)
    return organisation_id
