"""Statistics: figures against hand-computed expectations, consent, scopes, suppression on
every path (dashboard, CSV, XLSX), the rollup against the live computation (programme-wide
and per department, with changes not yet rolled up), a GET that writes nothing, a renamed
column that fails loudly, and bad input.

The data set is described in ``statistics_support``; every expected number below was counted
by hand from its table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest
from flask_appbuilder import Model
from openpyxl import load_workbook
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import AuditEvent, Case, Referral, Report, Subscriber
from backoffice.models.base import utcnow
from backoffice.services import outreach, statistics
from backoffice.services.statistics import Period, Scope
from backoffice.transactions import unit_of_work
from tests.integration.statistics_support import (  # noqa: F401 - fixture
    built,
    dataset,
    run_rollup_job,
)

pytestmark = pytest.mark.usefixtures("dataset")

YEAR_QUERY = "start=2011-01-01&end=2011-12-31"


def _figures(app, live: bool = False, granularity: str = "month", **scope):
    with app.test_request_context():
        figures = statistics.compute(Scope(Period.year(2011), **scope), granularity, live=live)
        return statistics.present(figures, None)


def _column(presented, key, index=0) -> dict[str, object]:
    shown = presented.tables[key]
    return {row.code: cells[index] for row, cells in shown.rows}


def _nonzero(values: dict) -> dict:
    return {k: v for k, v in values.items() if v}


def _key(presented) -> dict[str, object]:
    return {f.figure.code: f.figure.value for f in presented.key_figures}


def test_report_figures_match_the_hand_count(app):
    presented = _figures(app)
    trend = presented.tables["reports_by_month"]
    assert _nonzero(_column(presented, "reports_by_month")) == {
        "2011-03": 2,
        "2011-04": 2,
        "2011-06": 6,
    }
    assert len(trend.rows) == 12 and trend.total == [10]
    assert _nonzero(_column(presented, "reports_by_violence_type")) == {
        "theft": 7,
        "rape": 1,
        "condom_removal": 1,
        "physical_assault": 1,
        "threats": 1,
        "non_payment": 1,
    }
    places = presented.tables["reports_by_place"]
    assert {r.code: c[0] for r, c in places.rows} == {"75": 7, "13": 2, "69": 1}
    assert _nonzero({g.code: c[0] for g, c in places.groups}) == {
        "Île-de-France": 7,
        "Provence-Alpes-Côte d'Azur": 2,
        "Auvergne-Rhône-Alpes": 1,
    }
    assert _nonzero(_column(presented, "reports_by_channel")) == {"web": 9, "partner": 1}
    assert _nonzero(_column(presented, "reports_by_language")) == {"fr": 9, "pt": 1}
    assert _nonzero(_column(presented, "reports_by_work_context")) == {
        "indoor_home": 7,
        "indoor_hotel": 1,
        "street": 1,
        "online": 1,
    }
    assert _nonzero(_column(presented, "reports_by_reporter_relation")) == {
        "self": 9,
        "partner": 1,
    }


def test_moderation_alert_and_check_figures_match_the_hand_count(app):
    presented = _figures(app)
    outcomes = presented.tables["moderation_outcomes"]
    assert {r.code: c[0] for r, c in outcomes.rows} == {
        "alert": 2,  # A and D
        "recorded": 1,  # C
        "rejected": 1,  # B
        "merged": 1,  # F
        "pending": 7,  # E and H1-H6
    }
    assert {g.code: c[0] for g, c in outcomes.groups} == {"counted": 10, "not_counted": 2}
    assert outcomes.total == [12]
    delays = presented.tables["moderation_delays"]
    assert {r.code: c for r, c in delays.rows if any(c)} == {"2011-03": [3, 1], "2011-04": [2, 1]}
    assert delays.total == [5, 2]
    measures = {m.code: values for m, values in presented.measures["moderation_delays"]}
    # decisions after 4, 12 and 24 h in March; 6 and 2 h in April; publications after 24 h
    assert measures["median_decision_hours"]["2011-03"] == 12.0
    assert measures["median_decision_hours"]["2011-04"] == 2.0
    assert measures["median_decision_hours"]["__total__"] == 6.0
    assert measures["median_publication_hours"]["__total__"] == 24.0
    alerts = presented.tables["alerts_by_month"]
    assert {r.code: c for r, c in alerts.rows if any(c)} == {
        "2011-03": [1, 0, 0],
        "2011-04": [1, 0, 0],
        "2011-05": [0, 1, 0],
    }
    checks = presented.tables["checks_by_month"]
    assert {r.code: c for r, c in checks.rows if any(c)} == {"2011-03": [8, 30, 38]}
    rate = dict(presented.measures["checks_by_month"][0][1])
    assert rate["2011-03"] == 21.1 and rate["__total__"] == 21.1


def test_people_figures_match_the_hand_count(app):
    presented = _figures(app)
    assert _nonzero(_column(presented, "subscribers_new_by_month")) == {
        "2011-01": 1,
        "2011-02": 1,
        "2011-07": 1,
    }
    assert _nonzero(_column(presented, "subscribers_by_language")) == {"fr": 1, "es": 1}
    assert _nonzero(_column(presented, "subscribers_by_department")) == {"75": 1, "*": 1}
    assert _nonzero(_column(presented, "cases_by_source")) == {"routed": 1, "direct": 1}
    assert _nonzero(_column(presented, "cases_by_need")) == {"health": 1, "legal": 1, "shelter": 1}
    states = presented.tables["cases_by_status"]
    # both cases open, with no outcome yet ("open" is also the still-followed column)
    assert {r.code: c for r, c in states.rows if c[-1]} == {"open": [2] + [0] * 8 + [2]}
    assert states.total[0] == 2 and sum(states.total[:-1]) == 2
    referrals = presented.tables["referrals_by_structure"]
    proposed = [c.code for c in referrals.table.columns].index("proposed")
    assert {r.code: c[proposed] for r, c in referrals.rows if c[proposed]} == {"cegidd": 1}
    assert sum(referrals.total[:-1]) == 1
    assert _key(presented) == {
        "reports": 10,
        "reports_per_day": 0.0,
        "median_decision_hours": 6.0,
        "median_publication_hours": 24.0,
        "alerts_published": 2,
        "checks": 38,
        "match_rate": 21.1,
        "subscribers": 2,
        "subscribers_new": 3,
        "cases": 2,
        "referrals": 1,
    }


def _same_figures(one, other) -> None:
    assert one.tables.keys() == other.tables.keys()
    for key, shown in one.tables.items():
        theirs = other.tables[key]
        assert [(r.code, c) for r, c in shown.rows] == [(r.code, c) for r, c in theirs.rows], key
        assert [(g.code, c) for g, c in shown.groups] == [(g.code, c) for g, c in theirs.groups]
        assert shown.total == theirs.total, key
        assert [v for _m, v in one.measures[key]] == [v for _m, v in other.measures[key]], key
    assert [f.text for f in one.key_figures] == [f.text for f in other.key_figures]


@pytest.mark.parametrize("department", [None, "75", "13", "69", "93", "92"])
def test_the_rollup_gives_the_live_figures(app, department):
    """Programme-wide and for one department, by week (the department is read from the
    rollup's department rows, the programme from its sums)."""
    run_rollup_job(app, full=True)
    rolled = _figures(app, granularity="week", department=department)
    live = _figures(app, live=True, granularity="week", department=department)
    _same_figures(rolled, live)


def test_a_refusal_of_statistics_is_honoured_everywhere_and_followed_when_it_changes(
    app, monkeypatch
):
    """G refused statistics: its rape, alert, decision, case and referral count nowhere.

    When her consent changes (it never should without her), the next dashboard counts her at
    once, before the rollup's refresh (the changed days are computed live: hers, and those of
    the case opened the next day and its referral), and after it."""
    # No margin: only what changed after the rebuild is computed live.
    monkeypatch.setitem(app.config, "STATS_REFRESH_MARGIN_MINUTES", 0)
    run_rollup_job(app, full=True)
    with app.app_context():
        report = db.session.get(Report, built()["G"])
        report.consent_statistics = True
        db.session.commit()
    try:
        before_refresh = _figures(app)
        run_rollup_job(app)
        for counted in (before_refresh, _figures(app)):
            assert _column(counted, "reports_by_violence_type")["rape"] == 2
            assert _column(counted, "reports_by_month")["2011-05"] == 1
            assert _key(counted)["alerts_published"] == 3
            assert _key(counted)["cases"] == 3 and _key(counted)["referrals"] == 2
            delays = {m.code: v for m, v in counted.measures["moderation_delays"]}
            assert delays["median_decision_hours"]["__total__"] == 4.0  # 1, 2, 4, 6, 12, 24 h
        paris = _figures(app, department="75")
        assert _column(paris, "reports_by_violence_type")["rape"] == 2  # A and G
    finally:
        with app.app_context():
            report = db.session.get(Report, built()["G"])
            report.consent_statistics = False
            db.session.commit()
    refused = _figures(app)
    assert _column(refused, "reports_by_violence_type")["rape"] == 1
    assert _key(refused)["alerts_published"] == 2 and _key(refused)["cases"] == 2
    assert _column(_figures(app, department="75"), "reports_by_violence_type")["rape"] == 1


def test_a_social_worker_sees_her_organisation_only(app):
    presented = _figures(app, organisation_id=built()["aides"])
    # D filed by AIDES, E routed to it; G (routed, refused statistics) does not count.
    assert presented.tables["reports_by_month"].total == [2]
    assert _nonzero(_column(presented, "reports_by_violence_type")) == {
        "physical_assault": 1,
        "threats": 1,
        "non_payment": 1,
    }
    assert presented.tables["cases_by_status"].total[-1] == 2
    assert "alerts_by_month" not in presented.tables
    assert "checks_by_month" not in presented.tables
    with app.app_context():
        from backoffice.demo import ACCEPTESS, seed_base

        other = seed_base().organisations[ACCEPTESS].id
    assert _figures(app, organisation_id=other).tables["reports_by_month"].total == [0]


@pytest.mark.parametrize("live", [False, True])
def test_one_departments_figures_match_the_hand_count(app, live):
    run_rollup_job(app, full=True)
    presented = _figures(app, live=live, department="13")
    assert presented.tables["reports_by_month"].total == [2]  # C and D
    assert "reports_by_place" not in presented.tables
    assert _nonzero(_column(presented, "reports_by_violence_type")) == {
        "condom_removal": 1,
        "physical_assault": 1,
        "threats": 1,
    }
    assert _nonzero(_column(presented, "moderation_outcomes")) == {"alert": 1, "recorded": 1}
    assert presented.tables["alerts_by_month"].total == [1, 1, 0]  # D's alert
    # The Portuguese subscriber of the 13 left in August; the Spanish one follows all France.
    assert _nonzero(_column(presented, "subscribers_new_by_month")) == {
        "2011-01": 1,
        "2011-07": 1,
    }
    assert _nonzero(_column(presented, "subscribers_by_language")) == {"es": 1}
    assert _nonzero(_column(presented, "subscribers_by_department")) == {"*": 1}
    assert _key(presented)["cases"] == 0
    paris = _figures(app, live=live, department="75")
    assert paris.tables["reports_by_month"].total == [7]  # A, B rejected: A and H1-H6
    assert _nonzero(_column(paris, "subscribers_by_language")) == {"fr": 1, "es": 1}
    assert _nonzero(_column(paris, "subscribers_by_department")) == {"75": 1, "*": 1}
    assert _nonzero(_column(paris, "cases_by_need")) == {"shelter": 1}  # the direct case
    lyon = _figures(app, live=live, department="69")
    assert _nonzero(_column(lyon, "cases_by_need")) == {"health": 1, "legal": 1}  # E's case
    assert _key(lyon)["referrals"] == 1


# --- what each role sees ---------------------------------------------------------------------


def _figure_text(html: str, code: str) -> str:
    match = re.search(
        rf'id="figure-{code}">\s*<span class="stat-figure-value">([^<]*)</span>',
        html,
    )
    assert match, code
    return match.group(1).replace("&lt;", "<")


def test_the_coordinator_dashboard_hides_small_counts(app, login_as):
    client = login_as("demo-coordinator")
    response = client.get(f"/statistics/?{YEAR_QUERY}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert _figure_text(html, "reports") == "10"
    for code in ("alerts_published", "subscribers", "cases", "referrals"):
        assert _figure_text(html, code) == "<5", code
    assert _figure_text(html, "median_publication_hours") == "—"  # two publications only
    types = _html_table(html, "reports_by_violence_type")
    # Five types counted once each are hidden; theft (7) stays: the rows of this table
    # overlap, their sum is not published, so nothing can be subtracted from it.
    assert types.get("Rape", types.get("Viol")) == "<5"
    assert types.get("Theft", types.get("Vol")) == "7"
    assert sorted(types.values()) == sorted(["10", "7"] + ["<5"] * 5 + ["0"] * 8), types
    months = _html_table(html, "reports_by_month")
    assert [v for v in months.values() if v not in ("0",)] == ["<5", "<5", "6", "10"]
    regions = _html_table(html, "reports_by_region")
    assert regions["Île-de-France"] == "7"
    assert regions["Provence-Alpes-Côte d'Azur"] == regions["Auvergne-Rhône-Alpes"] == "<5"
    assert "<svg" in html and 'role="img"' in html


def _html_table(html: str, key: str) -> dict[str, str]:
    block = html.split(f'id="table-{key}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', block, re.S)
    result = {}
    for label, cells in rows:
        values = re.findall(r"<td[^>]*>(?:<abbr[^>]*>)?([^<]*)", cells)
        result[label.replace("&#39;", "'")] = values[-1].replace("&lt;", "<").strip()
    return result


def _csv_rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # spreadsheets then read the accents right
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))


