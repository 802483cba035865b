"""A database error logged by a job or shown to the error handler names the SQL, never the
values it was given (SQLAlchemy's ``hide_parameters``)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from backoffice.extensions import db


def test_a_failed_statement_does_not_quote_her_phone_number(app_context):
    phone = "+33 6 98 76 54 32"
    with pytest.raises(DBAPIError) as failure:
        db.session.execute(text("SELECT * FROM no_such_table WHERE x = :phone"), {"phone": phone})
    db.session.rollback()
    assert phone not in str(failure.value)
    assert "no_such_table" in str(failure.value)  # the SQL itself stays, to find the fault
