"""The statistics dashboard reads as a dashboard: key figures first with their trend against
the previous period (shown only where both figures are), one section at a time behind
anchored tabs, titled charts, tables on demand, rates with their "%" in the reader's
language; the funder reports list keeps the checksum in a details view and shows no timings.

Figures from the fixed 2011 data set of ``statistics_support`` (2010 holds one report).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask_babel import force_locale

from backoffice.services import statistics
from backoffice.services.statistics import Period, Scope
from tests.integration.statistics_support import dataset  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("dataset")

YEAR_QUERY = "start=2011-01-01&end=2011-12-31"


def _trends(app, threshold, language="en"):
    with app.test_request_context(), force_locale(language):
        now = statistics.present(statistics.compute(Scope(Period.year(2011))), threshold)
        before = statistics.present(statistics.compute(Scope(Period.year(2010))), threshold)
        compared = statistics.compare(now, before)
        return {f.figure.code: f.trend for f in compared.key_figures}


def test_a_key_figure_is_compared_with_the_previous_period(app):
    trends = _trends(app, None)  # an organisation's own figures: shown as they are
    assert trends["reports"] == statistics.Trend("up", "+900%", "1")  # 10 against 1
    assert trends["alerts_published"] == statistics.Trend("up", "", "0")  # nothing before
    assert trends["reports_per_day"] is None and trends["match_rate"] is None  # counts only
    assert _trends(app, None, "fr")["reports"].text == "+900\xa0%"


def test_no_trend_against_a_hidden_figure(app):
    """2010's single report is "<5" once suppressed: a change from it would reveal it."""
    trends = _trends(app, statistics.threshold())
    assert trends["reports"] is None
    assert all(trend is None or trend.previous not in ("<5", "s") for trend in trends.values())


@pytest.mark.parametrize(
    "period, previous",
    [
        (Period.month(2011, 3), Period.month(2011, 2)),
        (Period.month(2011, 1), Period.month(2010, 12)),
        (Period.quarter(2011, 1), Period.quarter(2010, 4)),
        (Period.year(2011), Period.year(2010)),
        (
            Period(dt.date(2011, 3, 10), dt.date(2011, 3, 19)),
            Period(dt.date(2011, 2, 28), dt.date(2011, 3, 9)),
        ),
    ],
)
def test_the_previous_period_is_the_same_kind_just_before(period, previous):
    assert period.previous() == previous


def test_the_dashboard_shows_key_figures_first_then_one_section_at_a_time(app, login_as):
    client = login_as("demo-coordinator")
    html = client.get(f"/statistics/?{YEAR_QUERY}").get_data(as_text=True)
    figures, nav, sections = (
        html.index('class="stat-key-figures"'),
        html.index('class="stat-tabs"'),
        html.index('class="stat-sections"'),
    )
    assert figures < nav < sections
    codes = re.findall(r'<section class="stat-section" id="section-([a-z_]+)"', html)
    assert codes == ["reports", "moderation", "alerts", "checks", "subscribers", "cases",
                     "outreach"]  # fmt: skip
    tabs = re.findall(r'<a href="#section-([a-z_]+)">', html.split('class="stat-tabs"')[1])
    assert tabs[: len(codes)] == codes
    # Titled charts; every table on demand, in a details element with its exports.
    captions = re.findall(r"<figcaption>([^<]+)</figcaption>", html)
    assert "Reports received by month" in captions and "Reports by region" in captions
    assert "Moderation delays (median hours)" in captions
    details = re.findall(r'<details class="stat-details"[^>]*>\s*<summary>([^<]+)</summary>', html)
    assert "Reports by violence type" in details and "Identifier checks by kind" in details
    assert html.count('class="stat-details"') == html.count('class="stat-table"')
    assert html.count("export/reports_by_channel.csv") == 1


def test_rates_carry_their_percent_sign_in_the_readers_language(app, login_as):
    client = login_as("demo-coordinator")
    # 8 checks with a match out of 38 in March 2011
    english = client.get(f"/statistics/?{YEAR_QUERY}").get_data(as_text=True)
    assert re.search(r'id="figure-match_rate">\s*<span class="stat-figure-value">21.1%<', english)
    assert '<td class="number">21.1%</td>' in english
    client.get("/lang/fr")
    french = client.get(f"/statistics/?{YEAR_QUERY}").get_data(as_text=True)
    assert re.search(
        r'id="figure-match_rate">\s*<span class="stat-figure-value">21,1\xa0%<', french
    )
    assert "21,1\xa0%</td>" in french and "97,9" not in french
