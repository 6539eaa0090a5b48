"""Benchmark of the events dashboard with 1,000 contexts: page weight and time to first chart.

    .venv/bin/python benchmarks/dashboards.py [--contexts N] [--runs N]

Generates a report fixture of ``--contexts`` contexts over 30 days (the ``engagement``,
``engagement_kind``, ``engagement_daily`` and ``engagement_timeline`` reports, one Parquet file
per day, in the layout the runner writes, the timelines and days summing to the engagement
rows), renders the events
dashboard from it, and loads the page from disk in headless Chromium ``--runs`` times, each in
a fresh browser context. Time to first chart is when the first data mark of the first chart
appears in the SVG (a MutationObserver installed before the page's own scripts), measured
from navigation start; the page's own ``sideline:first-chart`` mark is reported beside it.

Baseline, in the same run: the first chart alone (the same Vega-Lite spec and the same 1,000
rows) exported the conventional offline way, ``vl_convert.vegalite_to_html(spec,
bundle=True)``. Prints a table and writes ``benchmarks/results/dashboards.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from benchmarks._common import peak_rss_mb, save, table  # noqa: E402
from dashboards.paths import DashboardPaths  # noqa: E402
from dashboards.render import render_all  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
FIRST_MARK = """
window.__firstMark = null;
new MutationObserver((_, obs) => {
  if (document.querySelector('svg .role-mark > path, svg .role-mark > text, canvas')) {
    window.__firstMark = performance.now();
    obs.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
START = date(2026, 9, 28)
DAYS = 30
MARGIN = 60


def fixture(reports: Path, contexts: int, seed: int = 7) -> dict[str, int]:
    """The four engagement reports for ``contexts`` contexts; returns their row counts."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["match", "dashboard", "video"], size=contexts, p=[0.8, 0.1, 0.1])
    day = rng.integers(0, DAYS, size=contexts)
    start_minute = rng.integers(10 * 60, 21 * 60, size=contexts)
    duration = np.where(kinds == "match", 110, rng.integers(30, 240, size=contexts))
    viewers = rng.integers(50, 5000, size=contexts)
    timeline_rows: list[dict[str, Any]] = []
    rows = []
    for i in range(contexts):
        starts = datetime(START.year, START.month, START.day, tzinfo=UTC) + timedelta(
            days=int(day[i]), minutes=int(start_minute[i]))
        minutes = np.arange(-10, int(duration[i]) + 10)
        rate = np.full(minutes.size, 0.4 + viewers[i] / 2000)
        for goal in rng.integers(0, int(duration[i]), size=rng.integers(1, 5)):
            rate += 25 * np.exp(-np.abs(minutes - goal) / 1.5) * (viewers[i] / 2000)
        msgs = rng.poisson(rate * 0.4)
        reacts = rng.poisson(rate)
        votes = rng.poisson(0.05, size=minutes.size)
        active = (msgs + reacts + votes) > 0
        inter = msgs + reacts
        peak = int(np.lexsort((minutes, -inter))[0])
        cid = f"{kinds[i]}:{i:05d}"
        window = (START + timedelta(days=int(day[i]))).isoformat()
        for m, a, r, v in zip(minutes[active], msgs[active], reacts[active], votes[active], strict=True):
            timeline_rows.append({"window": window, "context_id": cid, "kind": str(kinds[i]),
                                  "minute": int(m), "messages": int(a), "reactions": int(r),
                                  "poll_votes": int(v), "interactions": int(a + r + v)})  # fmt: skip
        openers = int(viewers[i] * rng.uniform(0.2, 0.5))
        n_msgs, n_reacts, n_votes = int(msgs.sum()), int(reacts.sum()), int(votes.sum())
        moderated = int(rng.binomial(n_msgs, 0.05))
        rows.append({
            "window": window, "context_id": cid, "kind": str(kinds[i]),
            "title": f"{str(kinds[i]).capitalize()} {i:04d}", "starts_at": starts,
            "ends_at": starts + timedelta(minutes=int(duration[i])),
            "duration_minutes": float(duration[i]), "viewers": int(viewers[i]),
            "viewers_source": "export", "openers": openers, "opened_share": openers / viewers[i],
            "posters": int(openers * 0.3), "messages": n_msgs, "reactions": n_reacts,
            "poll_votes": n_votes, "interactions": n_msgs + n_reacts + n_votes,
            "interactions_per_viewer": (n_msgs + n_reacts + n_votes) / viewers[i],
            "peak_minute": int(minutes[peak]), "peak_interactions": int(inter[peak]),
            "messages_per_minute": n_msgs / duration[i], "reactions_per_minute": n_reacts / duration[i],
            "moderated": moderated, "blocked": 0, "attempted": n_msgs,
            "moderation_rate": moderated / n_msgs if n_msgs else None,
            "rank_in_kind": 0,
        })  # fmt: skip
    engagement = pl.DataFrame(rows).with_columns(
        pl.col("interactions").rank("min", descending=True).over("window", "kind")
        .cast(pl.Int32).alias("rank_in_kind"))  # fmt: skip
    timeline = pl.DataFrame(timeline_rows)
    by_kind = engagement.group_by("window", "kind").agg(
        pl.len().alias("contexts"), pl.col("viewers").sum(),
        *[pl.col(c).sum() for c in ("openers", "posters", "messages", "reactions", "poll_votes",
                                    "interactions", "moderated")],
        pl.col("duration_minutes").sum().alias("minutes"))  # fmt: skip
    key = ["window", "context_id", "kind", "day"]
    volumes = ["messages", "reactions", "poll_votes", "interactions"]
    active_days = (
        timeline.join(engagement.select("context_id", "starts_at"), on="context_id")
        .with_columns((pl.col("starts_at") + pl.duration(minutes=pl.col("minute"))).dt.date()
                      .alias("day"))
        .group_by(key).agg(pl.col(volumes).sum())
    )  # fmt: skip
    daily = (
        engagement.select("window", "context_id", "kind", pl.col("starts_at").dt.date().alias("day"),
                          "openers", "posters", "moderated", "blocked")
        .join(active_days, on=key, how="full", coalesce=True)
        .with_columns(pl.col("openers", "posters", "moderated", "blocked", *volumes).fill_null(0)
                      .cast(pl.Int64))
        .with_columns((pl.col("messages") + pl.col("blocked")).alias("attempted"))
    )  # fmt: skip
    for name, frame in (("engagement", engagement), ("engagement_kind", by_kind),
                        ("engagement_timeline", timeline), ("engagement_daily", daily)):  # fmt: skip
        folder = reports / name
        folder.mkdir(parents=True, exist_ok=True)
        for (window,), part in frame.group_by("window"):
            part.write_parquet(folder / f"{window}.parquet")
    return {"engagement": engagement.height, "engagement_timeline": timeline.height,
            "engagement_daily": daily.height}


def baseline_page(reports: Path, out: Path) -> Path:
    """The first chart of the events page alone, with the same rows, exported the usual
    offline way: ``vl_convert.vegalite_to_html(spec, bundle=True)``."""
    import vl_convert

    from dashboards.boards import events as board
    from dashboards.charts import vega_lite
    from dashboards.sources import Reports

    spec = vega_lite(board.top_spec())
    spec["data"] = {"values": board.build(Reports(reports)).datasets["contexts"]}
    out.write_text(vl_convert.vegalite_to_html(spec, bundle=True))
    return out


def measure(browser: Any, url: str, runs: int) -> dict[str, float]:
    first, own, drawn, loaded = [], [], [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.add_init_script(FIRST_MARK)
        page.goto(url, wait_until="load")
        page.wait_for_function("window.__firstMark !== null", timeout=30_000)
        first.append(page.evaluate("window.__firstMark"))
        loaded.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd"))
        if page.evaluate("document.body.dataset.ready !== undefined"):
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            own.append(page.evaluate("performance.getEntriesByName('sideline:first-chart')[0].startTime"))
            drawn.append(page.evaluate("performance.getEntriesByName('sideline:charts-drawn')[0].startTime"))
        assert not errors, errors
        context.close()
    out = {"first_chart_ms": statistics.median(first), "first_chart_ms_max": max(first),
           "load_event_ms": statistics.median(loaded)}  # fmt: skip
    if own:
        out["own_first_chart_mark_ms"] = statistics.median(own)
        out["all_parts_drawn_ms"] = statistics.median(drawn)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="sideline-dash-bench-"))
    try:
        t0 = time.perf_counter()
        counts = fixture(work / "reports", args.contexts)
        generated = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_all(DashboardPaths(work / "reports", work / "out"), fetch_sinks=False)
        rendered = time.perf_counter() - t0
        render_rss = peak_rss_mb()
        events = work / "out" / "events.html"
        base = baseline_page(work / "reports", work / "baseline.html")
        pages = {"events dashboard": events, "baseline: first chart via vegalite_to_html": base}
        results: dict[str, dict[str, float]] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            measure(browser, events.as_uri(), 1)  # warm the disk cache and the browser
            for name, path in pages.items():
                raw = path.read_bytes()
                results[name] = {"page_bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, 6)),
                                 **measure(browser, path.as_uri(), args.runs)}  # fmt: skip
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, ref = results["events dashboard"], results["baseline: first chart via vegalite_to_html"]
    rows = [[name, r["page_bytes"] / 1e6, r["gzip_bytes"] / 1e6, r["first_chart_ms"],
             r["first_chart_ms_max"], r.get("all_parts_drawn_ms", float("nan")),
             r["first_chart_ms"] / ref["first_chart_ms"], r["page_bytes"] / ref["page_bytes"]]
            for name, r in results.items()]  # fmt: skip
    print(f"events dashboard, {args.contexts:,} contexts ({counts['engagement_timeline']:,} timeline "
          f"rows), {args.runs} loads from disk in headless Chromium, medians")
    print(table(["page", "MB", "MB gzip", "first chart ms", "max ms", "all parts ms",
                 "time / baseline", "bytes / baseline"], rows))  # fmt: skip
    target = "met" if ours["first_chart_ms"] <= 1000 else "MISSED"
    print(f"target first chart <= 1000 ms: {target}; render of the 5 dashboards {rendered:.2f} s "
          f"(fixture {generated:.2f} s); peak RSS of this process {render_rss:,.0f} MiB")
    save("dashboards", {
        "contexts": args.contexts, "runs": args.runs, "rows": counts, "render_seconds": rendered,
        "fixture_seconds": generated, "peak_rss_mb": render_rss, "pages": results,
        "first_chart_ratio_to_baseline": ours["first_chart_ms"] / ref["first_chart_ms"],
        "bytes_ratio_to_baseline": ours["page_bytes"] / ref["page_bytes"],
        "target_first_chart_ms": 1000, "target_met": target == "met",
    })  # fmt: skip
    print(json.dumps({"saved": "benchmarks/results/dashboards.json"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