def test_a_social_worker_dashboard_shows_her_figures_and_exports_hide_them(app, login_as):
    client = login_as("demo-social-a")
    html = client.get(f"/statistics/?{YEAR_QUERY}").get_data(as_text=True)
    assert _figure_text(html, "reports") == "2"  # her own organisation, as it is
    assert 'id="figure-alerts_published"' not in html
    exported = client.get(f"/statistics/export/reports_by_month.csv?{YEAR_QUERY}")
    assert exported.status_code == 200
    rows = _csv_rows(exported)
    assert rows[-1][-1] == "<5"  # the total of 2, suppressed in the export
    assert "2" not in [row[-1] for row in rows[1:]]


def test_exports_carry_the_dashboard_suppression_in_csv_and_xlsx(app, login_as):
    client = login_as("demo-coordinator")
    html = client.get(f"/statistics/?{YEAR_QUERY}").get_data(as_text=True)
    shown = _html_table(html, "reports_by_region")
    response = client.get(f"/statistics/export/reports_by_region.csv?{YEAR_QUERY}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = _csv_rows(response)
    exported = {row[0]: row[-1] for row in rows[1:]}
    assert exported == {label: value for label, value in shown.items()}
    assert exported["Île-de-France"] == "7" and exported["Provence-Alpes-Côte d'Azur"] == "<5"
    book = client.get(f"/statistics/export/reports_by_region.xlsx?{YEAR_QUERY}")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.get_data())).active
    values = {row[0]: row[-1] for row in sheet.iter_rows(values_only=True) if row and row[-1]}
    assert values["Île-de-France"] == 7 and values["Provence-Alpes-Côte d'Azur"] == "<5"
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "statistics_exported")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event.object_id == "reports_by_region" and event.details["format"] == "xlsx"
        assert event.details["start"] == "2011-01-01"


