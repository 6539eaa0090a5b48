"""Rendering every dashboard from the report outputs into static HTML files.

:func:`render_all` is what the analytics runner calls after a run, what ``sideline demo``
calls, and what the service calls when a page is asked for before any run wrote it.
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

from dashboards import page, sinks
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


def build(slug: str, reports: Reports) -> Dashboard:
    """Dashboard ``slug`` with every filter state's text evaluated."""
    board = BOARDS[slug](reports)
    evaluate(board)
    return board


def render_page(slug: str, reports: Reports, now: datetime,
                sink_block: dict[str, Any] | None = None) -> str:  # fmt: skip
    """The HTML of dashboard ``slug``; the overview carries ``sink_block``."""
    block = sink_block if slug == "overview" else None
    if slug == "overview" and block is None:
        block = sinks.summary(None, now, "")
    return page.render(build(slug, reports), now, block)


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
        now: the render time shown on the pages (tests pin it).
    """
    paths = paths_for(source)
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    statuses, origin = sink_status, "live service"
    if statuses is None and fetch_sinks and not isinstance(source, DashboardPaths):
        statuses, origin = sinks.fetch(source), "service admin API"
    block = sinks.summary(list(statuses) if statuses is not None else None, now, origin)
    reports = Reports(paths.reports_root)
    written = [write_atomic(paths.page(slug), render_page(slug, reports, now, block))
               for slug in BOARDS]  # fmt: skip
    written.append(write_atomic(paths.page("index"), index_html(now)))
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


def index_html(now: datetime) -> str:
    """The list of dashboards (no charts, no script)."""
    items = "".join(
        f'<article class="card"><a href="{slug}.html">{html.escape(page.TITLES[slug])}</a>'
        f'<p class="finding">{html.escape(DESCRIPTIONS[slug])}</p></article>'
        for slug in BOARDS
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{page.CSP}">
<title>Dashboards · Sideline</title><style>{page.asset("dashboard.css")}</style></head>
<body>{page.nav("index")}
<section class="bar"><h1>Community dashboards</h1><p class="intro">What the community does
and what it does for the product, rendered {now.strftime("%d %b %Y %H:%M")} UTC from the
analytics reports. Every chart states its finding in one sentence computed from the data.</p>
</section><main><div class="index-list">{items}</div></main></body></html>
"""
