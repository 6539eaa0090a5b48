"""The pages state the definitions the reports were computed with, not the defaults: the demo
data run through the real jobs with other settings (one-week cohorts, churn after 21 days, 90%
intervals, a 15-minute timeline margin) and rendered again."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from dashboards.paths import DashboardPaths
from dashboards.render import render_all
from tests.dashboards.demo import RENDERED_AT
from tests.dashboards.pages import Page

OTHER = AnalyticsSettings(segment_weeks=1, churn_days=21, retention_days=14, confidence=0.9,
                          timeline_margin_minutes=15)  # fmt: skip


@pytest.fixture(scope="module")
def other(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pages rendered from the demo data's reports computed with :data:`OTHER`."""
    root = tmp_path_factory.mktemp("definitions")
    shutil.copytree(demo_dir / "exports", root / "exports")
    shutil.copytree(demo_dir / "warehouse" / "events", root / "warehouse" / "events")
    results = Runner(root / "warehouse", root / "exports", OTHER, progress=False).run(
        ["churn_posting", "holdout_uplift", "retention_curve", "engagement", "engagement_daily",
         "engagement_timeline"])  # fmt: skip
    assert [r.status for r in results] == ["ok"] * 6, [r.error for r in results]
    render_all(DashboardPaths(root / "warehouse" / "reports", root / "out"), fetch_sinks=False,
               now=RENDERED_AT)  # fmt: skip
    return root / "out"


def intro(page: Page) -> str:
    m = re.search(r'<p class="intro">(.*?)</p>', page.html, re.S)
    assert m
    return html.unescape(m.group(1))


def footer(page: Page) -> str:
    m = re.search(r"<footer>(.*?)</footer>", page.html, re.S)
    assert m
    return " ".join(m.group(1).split())


def test_churn_states_the_period_horizon_and_level_it_was_computed_with(other: Path, demo_dir: Path):
    page = Page(other / "churn.html")
    text = intro(page)
    assert "Users of each cohort period (one week) fall into segments" in text
    assert "churn means no product use in the 21 days after the period" in text
    assert "two weeks" not in text and "28 days" not in text
    rates = page.chart("rates")
    assert rates["texts"] and all("(90% interval " in t for t in rates["texts"].values())
    assert all("95%" not in t for c in page.config["charts"] for t in c["texts"].values())
    units = [html.unescape(u) for u in re.findall(r'<p class="meta">(.*?)</p>', page.html)]
    assert ("share of the segment with no product use in the 21 days after the period; lines are "
            "90% intervals · report: churn_posting") in units
    assert [u for u in units if "intervals" in u] and all("90% intervals" in u for u in units
                                                          if "intervals" in u)  # fmt: skip
    tooltips = json.dumps([c["spec"] for c in page.config["charts"]])
    assert "90% low" in tooltips and "95% low" not in tooltips
    assert "Intervals are 90% confidence intervals." in footer(page)
    # The default run says the defaults, from its own rows.
    default = Page(demo_dir / "dashboards" / "churn.html")
    assert "cohort period (two weeks)" in intro(default)
    assert "no product use in the 28 days after the period" in intro(default)
    assert "(95% interval " in default.text("rates")
    assert "Intervals are 95% confidence intervals." in footer(default)


def test_events_state_the_timeline_margin_it_was_computed_with(other: Path, demo_dir: Path):
    text = intro(Page(other / "events.html"))
    assert "in its room from 15 minutes before it starts to 15 minutes after it ends" in text
    assert "an hour" not in text
    default = intro(Page(demo_dir / "dashboards" / "events.html"))
    assert "in its room from an hour before it starts to an hour after it ends" in default
    assert "confidence intervals" not in footer(Page(demo_dir / "dashboards" / "events.html"))