@pytest.mark.parametrize("who", ["demo-outreach", "demo-relay"])
def test_roles_without_statistics_get_nothing(app, login_as, who):
    client = login_as(who)
    for url in (
        f"/statistics/?{YEAR_QUERY}",
        f"/statistics/export/reports_by_month.csv?{YEAR_QUERY}",
    ):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        # Nothing of the figures (the page's own address, in its language links, is no leak).
        assert b"Reports by month" not in response.get_data()
        assert b"reports_by_month;" not in response.get_data()


def test_nobody_signed_in_gets_nothing(client):
    response = client.get(f"/statistics/export/reports_by_month.csv?{YEAR_QUERY}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "query",
    [
        "start=2011-13-01&end=2011-12-31",
        "start=2011-12-31&end=2011-01-01",
        "start=1900-01-01&end=2011-12-31",
        "start=2011-01-01&end=2011-12-31&department=999",
        "start=2011-01-01&end=2011-12-31&granularity=hour",
        "period=2011-Q5",
        "start=2009-01-01&end=2011-12-31&granularity=day",
        "start=%00&end=x",
    ],
)
def test_bad_filters_say_why_and_never_fail(app, login_as, query):
    client = login_as("demo-coordinator")
    response = client.get(f"/statistics/?{query}")
    assert response.status_code == 200
    assert 'class="alert alert-warning' in response.get_data(as_text=True) or (
        "alert-warning" in response.get_data(as_text=True)
    )
    exported = client.get(f"/statistics/export/reports_by_month.csv?{query}")
    assert exported.status_code == 302


