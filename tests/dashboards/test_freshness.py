"""What the pages say about their data's freshness, from real runs: the demo's, a run whose jobs
failed (the pages the runner itself re-rendered after it), a report left behind by the runs,
the runner's records held by another process, and reports copied without their records."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from analytics.io import Warehouse
from dashboards import freshness
from dashboards.paths import PAGES, DashboardPaths
from dashboards.render import render_all
from tests.dashboards.demo import RENDERED_AT
from tests.dashboards.pages import Page
from tests.dashboards.stale import FAILING, LEFT_BEHIND, NEW_DAYS

USES = {
    "overview": ["community_health", "moderation_daily", "engagement_daily"],
    "churn": ["churn_posting", "holdout_uplift", "retention_curve"],
    "events": ["engagement_daily", "engagement", "engagement_timeline"],
    "journey": ["funnel", "journey"],
    "moderation": ["moderation_daily", "moderation_checks"],
}
"""The reports each page reads, in the order its parts name them."""


def said(page: Page) -> str:
    """The freshness line under the page's title, as a reader gets it."""
    m = re.search(r'</h1><p class="freshness" id="freshness">(.*?)</p>', page.html)
    assert m, "no freshness line right under the title"
    return html.unescape(m.group(1))


def title(page: Page) -> str:
    m = re.search(r"<title>(.*?)</title>", page.html)
    assert m
    return html.unescape(m.group(1))


def test_the_demo_pages_state_their_period_and_computation_and_nothing_is_stale(demo_dir: Path):
    last = Warehouse(demo_dir / "warehouse").days()[-1]
    facts = freshness.read(demo_dir / "warehouse" / "reports")
    computed = sorted(r.computed_at for r in facts.reports.values() if r.computed_at)
    assert facts.records == "read" and facts.warehouse_day == last and computed
    for slug in PAGES:
        page = Page(demo_dir / "dashboards" / f"{slug}.html")
        fresh = page.config["freshness"]
        assert fresh["stale"] == [] and fresh["caveat"] == "", slug
        assert '<section class="stale"' not in page.html and "out of date" not in title(page)
        text = said(page)
        assert text == f"{fresh['period']} {fresh['computed']}", slug
        assert fresh["computed"].startswith(f"The reports were last computed on "
                                            f"{computed[0].day} {computed[0]:%b %Y}"), slug
        assert f"Page rendered {RENDERED_AT:%d %b %Y %H:%M} UTC" in page.html
    day = f"{last.day} {last:%b %Y}"
    overview = said(Page(demo_dir / "dashboards" / "overview.html"))
    assert overview.startswith(f"Data through {day} (UTC); days up to ")
    journey = said(Page(demo_dir / "dashboards" / "journey.html"))
    assert journey.startswith(f"Data through {day} ") and "the latest event in the warehouse" in journey
    assert said(Page(demo_dir / "dashboards" / "churn.html")).startswith("Cohort periods through ")
    assert said(Page(demo_dir / "dashboards" / "events.html")).startswith("Contexts that started through ")


def test_a_run_whose_jobs_failed_renders_pages_that_name_the_stale_reports(failed_dir: Path):
    """The runner re-renders the pages at the end of the failed run, from inside its watermark
    store: the pages read its records there, and every report a page uses whose run failed is
    named, with the error, while the numbers stay those of the last good run."""
    for slug in PAGES:
        page = Page(failed_dir / "dashboards" / f"{slug}.html")
        fresh = page.config["freshness"]
        expected = [r for r in USES[slug] if r in FAILING]
        assert [n["report"] for n in fresh["stale"]] == expected, slug
        assert fresh["caveat"] == ""  # the records were read while the runner held them
        if not expected:
            assert '<section class="stale"' not in page.html and "out of date" not in title(page)
            continue
        assert title(page).endswith(" (out of date) · Sideline"), slug
        for n in fresh["stale"]:
            assert n["short"] == "failed on its last run"
            assert n["reasons"][0].startswith("Its last run, started "), n
            assert ('failed: ExportError: users.csv row 1: column "signed_up_at": expected an '
                    'ISO-8601 timestamp, got "last tuesday".') in n["reasons"][0]
            assert "The numbers shown are from its last successful run, which ended " in n["reasons"][0]
        notice = html.unescape(re.search(r'<section class="stale".*?</section>', page.html, re.S)[0])
        assert all(f"<strong>{r}</strong>" in notice for r in expected), slug
        # Each card of a stale report says so; the others do not.
        for chart in page.config["charts"]:
            card = re.search(rf'<article [^>]*id="chart-{chart["id"]}">(.*?)</article>', page.html, re.S)
            assert card, chart["id"]
            stale = [r for r in expected if r in _source(card[1])]
            assert ('class="stale-note"' in card[1]) == bool(stale), (slug, chart["id"])
    overview = Page(failed_dir / "dashboards" / "overview.html")
    assert overview.rows("kinds")  # the last good run's rows are still drawn
    index = (failed_dir / "dashboards" / "index.html").read_text()
    assert "<title>Dashboards (out of date) · Sideline</title>" in index
    notice = html.unescape(re.search(r'<section class="stale".*?</section>', index, re.S)[0])
    assert f"Out of date: {len(set(FAILING) & {r for rs in USES.values() for r in rs})} reports</h2>" in notice
    assert ("<strong>funnel</strong> and <strong>journey</strong>, each: it failed on its last "
            "run. Used by Overview, Events, Churn vs posting and Journey & funnel.</li>") in notice
    assert index.count('<p class="stale-note">') == 4  # every dashboard but moderation

