"""Funder reports: built on request with progress, kept with a checksum, downloaded with the
same figures as the dashboard (read back with ``pdftotext``), in French and in English; the
command and the schedule build the same document; a build that died shows as interrupted
without the page writing; WeasyPrint reads only the project's own assets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import subprocess
import time

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models.base import utcnow
from backoffice.models.statistics import FunderReport
from backoffice.services import statistics
from backoffice.services.statistics import Period, Scope
from backoffice.transactions import unit_of_work
from reports_pdf import RefusedURL, asset_path, funder_report
from tests.conftest import csrf_token
from tests.integration.statistics_support import dataset  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("dataset")


def _text(pdf: bytes) -> str:
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8").replace("\u202f", " ").replace("\xa0", " ")


def _build_on_the_page(client, **form) -> int:
    token = csrf_token(client, "/statistics/reports/")
    fields = {"preset": "custom", "start": "2011-01-01", "end": "2011-12-31", "language": "fr"}
    response = client.post(
        "/statistics/reports/build", data={**fields, **form, "csrf_token": token}
    )
    assert response.status_code == 302
    report_id = int(re.search(r"#report-(\d+)", response.headers["Location"]).group(1))
    return report_id


def _wait(client, report_id: int) -> dict:
    deadline = time.monotonic() + 120
    states = []
    while time.monotonic() < deadline:
        state = client.get(f"/statistics/reports/{report_id}/progress").get_json()
        states.append(state["progress"])
        if state["done"]:
            assert states == sorted(states), "progress never goes back"
            return state
        time.sleep(0.2)
    raise AssertionError(f"report {report_id} not built in time: {states[-5:]}")


def test_a_report_built_on_request_shows_progress_and_matches_the_dashboard(app, login_as):
    client = login_as("demo-coordinator")
    report_id = _build_on_the_page(client, language="en")
    page = client.get("/statistics/reports/").get_data(as_text=True)
    assert f'id="report-{report_id}"' in page
    state = _wait(client, report_id)
    assert state["status"] == "done" and state["progress"] == 100
    download = client.get(f"/statistics/reports/{report_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pdf = download.get_data()
    assert pdf.startswith(b"%PDF")
    with app.app_context():
        row = db.session.get(FunderReport, report_id)
        assert row.sha256 == hashlib.sha256(pdf).hexdigest()
        assert row.parameters["start"] == "2011-01-01" and row.parameters["threshold"] == 5
        assert row.trigger == "request" and row.build_seconds is not None
    # The staff history keeps the checksum in a details view and shows no internal timing.
    page = client.get("/statistics/reports/").get_data(as_text=True)
    line = page.split(f'id="report-{report_id}"', 1)[1].split("</tr>", 1)[0]
    checksum = line.split('<details class="stat-checksum">', 1)[1].split("</details>", 1)[0]
    assert hashlib.sha256(pdf).hexdigest() in checksum
    assert "Build time" not in page and not re.search(r"\d+\.\d s<", line)
    text = _text(pdf)
    for heading in ("Activity report", "Key figures", "Reports", "Moderation", "Methodology"):
        assert heading in text, heading
    assert "Counts from 1 to 4" in text
    assert re.search(r"\b2 / \d+\b", text), "the stylesheet (page footers) was not applied"
    # The dashboard's figures, as the coordinator sees them, are the report's.
    with app.test_request_context(headers={"Accept-Language": "en"}):
        from flask_babel import force_locale

        with force_locale("en"):
            presented = statistics.present(
                statistics.compute(Scope(Period.year(2011))), statistics.threshold()
            )
            shown = {f.figure.label: f.text for f in presented.key_figures}
            types = statistics.table_view(presented, "reports_by_violence_type")
            regions = statistics.table_view(presented, "reports_by_region")
    html = client.get("/statistics/?start=2011-01-01&end=2011-12-31&_l_=en").get_data(as_text=True)
    for label, value in shown.items():
        assert re.search(rf"^\s*{re.escape(str(label))}\s+{re.escape(value)}\s*$", text, re.M), (
            label,
            value,
        )
        assert re.search(
            rf'<span class="stat-figure-value">{re.escape(value.replace("<", "&lt;"))}</span>'
            rf'\s*<span class="stat-figure-label">{re.escape(str(label))}</span>',
            html,
        ), (label, value)
    assert shown["Reports received"] == "10"
    for view in (types, regions):
        for row in view.rows:
            value = statistics.format_number(row[-1])
            line = rf"{re.escape(row[0][:30])}.*\s{re.escape(value)}\s*$"
            assert re.search(line, text, re.M), (row[0], value)


def test_the_french_report_speaks_french(app, login_as):
    client = login_as("demo-coordinator")
    report_id = _build_on_the_page(client, language="fr", preset="2011-Q2")
    assert _wait(client, report_id)["status"] == "done"
    text = _text(client.get(f"/statistics/reports/{report_id}/download").get_data())
    assert "avr. 2011" in text or "avril 2011" in text  # Babel's French month names
    assert "Vol" in text or "Menaces" in text


def test_who_may_build_read_and_download(app, login_as):
    coordinator = login_as("demo-coordinator")
    report_id = _build_on_the_page(coordinator, preset="2011-03")
    _wait(coordinator, report_id)
    with app.app_context():
        before = db.session.scalar(select(func.count(FunderReport.id)))
    moderator = login_as("demo-moderator")
    assert moderator.get("/statistics/reports/").status_code == 200
    assert moderator.get(f"/statistics/reports/{report_id}/download").status_code == 200
    token = csrf_token(moderator, "/account/second-factor/")  # no build form for her
    refused = moderator.post(
        "/statistics/reports/build",
        data={"preset": "2011", "language": "fr", "csrf_token": token},
    )
    assert refused.status_code in (302, 403)
    for who in ("demo-social-a", "demo-outreach", "demo-relay"):
        client = login_as(who)
        assert client.get("/statistics/reports/").status_code in (302, 403), who
        assert client.get(f"/statistics/reports/{report_id}/download").status_code in (302, 403)
        assert client.get(f"/statistics/reports/{report_id}/progress").status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(func.count(FunderReport.id))) == before
    assert coordinator.get("/statistics/reports/999999/download").status_code == 404


@pytest.mark.parametrize(
    "form",
    [
        {"preset": "custom", "start": "2011-12-31", "end": "2011-01-01"},
        {"preset": "2011-Q9"},
        {"preset": "custom", "start": "2011-01-01", "end": "2011-12-31", "language": "de"},
        {"preset": "custom", "start": "2011-01-01", "end": "2011-12-31", "department": "00"},
    ],
)
def test_a_bad_build_request_says_why_and_builds_nothing(app, login_as, form):
    client = login_as("demo-coordinator")
    with app.app_context():
        before = db.session.scalar(select(func.count(FunderReport.id)))
    token = csrf_token(client, "/statistics/reports/")
    response = client.post(
        "/statistics/reports/build",
        data={"language": "fr", **form, "csrf_token": token},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "alert-warning" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(FunderReport.id))) == before


def test_the_command_builds_and_keeps_the_same_document(app, tmp_path):
    out = tmp_path / "report.pdf"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["reports", "build", "--from", "2011-01-01", "--to", "2011-12-31", "--lang", "en",
              "--out", str(out)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF") and "Methodology" in _text(pdf)
    with app.app_context():
        row = db.session.scalars(
            select(FunderReport)
            .where(FunderReport.trigger == "command")
            .order_by(FunderReport.id.desc())
        ).first()
        assert row.sha256 == hashlib.sha256(pdf).hexdigest() and row.language == "en"
    bad = runner.invoke(
        args=["reports", "build", "--from", "2011-02-30", "--to", "2011-12-31", "--out",
              str(out)]
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "YYYY-MM-DD" in bad.output or "AAAA-MM-JJ" in bad.output  # said in the UI language


def test_the_schedule_builds_last_month_and_last_year_once(app):
    with app.app_context(), unit_of_work():
        built = funder_report.build_scheduled_reports(today=dt.date(2012, 1, 1))
    with app.app_context():
        rows = [db.session.get(FunderReport, i) for i in built]
        assert sorted((r.period_start.isoformat(), r.period_end.isoformat(), r.language)
                      for r in rows) == [
            ("2011-01-01", "2011-12-31", "en"), ("2011-01-01", "2011-12-31", "fr"),
            ("2011-12-01", "2011-12-31", "en"), ("2011-12-01", "2011-12-31", "fr"),
        ]  # fmt: skip
        assert all(r.status == "done" and r.trigger == "schedule" for r in rows)
        assert funder_report.build_scheduled_reports(today=dt.date(2012, 1, 1)) == []
    from backoffice.jobs import JOBS

    assert JOBS["monthly_funder_report"].trigger == {"trigger": "cron", "day": 1, "hour": 4}
    target = JOBS["monthly_funder_report"].target
    assert target == "reports_pdf.funder_report:build_scheduled_reports"


def test_a_build_that_died_shows_as_interrupted_and_the_page_writes_nothing(app, login_as):
    """A process that stopped mid-build leaves its row "running": the list says it failed,
    without writing; the next build request marks it so."""
    with app.app_context():
        stale = FunderReport(
            period_start=dt.date(2011, 5, 1), period_end=dt.date(2011, 5, 31), language="fr",
            parameters={}, trigger="request", status="running", progress=50, step="charts",
            requested_at=utcnow() - dt.timedelta(hours=2),
        )  # fmt: skip
        db.session.add(stale)
        db.session.commit()
        stale_id = stale.id
    client = login_as("demo-coordinator")
    page = client.get("/statistics/reports/").get_data(as_text=True)
    row = page.split(f'id="report-{stale_id}"', 1)[1].split("</tr>", 1)[0]
    assert "Failed" in row and "interrupted" in row and "data-progress-url" not in row
    state = client.get(f"/statistics/reports/{stale_id}/progress").get_json()
    assert state["status"] == "failed" and state["done"] is True
    with app.app_context():
        assert db.session.get(FunderReport, stale_id).status == "running"  # a GET wrote nothing
    report_id = _build_on_the_page(client, preset="2011-02")
    _wait(client, report_id)
    with app.app_context():
        row = db.session.get(FunderReport, stale_id)
        assert (row.status, row.error) == ("failed", "interrupted")


def test_the_report_reads_only_the_projects_own_assets(app, tmp_path):
    """Its stylesheet is an ``asset:``; WeasyPrint's fetcher refuses anything else."""
    with app.test_request_context():
        html = funder_report.render_html(Period.month(2011, 3), "en")
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert stylesheets == ["asset:funder_report.css"]
    assert b"@page" in asset_path(stylesheets[0]).read_bytes()
    secret = tmp_path / "secret.txt"
    secret.write_text("key material")
    for url in (
        "https://example.org/style.css",
        "http://127.0.0.1:5432/",
        "data:text/css,body{}",
        secret.as_uri(),
        "file:///etc/passwd",
        "asset:../funder_report.py",
        "asset:../templates/funder_report.html",
    ):
        with pytest.raises(RefusedURL):
            asset_path(url)
