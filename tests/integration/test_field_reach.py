"""Field reach (issue 18.8): the identifier check for every staff role that meets workers, and
outreach de-duplication across the programme ("contacted recently", never by whom)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from backoffice.demo import AIDES, JASMINE
from backoffice.extensions import db
from backoffice.models.alert import IdentifierCheck
from backoffice.models.base import utcnow
from backoffice.models.outreach import OutreachContact
from backoffice.security import OutOfScope, acting_for, can
from backoffice.services import alerts
from backoffice.services import outreach as service
from tests.conftest import csrf_token
from tests.integration.moderation_support import report_in, unique_phone, user
from tests.integration.outreach_support import (
    fresh_mobile,
    make_session,
    outreach_users_fixture,  # noqa: F401 - the outreach_users fixture
    spellings,
)

# --- outreach: contacted recently by any association --------------------------------------------


def _recent(result) -> list[bool]:
    return [line.recently_contacted for line in result.lines]


def test_a_number_another_association_contacted_this_week_shows_contacted_recently(
    app_context, outreach_users
):
    number, untouched = fresh_mobile(), fresh_mobile()
    theirs = make_session(AIDES, username=outreach_users["other"])
    service.add_contacts(theirs, number)
    db.session.commit()
    mine = make_session(JASMINE)
    paste = f"{spellings(number)[1]}\n{untouched}"
    check = service.check_batch(paste, acting_for(mine.organisation_id))
    assert [line.status for line in check.lines] == ["new", "new"]  # new to my team
    assert _recent(check) == [True, False]
    assert check.counts["recent"] == 1
    line = check.lines[0]
    assert line.previous is None  # nothing says who, when or in which session


def test_an_old_contact_is_not_recent_unless_a_message_was_logged_since(
    app_context, outreach_users
):
    number = fresh_mobile()
    theirs = make_session(AIDES, username=outreach_users["other"])
    service.add_contacts(theirs, number)
    db.session.flush()
    contact = db.session.query(OutreachContact).filter_by(session_id=theirs.id).one()
    days = app_context.config["OUTREACH_RECENT_CONTACT_DAYS"]
    contact.contacted_at = utcnow() - dt.timedelta(days=days + 1)
    db.session.commit()
    mine = make_session(JASMINE)
    assert _recent(service.check_batch(number, acting_for(mine.organisation_id))) == [False]
    app_context.config["OUTREACH_RECENT_CONTACT_DAYS"] = days + 5
    try:
        assert _recent(service.check_batch(number, acting_for(mine.organisation_id))) == [True]
    finally:
        app_context.config["OUTREACH_RECENT_CONTACT_DAYS"] = days


def test_my_own_contacts_stay_already_contacted_not_recent(app_context):
    number = fresh_mobile()
    session = make_session(JASMINE)
    service.add_contacts(session, number)
    db.session.commit()
    check = service.check_batch(number, acting_for(session.organisation_id))
    assert [line.status for line in check.lines] == ["known"]
    assert _recent(check) == [False]


def test_the_page_says_contacted_recently_without_naming_the_association(
    app, login_as, outreach_users
):
    number = fresh_mobile()
    with app.app_context():
        theirs = make_session(AIDES, username=outreach_users["other"])
        service.add_contacts(theirs, number)
        db.session.commit()
        their_reference = theirs.reference
        session_id = make_session(JASMINE).id
        db.session.remove()
    client = login_as(outreach_users["volunteer"])
    url = f"/outreach/sessions/show/{session_id}"
    response = client.post(
        f"/outreach/sessions/{session_id}/check",
        data={"csrf_token": csrf_token(client, url), "batch": number},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="label label-warning outreach-recent"' in page
    assert their_reference not in page and AIDES not in page
    # Not ticked by default: adding it is a choice made line by line.
    assert re.search(r'<input type="checkbox" name="line" value="1"\s+aria-label', page)


# --- the identifier check in the field -------------------------------------------------------


def _published_and_unpublished(app) -> tuple[str, str, str, str]:
    """(published alert, its phone, a phone only an approved report names, that report)."""
    shown, hidden = unique_phone(), unique_phone()
    with app.app_context():
        published = report_in(
            "published", aggressor={"identifiers": [{"kind": "phone", "value": shown}]}
        )
        alert = alerts.alerts_of_report(published)[0].reference
        waiting = report_in(
            "approved", aggressor={"identifiers": [{"kind": "phone", "value": hidden}]}
        )
        reference = waiting.reference
        db.session.remove()
    return alert, shown, hidden, reference


def _field_counts(app) -> int:
    with app.app_context():
        alerts.flush_check_counts()
        db.session.commit()
        return (
            db.session.scalar(
                select(func.sum(IdentifierCheck.count)).where(IdentifierCheck.source == "field")
            )
            or 0
        )


@pytest.mark.parametrize("username", ["demo-relay", "demo-social-a", "demo-outreach"])
def test_staff_who_meet_workers_check_published_alerts_only(app, login_as, username):
    alert, shown, hidden, waiting = _published_and_unpublished(app)
    before = _field_counts(app)
    client = login_as(username)
    page = "/field-check/"
    found = client.post(page, data={"value": shown, "csrf_token": csrf_token(client, page)})
    assert found.status_code == 200 and alert in found.get_data(as_text=True)
    html = client.post(
        page, data={"value": hidden, "csrf_token": csrf_token(client, page)}
    ).get_data(as_text=True)
    assert 'class="no-alert"' in html and waiting not in html  # reports stay with moderators
    assert _field_counts(app) == before + 2


def test_the_field_check_is_a_capability_not_a_role(app_context):
    assert can("check_identifiers", user("demo-relay"))
    assert not can("check_identifiers", user("demo-coordinator"))
    with pytest.raises(OutOfScope):
        alerts.field_check(unique_phone(), "phone", user("demo-coordinator"))
