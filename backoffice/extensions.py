"""Extension objects shared by the application factory, models and services."""

from __future__ import annotations

from flask_appbuilder import Model
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

# A naming convention makes constraint names identical on SQLite and PostgreSQL, so that
# migrations can drop or alter them by name.
Model.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(model_class=Model)
migrate = Migrate()
csrf = CSRFProtect()
