"""Support for the statistics tests (no test here): a fixed, small data set, all in 2011.

Built once per test session through the real services (intake, moderation, alerts, cases)
with fixed timestamps; the expectations in the tests are computed by hand from this table:

Reports (received UTC; department; types; channel, language, context, sent by; consent to
statistics; what happens):

* A 2011-03-02 10:00; 75; rape, theft; web, fr, indoor_home, self; yes; approved +4 h,
  published +24 h.
* B 2011-03-05 08:00; 75; theft; app, es, client_home, peer; yes; rejected +12 h.
* C 2011-03-10 09:00; 13; condom_removal; web, pt, indoor_hotel, self; yes; recorded only +24 h.
* D 2011-04-01 12:00; 13; physical_assault, threats; partner, fr, street, partner; yes; filed
  by AIDES; approved +6 h, published +24 h, retracted on 2011-05-01.
* E 2011-04-15 09:00; 69; non_payment; web, fr, online, self; yes; no decision; routed to AIDES.
* F 2011-04-20 09:00; 93; harassment; web, none given; yes; merged into E +2 h.
* G 2011-05-03 09:00; 75; rape; web, fr, indoor_home, self; NO; approved +1 h, published +2 h;
  routed to AIDES.
* H1–H6 2011-06-01 … 06 10:00; 75; theft; web, fr, indoor_home, self; yes; no decision.
* X 2010-12-31 23:00 and Y 2012-01-01 00:30; 75; theft; yes; outside 2011.

Cases: E's case (AIDES, opened 2011-04-16, needs health and legal, one referral to a CeGIDD
on 2011-04-17), G's case (AIDES, refused statistics: never counted), one direct case
(AIDES, opened 2011-06-10, need shelter). Subscribers (AIDES): validated 2011-02-01 (fr,
department 75), 2011-07-01 (es, all of France), 2011-01-10 and gone 2011-08-01 (pt, 13).
Identifier checks: March 2011, 8 phone checks with a match and 30 without.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

import pytest

from backoffice.demo import AIDES, seed_base
from backoffice.extensions import db
from backoffice.models.alert import IdentifierCheck
from backoffice.models.base import new_row_uid
from backoffice.models.case import Referral
from backoffice.models.structure import Structure
from backoffice.models.subscriber import Subscriber, SubscriberDepartment
from backoffice.services import alerts, cases, intake, moderation, statistics
from backoffice.transactions import unit_of_work

YEAR = 2011
T = dt.datetime

REPORTS = {
    # name: (received, dept, types, channel, language, context, relation, statistics)
    "A": (T(2011, 3, 2, 10), "75", ["rape", "theft"], "web", "fr", "indoor_home", "self", True),
    "B": (T(2011, 3, 5, 8), "75", ["theft"], "app", "es", "client_home", "peer", True),
    "C": (T(2011, 3, 10, 9), "13", ["condom_removal"], "web", "pt", "indoor_hotel", "self", True),
    "D": (T(2011, 4, 1, 12), "13", ["physical_assault", "threats"], "partner", "fr", "street",
          "partner", True),
    "E": (T(2011, 4, 15, 9), "69", ["non_payment"], "web", "fr", "online", "self", True),
    "F": (T(2011, 4, 20, 9), "93", ["harassment"], "web", None, None, None, True),
    "G": (T(2011, 5, 3, 9), "75", ["rape"], "web", "fr", "indoor_home", "self", False),
    **{
        f"H{k}": (T(2011, 6, k, 10), "75", ["theft"], "web", "fr", "indoor_home", "self", True)
        for k in range(1, 7)
    },
    "X": (T(2010, 12, 31, 23), "75", ["theft"], "web", "fr", "indoor_home", "self", True),
    "Y": (T(2012, 1, 1, 0, 30), "75", ["theft"], "web", "fr", "indoor_home", "self", True),
}  # fmt: skip

_BUILT: dict = {}


def _payload(department, types, channel, language, context, relation, statistics) -> dict:
    incident = {"date": "2011-01-01", "department": department, "violence_types": types}
    if context:
        incident["context"] = context
    body = {
        "channel": channel,
        "incident": incident,
        "narrative": f"Statistics fixture {uuid.uuid4().hex[:10]}: he took the money back.",
        "victim": {"pseudonym": "Lila"},
        "consent": {
            "publish_alert": True,
            "follow_up": True,
            "share_with_partner": False,
            "statistics": statistics,
        },
    }
    if language:
        body["language"] = language
    if relation:
        body["reporter"] = {"relation": relation}
    return body


def _decide(report, action: str, moderator, at: dt.datetime, **extra) -> None:
    moderation.perform(report, "claim", moderator, now=at - dt.timedelta(minutes=5))
    if action == "approve":
        moderation.review_redaction(report, moderator, now=at - dt.timedelta(minutes=4))
    moderation.perform(report, action, moderator, now=at, **extra)


def _publish(report, moderator, at: dt.datetime):
    alert = alerts.compose([report], moderator)
    alerts.publish(alert, moderator, now=at)
    return alert


def build_dataset() -> dict:
    """Create the data set once (idempotent within a session); returns names -> ids."""
    if _BUILT:
        return _BUILT
    context = seed_base()
    moderator = context.users["demo-moderator"]
    social = context.users["demo-social-a"]
    aides = context.organisations[AIDES]
    reports = {}
    for name, (received, dept, types, channel, lang, ctx, relation, stats) in REPORTS.items():
        data = intake.validate_report(_payload(dept, types, channel, lang, ctx, relation, stats))
        filing = aides.id if name == "D" else None
        reports[name] = intake.create_report(
            data, received_at=received, filing_organisation_id=filing
        )
    db.session.commit()
    r = reports
    _decide(r["A"], "approve", moderator, T(2011, 3, 2, 14))
    _publish(r["A"], moderator, T(2011, 3, 3, 10))
    _decide(r["B"], "reject", moderator, T(2011, 3, 5, 20), reason="Not violence")
    _decide(r["C"], "record_only", moderator, T(2011, 3, 11, 9))
    _decide(r["D"], "approve", moderator, T(2011, 4, 1, 18))
    alert_d = _publish(r["D"], moderator, T(2011, 4, 2, 12))
    alerts.retract(alert_d, moderator, "Fixture retraction", now=T(2011, 5, 1, 9))
    _decide(r["F"], "merge", moderator, T(2011, 4, 20, 11), merge_into=r["E"])
    _decide(r["G"], "approve", moderator, T(2011, 5, 3, 10))
    _publish(r["G"], moderator, T(2011, 5, 3, 11))
    db.session.commit()
    _cases(r, aides, moderator, social)
    _subscribers(aides)
    db.session.add(
        IdentifierCheck(
            month=dt.date(2011, 3, 1),
            kind="phone",
            matched=True,
            source="api",
            api_client_id=0,
            count=8,
        )
    )
    db.session.add(IdentifierCheck(month=dt.date(2011, 3, 1), kind="phone", matched=False,
                                   source="api", api_client_id=0, count=30))  # fmt: skip
    db.session.commit()
    _BUILT.update({name: report.id for name, report in r.items()})
    _BUILT["aides"] = aides.id
    return _BUILT


def _cases(r, aides, moderator, social) -> None:
    structure = Structure(
        code=f"stats-fixture-{uuid.uuid4().hex[:8]}",
        name="CeGIDD fixture",
        category="cegidd",
        city="Lyon",
        department="69",
        active=True,
    )
    db.session.add(structure)
    db.session.flush()
    routed = cases.route_report(r["E"].id, aides.id, moderator)
    cases.set_needs(routed, {"health": "identified", "legal": "identified"}, social)
    referral = cases.add_referral(routed, structure.id, "health", social)
    refused = cases.route_report(r["G"].id, aides.id, moderator)
    cases.add_referral(refused, structure.id, "health", social)
    direct = cases.open_direct(
        social,
        cases.Contact(name="Nina"),
        cases.CaseFacts(department="75", violence_types=["theft"]),
        needs=["shelter"],
        consent_follow_up=True,
    )
    db.session.flush()
    routed.opened_at = T(2011, 4, 16, 10)
    refused.opened_at = T(2011, 5, 4, 10)
    direct.opened_at = T(2011, 6, 10, 10)
    referral.created_at = T(2011, 4, 17, 10)
    for other in db.session.query(Referral).filter(Referral.case_id == refused.id):
        other.created_at = T(2011, 5, 5, 10)
    db.session.commit()


def _subscribers(aides) -> None:
    rows = [
        ("fr", ["75"], False, T(2011, 2, 1, 9), None),
        ("es", [], True, T(2011, 7, 1, 9), None),
        ("pt", ["13"], False, T(2011, 1, 10, 9), T(2011, 8, 1, 9)),
    ]
    for language, departments, everywhere, validated, gone in rows:
        # row_uid first: the sealed pseudonym is bound to it (keyword arguments apply in order).
        subscriber = Subscriber(
            row_uid=new_row_uid(),
            organisation_id=aides.id,
            pseudonym=f"fixture-{uuid.uuid4().hex[:6]}",
            language=language,
            all_departments=everywhere,
            status="unsubscribed" if gone else "active",
            unsubscribe_salt=secrets.token_hex(8),
            unsubscribe_token_hash=secrets.token_hex(32),
            validated_at=validated,
            unsubscribed_at=gone,
        )
        subscriber.department_rows = [SubscriberDepartment(department=d) for d in departments]
        db.session.add(subscriber)
    db.session.commit()


def built() -> dict:
    """The data set's ids (report names, ``aides``), once the ``dataset`` fixture ran."""
    assert _BUILT, "use the dataset fixture"
    return _BUILT


@pytest.fixture(scope="session")
def dataset(app):
    with app.app_context():
        built = dict(build_dataset())
        db.session.remove()
    return built


def run_rollup_job(app, *, full: bool = False) -> None:
    """What the ``statistics_rebuild`` (``full``) or ``statistics_refresh`` job does."""
    with app.app_context():
        with unit_of_work():
            statistics.refresh_rollup(full=full)
        db.session.remove()