def _source(card: str) -> list[str]:
    m = re.search(r'<p class="meta">.*? · report: (.*?)</p>', card)
    assert m
    return [s.strip() for s in m.group(1).split(",")]


def test_a_report_left_behind_by_the_runs_is_named_on_its_page(behind_dir: tuple[Path, datetime]):
    data, morning = behind_dir
    last = Warehouse(data / "warehouse").days()[-1]
    seen = last - timedelta(days=NEW_DAYS)
    moderation = Page(data / "dashboards" / "moderation.html")
    stale = moderation.config["freshness"]["stale"]
    assert [n["report"] for n in stale] == [LEFT_BEHIND]
    assert stale[0]["reasons"] == [
        f"Its data end on {seen.day} {seen:%b %Y}, {NEW_DAYS} days before the latest data "
        f"({last.day} {last:%b %Y}, in the warehouse)."]
    assert stale[0]["parts"] == ["“Actions by check”", "“Holds overturned on review, by check”"]
    text = said(moderation)
    assert text.startswith(f"Data through {last.day} {last:%b %Y} (UTC); ")
    assert f"{LEFT_BEHIND} only reaches {seen.day} {seen:%b %Y}." in text
    for slug in ("overview", "churn", "events", "journey"):
        assert Page(data / "dashboards" / f"{slug}.html").config["freshness"]["stale"] == [], slug
    # The overview's "today" is the render's: the new last day is its last full day.
    overview = Page(data / "dashboards" / "overview.html")
    assert morning.date() == last + timedelta(days=1)
    assert overview.finding("active").startswith(f"On {last.day} {last:%b %Y}, ")
    assert f"Page rendered {morning:%d %b %Y %H:%M} UTC" in overview.html


def test_records_held_by_another_process_are_said_to_be_busy(demo_dir: Path, tmp_path: Path):
    """A render while a run in another process holds the runner's records (the service renders
    a page on demand while its scheduler runs jobs) cannot read them: its pages say so, rather
    than calling every report fresh."""
    reports = tmp_path / "reports"
    shutil.copytree(demo_dir / "warehouse" / "reports", reports)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom analytics.state import WatermarkStore\n"
         f"with WatermarkStore(__import__('pathlib').Path({str(reports / '_state.duckdb')!r})):\n"
         "    print('held', flush=True)\n    time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        facts = freshness.read(reports, wait=0.5)
        assert facts.records == "busy"
        render_all(DashboardPaths(reports, tmp_path / "out"), fetch_sinks=False, now=RENDERED_AT)
    finally:
        holder.kill()
        holder.wait()
    page = Page(tmp_path / "out" / "journey.html")
    assert page.config["freshness"]["stale"] == []
    text = said(page)
    assert text.startswith("The report files were last written on ")
    assert text.endswith("The analytics runner's records were in use by a run when this page was "
                         "rendered, so this page cannot tell whether a report's last run failed, "
                         "nor which days are final. The run renders the pages again when it ends.")
    # Once the run lets go, the records are read again.
    assert freshness.read(reports).records == "read"


def test_reports_copied_without_the_runner_records_say_what_cannot_be_told(demo_dir: Path,
                                                                          tmp_path: Path):
    reports = tmp_path / "reports"
    shutil.copytree(demo_dir / "warehouse" / "reports", reports,
                    ignore=shutil.ignore_patterns("_state.duckdb*"))  # fmt: skip
    render_all(DashboardPaths(reports, tmp_path / "out"), fetch_sinks=False, now=RENDERED_AT)
    text = said(Page(tmp_path / "out" / "overview.html"))
    assert re.fullmatch(r"The report files were last written on \d+ \w+ \d{4} (at|between) .*"
                        r"The analytics runner's records were not found beside the reports, so "
                        r"this page cannot tell whether a report's last run failed, nor which "
                        r"days are final\.", text), text  # fmt: skip
    assert not (reports / "_state.duckdb").exists()  # reading never creates them


@pytest.mark.parametrize("slug", PAGES)
def test_pages_without_reports_say_none_has_been_computed(tmp_path: Path, slug: str):
    render_all(DashboardPaths(tmp_path / "reports", tmp_path / "out"), fetch_sinks=False,
               now=RENDERED_AT)  # fmt: skip
    text = said(Page(tmp_path / "out" / f"{slug}.html"))
    assert text.startswith("None of the reports of this page has been computed yet.")
