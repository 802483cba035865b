"""Exactly once, with a real SMTP server that drops connections after the end of data and a
worker process killed twice in the middle of a 300-recipient dispatch: 0 lost, 0 duplicates
(counted by Message-ID at the server). ``bench/dispatch_crashes.py`` reports the same run."""

from __future__ import annotations

from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.dispatch import Delivery
from tests.dispatch_crashes import crash_run


def test_killed_workers_and_dropped_connections_lose_nothing_and_send_nothing_twice(
    app, app_context, tmp_path
):
    run = crash_run(app, tmp_path, recipients=300, crashes=2, drop_every=37)
    assert run.crashes == 2 and run.dropped >= 5
    assert run.lost == 0
    assert run.duplicates == 0
    # Each dropped end of data was reconciled by its Message-ID with the relay's events API.
    assert run.reconciled >= run.dropped
    assert run.unconfirmed >= run.dropped
    assert db.session.scalar(select(Delivery.id).where(Delivery.wire_state.is_not(None))) is None