def test_unknown_exports_are_not_found(app, login_as):
    client = login_as("demo-coordinator")
    assert client.get(f"/statistics/export/nothing.csv?{YEAR_QUERY}").status_code == 404
    assert client.get(f"/statistics/export/reports_by_month.pdf?{YEAR_QUERY}").status_code == 404


def test_period_shortcuts_and_weekly_grouping(app, login_as):
    client = login_as("demo-coordinator")
    html = client.get("/statistics/?period=2011-Q2&granularity=week").get_data(as_text=True)
    assert 'id="table-reports_by_week"' in html
    with app.test_request_context():
        presented = statistics.present(
            statistics.compute(Scope(Period.from_code("2011-Q2")), "week"), None
        )
    weeks = _nonzero(_column(presented, "reports_by_week"))
    # D (Fri 1 April) in the week of Monday 28 March, E in that of 11 April, H1-H6 (1-6 June)
    # in those of 30 May (H1-H5) and 6 June (H6).
    assert weeks == {"2011-03-28": 1, "2011-04-11": 1, "2011-05-30": 5, "2011-06-06": 1}


# --- reads write nothing; a renamed column fails loudly ----------------------------------------


def _database_state() -> dict[str, str]:
    """A digest of every row of every table but the audit trail (which a read may append to)."""
    digests = {}
    with db.engine.connect() as connection:
        for table in Model.metadata.sorted_tables:
            # The trail (rows and chain head) and the sign-in session's last-seen time.
            if table.name in ("audit_events", "audit_chain_head", "staff_sessions"):
                continue
            rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            digests[table.name] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


