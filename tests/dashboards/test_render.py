"""Rendering: self-contained offline pages, missing reports, sink status, the runner's hook."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from analytics.runner import Runner
from dashboards.paths import PAGES, DashboardPaths, dashboard_urls, paths_for
from dashboards.render import render_all
from service.settings import load_settings
from service.sinks.status import SinkStatus
from tests.dashboards.demo import RENDERED_AT
from tests.dashboards.pages import Page

NOW = RENDERED_AT
"""The demo's render time: the overview's "today" follows it."""


def test_pages_are_self_contained_and_offline(demo_dir: Path):
    for slug in PAGES:
        text = (demo_dir / "dashboards" / f"{slug}.html").read_text()
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        # No resource from anywhere: every script is inline, no link or src attribute at all.
        assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", _markup(text)), slug
        assert not re.search(r"<script[^>]+src=", text), slug
        assert not re.search(r"https?://(?!vega\.github\.io/schema|www\.w3\.org)", _markup(text)), slug
        assert "window.vegaEmbed" in text  # the Vega runtime is inlined once
        assert text.count("window.vegaEmbed=") == 1
    index = (demo_dir / "dashboards" / "index.html").read_text()
    assert all(f'href="{slug}.html"' in index for slug in PAGES)


def _markup(text: str) -> str:
    # The HTML around the inline scripts (the Vega bundle quotes URLs in its own strings).
    return re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)


def test_missing_reports_say_so_and_the_page_still_renders(tmp_path: Path):
    paths = DashboardPaths(tmp_path / "reports", tmp_path / "out")
    written = render_all(paths, now=NOW)
    assert sorted(p.name for p in written) == sorted([*(f"{s}.html" for s in PAGES), "index.html"])
    churn = (tmp_path / "out" / "churn.html").read_text()
    assert "The churn_posting report has not been computed yet: run `sideline jobs run churn_posting`" in churn
    assert "The holdout_uplift report has not been computed yet" in churn
    page = Page(tmp_path / "out" / "events.html")
    assert page.config["datasets"]["contexts"]["rows"] == []
    overview = Page(tmp_path / "out" / "overview.html")
    assert overview.config["ranges"][0]["label"] == "All dates (no data yet)"
    assert "Sink health is not available in this copy" in overview.html


def test_the_overview_carries_the_sink_status_it_is_given(demo_dir: Path, tmp_path: Path):
    paths = DashboardPaths(demo_dir / "warehouse" / "reports", tmp_path / "out")
    status = [SinkStatus(name="segment-main", kind="segment", state="backing_off", cursor=5,
                         last_seq=905, lag=900, dead_letters=0, last_error="HTTP 503")]  # fmt: skip
    render_all(paths, sink_status=status, now=NOW)
    html = (tmp_path / "out" / "overview.html").read_text()
    assert ("1 of 1 sinks need attention: segment-main is backing off with 900 events waiting "
            "(last error: HTTP 503).") in html
    assert f"Status read from the live service at {NOW:%d %b %Y %H:%M:%S} UTC" in html


def test_settings_decide_where_pages_go_and_their_urls(tmp_path: Path):
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    paths = paths_for(settings)
    assert paths.out_dir == tmp_path / "dashboards"
    assert paths.reports_root == tmp_path / "warehouse" / "reports"
    moved = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path),
                                   "SIDELINE_DASHBOARDS__OUTPUT_DIR": str(tmp_path / "site")})
    assert paths_for(moved).out_dir == tmp_path / "site"
    urls = dashboard_urls(load_settings(environ={"SIDELINE_SERVER__PORT": "9100"}))
    assert urls["index"] == "http://127.0.0.1:9100/dashboards/"
    assert urls["events"] == "http://127.0.0.1:9100/dashboards/events.html"


def test_the_runner_renders_the_dashboards_after_a_run(demo_dir: Path, tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(demo_dir / "exports", data / "exports")
    shutil.copytree(demo_dir / "warehouse", data / "warehouse")
    # No service answers on this port, so the static copy says sink status is not available.
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(data),
                                      "SIDELINE_SERVER__PORT": "9"})  # fmt: skip
    results = Runner.from_settings(settings, progress=False).run(["funnel"])
    assert results[0].status == "ok"
    page = Page(data / "dashboards" / "journey.html")
    assert page.rows("funnel") == Page(demo_dir / "dashboards" / "journey.html").rows("funnel")
    assert (data / "dashboards" / "index.html").exists()
    assert "Sink health is not available" in (data / "dashboards" / "overview.html").read_text()


def test_cli_renders_and_prints_where_the_dashboards_are(demo_dir: Path, tmp_path: Path, capsys):
    from service.cli import main

    shutil.copytree(demo_dir / "warehouse" / "reports", tmp_path / "warehouse" / "reports")
    assert main(["dashboards", "render", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"rendered 6 pages into {tmp_path / 'dashboards'}" in out
    assert "  events      http://127.0.0.1:8000/dashboards/events.html" in out
    assert f"static copies, open from disk: {tmp_path / 'dashboards' / 'index.html'}" in out
    assert Page(tmp_path / "dashboards" / "events.html").rows("contexts")


def test_the_events_page_limits_are_the_documented_ones(demo_dir: Path):
    """docs/dashboards.md promises the top-N chart and the ranking's first rows; the rendered
    page carries those numbers (the table's page size and the chart's rank filter)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "dashboards.md").read_text()
    top_n = int(re.search(r"Most discussed contexts \(top (\d+),", doc)[1])
    first = int(re.search(r"first (\d+) rows, then \"Show all\"", doc)[1])
    page = Page(demo_dir / "dashboards" / "events.html")
    ranking = next(t for t in page.config["tables"] if t["id"] == "ranking")
    assert ranking["page_size"] == first
    assert len(page.rows("contexts")) > first  # the demo needs "Show all": the limit is exercised
    filters = [t["expr"] for d in page.chart("top")["spec"]["data"] for t in d.get("transform", [])
               if t.get("type") == "filter"]  # fmt: skip
    assert f"datum.rank <= {top_n}" in filters
