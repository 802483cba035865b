"""Alembic environment. The metadata is FAB's ``Model.metadata`` (not ``db.metadata``,
which stays empty): it holds FAB's ``ab_*`` tables and every ``backoffice.models`` table."""

from __future__ import annotations

import logging
from logging.config import fileConfig

import flask_appbuilder.security.sqla.models  # noqa: F401
from alembic import context
from flask import current_app
from flask_appbuilder import Model

import backoffice.models  # noqa: F401 - registers the tables

config = context.config
if config.config_file_name and not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Model.metadata


def _engine():
    return current_app.extensions["migrate"].db.engine


def run_migrations_offline() -> None:
    context.configure(
        url=str(_engine().url),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