@pytest.mark.parametrize(
    "who, url",
    [
        ("demo-coordinator", f"/statistics/?{YEAR_QUERY}"),
        ("demo-coordinator", f"/statistics/?{YEAR_QUERY}&department=75&granularity=week"),
        ("demo-social-a", f"/statistics/?{YEAR_QUERY}"),
        ("demo-coordinator", f"/statistics/export/reports_by_month.csv?{YEAR_QUERY}"),
    ],
)
def test_a_get_of_the_dashboard_writes_nothing(app, login_as, who, url):
    """Not the rollup, not its bookkeeping: a change it has not seen yet is computed live."""
    run_rollup_job(app, full=True)
    client = login_as(who)
    with app.app_context():
        db.session.get(Report, built()["H1"]).updated_at = utcnow()
        db.session.commit()
        before = _database_state()
    response = client.get(url)
    assert response.status_code == 200
    if who == "demo-coordinator" and url.startswith("/statistics/?"):
        html = response.get_data(as_text=True)
        assert _figure_text(html, "reports") == ("7" if "department=75" in url else "10")
    with app.app_context():
        assert _database_state() == before


class _Renamed:
    """What a model's attribute looks like once another area renamed its column."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, instance, owner):
        raise AttributeError(f"type object {owner.__name__!r} has no attribute {self.name!r}")


@pytest.mark.parametrize(
    "owner, name",
    [
        (Case, "first_contact_at"),
        (Subscriber, "validated_at"),
        (Referral, "structure_id"),
        (outreach, "FIGURE_COLUMNS"),
    ],
)
def test_a_renamed_column_fails_loudly_instead_of_dropping_a_section(app, monkeypatch, owner, name):
    """Once a section said "not available yet" when a model lacked a column: a funder report
    then went out without its follow-up figures, and nobody knew."""
    if owner is outreach:
        monkeypatch.delattr(outreach, name)
    else:
        gone = _Renamed()
        gone.__set_name__(owner, name)
        monkeypatch.setattr(owner, name, gone)
    with app.test_request_context(), pytest.raises(AttributeError, match=name):
        statistics.compute(Scope(Period.year(2011)), live=True)
    if owner is not outreach:  # the nightly rebuild, too, stops rather than roll up less
        with app.app_context(), pytest.raises(AttributeError, match=name), unit_of_work():
            statistics.rebuild_rollup()
