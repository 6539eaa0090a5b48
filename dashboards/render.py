"""Rendering every dashboard from the report outputs into static HTML files.

:func:`render_all` is what the analytics runner calls after a run, what ``sideline demo``
calls, and what the service calls when a page is asked for before any run wrote it. One
clock serves the whole render: the time the pages state, the overview's "today" (a day still
in progress) and the sink status's time are the same ``now``.
"""

from __future__ import annotations

import html
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboards import freshness, page, sinks
from dashboards.boards import churn, events, journey, moderation, overview
from dashboards.model import Dashboard, evaluate
from dashboards.paths import DashboardPaths, paths_for
from dashboards.sources import Reports

log = logging.getLogger(__name__)

BOARDS: dict[str, Callable[[Reports], Dashboard]] = {
    "overview": overview.build,
    "churn": churn.build,
    "events": events.build,
    "journey": journey.build,
    "moderation": moderation.build,
}
"""Dashboard builders by page slug, in navigation order."""

DESCRIPTIONS = {
    "overview": "Daily, weekly and monthly active members, messages, who posts, moderation "
                "rate, engagement by kind of context, and whether events reach the sinks.",
    "churn": "Do posters churn less? Churn per segment with intervals, the naive difference "
             "beside the one adjusted for prior activity, retention curves, and the holdout.",
    "events": "Which matches and other contexts drew the most conversation, and a minute-by-"
              "minute timeline of each with its peak moments.",
    "journey": "How users reach the community after signing up, and the funnel from viewing "
               "a context to posting again.",
    "moderation": "What the moderation pipeline does, which checks act, how often reviewers "
                  "overturn them, and how long reviews take.",
}  # fmt: skip


def build(slug: str, reports: Reports, now: datetime | None = None) -> Dashboard:
    """Dashboard ``slug`` with every filter state's text evaluated; the overview's "today" is
    ``now``'s UTC day (the clock's when None)."""
    if slug == "overview":
        board = overview.build(reports, today=now.astimezone(UTC).date() if now else None)
    else:
        board = BOARDS[slug](reports)
    evaluate(board)
    return board


def render_page(slug: str, reports: Reports, now: datetime,
                sink_block: dict[str, Any] | None = None,
                facts: freshness.Facts | None = None) -> str:  # fmt: skip
    """The HTML of dashboard ``slug``; the overview carries ``sink_block``. ``facts`` (read
    from the reports' folder when None) say how fresh its reports are."""
    if slug == "overview" and sink_block is None:
        sink_block = sinks.summary(None, now, "")
    facts = facts if facts is not None else freshness.read(reports.root)
    return _page(slug, reports, now, sink_block, facts)[0]


def _page(slug: str, reports: Reports, now: datetime, sink_block: dict[str, Any] | None,
          facts: freshness.Facts) -> tuple[str, freshness.PageFreshness]:  # fmt: skip
    """The HTML of dashboard ``slug`` and what it says about its reports' freshness."""
    board = build(slug, reports, now)
    fresh = freshness.for_page(facts, board)
    return page.render(board, now, sink_block if slug == "overview" else None, fresh), fresh


def render_all(
    source: Any,
    *,
    sink_status: Sequence[Any] | None = None,
    fetch_sinks: bool = True,
    now: datetime | None = None,
) -> list[Path]:
    """Render every dashboard from the report outputs; returns the files written.

    Args:
        source: service settings (reports under the analytics warehouse, pages under
            ``dashboards.output_dir`` or ``<data_dir>/dashboards``) or a :class:`DashboardPaths`.
        sink_status: the forwarder's ``status()`` when the caller runs inside the service.
        fetch_sinks: otherwise ask a running service's admin API (settings only).
        now: the render time: the time the pages state and the overview's "today" (tests
            pin it; the clock's when None).
    """
    paths = paths_for(source)
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    statuses, origin = sink_status, "live service"
    if statuses is None and fetch_sinks and not isinstance(source, DashboardPaths):
        statuses, origin = sinks.fetch(source), "service admin API"
    block = sinks.summary(list(statuses) if statuses is not None else None, now, origin)
    reports = Reports(paths.reports_root)
    facts = freshness.read(paths.reports_root)
    written, fresh = [], {}
    for slug in BOARDS:
        text, fresh[slug] = _page(slug, reports, now, block, facts)
        written.append(write_atomic(paths.page(slug), text))
    written.append(write_atomic(paths.page("index"), index_html(now, fresh)))
    log.info("rendered %d dashboards into %s in %.2f s", len(BOARDS), paths.out_dir,
             time.perf_counter() - started)  # fmt: skip
    return written


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so a reader (or the service) sees the old or the new page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def index_html(now: datetime, fresh: dict[str, freshness.PageFreshness] | None = None) -> str:
    """The list of dashboards (no charts, no script), each with how fresh its reports are."""
    fresh = fresh or {}
    items = "".join(
        f'<article class="card"><a href="{slug}.html">{html.escape(page.TITLES[slug])}</a>'
        f'<p class="finding">{html.escape(DESCRIPTIONS[slug])}</p>'
        f"{_index_freshness(fresh.get(slug))}</article>"
        for slug in BOARDS
    )
    stale = sorted({n.report for f in fresh.values() for n in f.stale})
    title = f"Dashboards{' (out of date)' if stale else ''} · Sideline"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{page.CSP}">
<title>{title}</title><style>{page.asset("dashboard.css")}</style></head>
<body>{page.nav("index")}
<section class="bar"><h1>Community dashboards</h1><p class="intro">What the community does
and what it does for the product, from the analytics reports; this list was rendered
{now.strftime("%d %b %Y %H:%M")} UTC. Every chart states its finding in one sentence computed
from the data, and every page says which days its data cover and when its reports were
computed.</p>{page.stale_html(_index_notices(fresh), "Used by") if stale else ""}
</section><main><div class="index-list">{items}</div></main></body></html>
"""


def _index_freshness(fresh: freshness.PageFreshness | None) -> str:
    if fresh is None:
        return ""
    note = page.stale_note(fresh.stale, "its page says why")
    return f'<p class="freshness">{html.escape(fresh.sentence)}</p>{note}'


def _index_notices(fresh: dict[str, freshness.PageFreshness]) -> list[freshness.Notice]:
    """One notice per stale report, in a few words (its page says why in full), naming the
    dashboards that use it."""
    out: dict[str, freshness.Notice] = {}
    for slug, f in fresh.items():
        for n in f.stale:
            seen = out.get(n.report)
            pages = [*(seen.parts if seen else []), page.TITLES[slug]]
            out[n.report] = freshness.Notice(n.report, [f"It {n.short}."], n.short, pages)
    return list(out.values())
