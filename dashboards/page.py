"""HTML of one dashboard page: self-contained, so it opens from disk without a network.

The page inlines its CSS, its script, its data (JSON blocks) and the Vega runtime
(``vl_convert.javascript_bundle()``, once per page), and forbids every network request with a
Content-Security-Policy. Text for the default filter state is written into the HTML, so the
findings read correctly before (and without) the script.
"""

from __future__ import annotations

import functools
import html
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec

from dashboards.freshness import Notice, PageFreshness
from dashboards.model import ALL_KINDS, Chart, Dashboard, Table, Tile

TITLES = {
    "overview": "Overview", "churn": "Churn vs posting", "events": "Events",
    "journey": "Journey & funnel", "moderation": "Moderation",
}  # fmt: skip
"""Navigation labels by page slug, in order."""

CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; form-action 'self'; base-uri 'none'")  # fmt: skip
"""No fetch, no external script or image: an offline page stays offline. Vega compiles its
expressions with ``Function``, hence ``unsafe-eval``."""

SINKS_MARK = '<script type="application/json" id="sinks-data">'
"""Start of the sink-status block, which the service swaps for live status when serving."""

_encode = msgspec.json.Encoder().encode


@functools.cache
def asset(name: str) -> str:
    """A file of ``dashboards/static``."""
    return resources.files("dashboards").joinpath("static", name).read_text()


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script, from the installed vl-convert package."""
    import vl_convert

    bundle: str = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    return bundle


def json_block(value: Any) -> str:
    """``value`` as JSON safe inside a ``<script>`` element."""
    return _encode(value).decode().replace("</", "<\\/").replace("<!--", "<\\!--")


def columnar(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows as ``{"fields": [...], "rows": [[...], ...]}`` (half the size of a list of dicts)."""
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    return {"fields": fields, "rows": [[r.get(f) for f in fields] for r in rows]}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def nav(current: str) -> str:
    links = [
        f'<a data-page="{slug}.html" href="{slug}.html"'
        f'{" aria-current=page" if slug == current else ""}>{_e(label)}</a>'
        for slug, label in TITLES.items()
    ]
    return (
        '<header class="top"><div class="brand">Sideline<span>community dashboards</span></div>'
        f'<nav>{"".join(links)}</nav>'
        '<form class="served-only" method="post" action="logout" hidden>'
        '<button type="submit">Sign out</button></form></header>'
    )


def _default(part: Tile | Chart | Table, board: Dashboard) -> str:
    return part.texts.get(f"{board.ranges[0].key}|{ALL_KINDS}", "")


def tile_html(t: Tile, board: Dashboard) -> str:
    return (f'<div class="tile" data-tile="{_e(t.id)}"><div class="label">{_e(t.label)}</div>'
            f'<div class="value">{_e(_default(t, board))}</div>'
            f'<div class="hint">{_e(t.hint)}</div></div>')  # fmt: skip


IGNORES_KIND = "kind-ignored"
"""Class of the lines saying which parts the kind filter leaves alone; the page shows them
while a kind is selected."""


def kind_scope(board: Dashboard) -> str:
    """One plain sentence on what the kind filter does not change (empty when every part
    follows it, or the page has no kind filter)."""
    if not board.kinds:
        return ""
    follows = [f"“{c.title}”" for c in board.charts if c.kind_field and not c.detail]
    ignores = [f"“{c.title}”" for c in board.charts if not c.kind_field and not c.detail]
    tiles = any(not t.kind_field for t in board.tiles)
    if not ignores and not tiles:
        return ""
    rest = (["the tiles"] if tiles else []) + ignores
    only = f" applies only to {_list(follows)};" if follows else " applies to nothing here;"
    return (f"The context kind filter{only} {_list(rest)} count every room, whatever kind is "
            "selected.")


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _kind_note(text: str) -> str:
    return f'<p class="note {IGNORES_KIND}" hidden>{_e(text)}</p>'


def chart_html(c: Chart, board: Dashboard, fresh: PageFreshness | None = None) -> str:
    """A chart card. The drawing is an image named by the chart's title and described by its
    finding; the numbers it draws are in a data table under it (filled by the script from the
    drawn chart)."""
    title = _e(c.title).replace("{item}", '<span class="item-label"></span>')
    name = _e(c.title.replace("{item}", "the selected context"))
    finding = f"finding-{_e(c.id)}"
    body = (f'<p class="missing">{_e(c.missing)}</p>' if c.missing else
            f'<p class="finding" id="{finding}">{_e(_default(c, board))}</p>'
            f'<div class="vis" role="img" aria-label="{name}" aria-describedby="{finding}"></div>'
            '<p class="empty" hidden>No data for this selection.</p>'
            '<details class="data-table" hidden><summary>Data table</summary>'
            f'<div class="table-wrap"><table><caption>The numbers drawn in “{name}”</caption>'
            "<thead></thead><tbody></tbody></table></div></details>")  # fmt: skip
    note = f'<p class="note">{_e(c.note)}</p>' if c.note else ""
    if board.kinds and not c.kind_field and not c.detail:
        note += _kind_note("Not filtered by kind: this chart counts every room.")
    return (f'<article class="card{" wide" if c.wide else ""}" id="chart-{_e(c.id)}">'
            f'<h2>{title}</h2>{_stale_notes(c.source, fresh)}{body}{note}'
            f'<p class="meta">{_e(c.unit)} · report: {_e(c.source)}</p></article>')  # fmt: skip


def table_html(t: Table, board: Dashboard, fresh: PageFreshness | None = None) -> str:
    heading = f"table-{_e(t.id)}-title"
    return (f'<article class="card wide" id="table-{_e(t.id)}"><h2 id="{heading}">{_e(t.title)}</h2>'
            f'{_stale_notes(t.source, fresh)}<p class="finding">{_e(_default(t, board))}</p>'
            f'<div class="table-wrap"><table aria-labelledby="{heading}"><thead></thead><tbody></tbody>'
            '</table></div><button type="button" class="more" hidden></button></article>')  # fmt: skip


def sinks_html() -> str:
    heads = "".join(f'<th class="num">{h}</th>' if h in ("Lag (events)", "Dead letters", "Errors")
                    else f"<th>{h}</th>" for h in ("Sink", "Kind", "State", "Lag (events)",
                                                   "Dead letters", "Errors", "Last error"))  # fmt: skip
    return ('<article class="card wide" id="sinks"><h2 id="sinks-title">Event delivery to analytics '
            'tools</h2><p class="finding"></p><div class="table-wrap"><table aria-labelledby="sinks-title">'
            f'<thead><tr>{heads}</tr></thead><tbody></tbody></table></div>'
            '<p class="meta"></p></article>')  # fmt: skip


STALE_TITLE = "stale-title"


def stale_html(notices: list[Notice], used_by: str = "Used on this page by") -> str:
    """The notice under the page title naming each stale report, why, and what it feeds: a
    region named by its heading, so it is found as text, by a screen reader's landmarks and
    headings, and not by colour alone."""
    names = [n.report for n in notices]
    what = (f"the {_list(names)} report{'s' if len(names) > 1 else ''}" if len(names) <= 3 else
            f"{len(names)} reports")  # fmt: skip
    # Reports stale for the same reasons (every job of a run that the same broken export
    # failed) share one item: the reasons once, every part they feed.
    groups: dict[tuple[str, ...], list[Notice]] = {}
    for n in notices:
        groups.setdefault(tuple(n.reasons), []).append(n)
    items = ""
    for reasons, same in groups.items():
        who = _list([f"<strong>{_e(n.report)}</strong>" for n in same])
        text = " ".join(reasons)
        if len(same) > 1:
            who, text = f"{who}, each", text[:1].lower() + text[1:]
        parts = list(dict.fromkeys(p for n in same for p in n.parts))
        used = f" {_e(used_by)} {_e(_list(parts))}." if parts else ""
        items += f"<li>{who}: {_e(text)}{used}</li>"
    return (f'<section class="stale" id="stale" aria-labelledby="{STALE_TITLE}">'
            f'<h2 id="{STALE_TITLE}"><span aria-hidden="true">\u26a0 </span>Out of date: '
            f"{_e(what)}</h2><p>{'Their' if len(names) > 1 else 'Its'} numbers may be older than "
            f"the rest.</p><ul>{items}</ul></section>")  # fmt: skip


def stale_note(notices: list[Notice], see: str = "see the notice under the page title") -> str:
    """The line on a card (or a dashboard in the list) whose reports are stale."""
    if not notices:
        return ""
    shorts = {n.short for n in notices}
    if len(notices) == 1:
        what = f"the {notices[0].report} report {notices[0].short}"
    elif len(shorts) == 1:
        what = f"the {_list([n.report for n in notices])} reports each {notices[0].short}"
    else:
        what = _list([f"the {n.report} report {n.short}" for n in notices])
    return f'<p class="stale-note"><strong>Out of date:</strong> {_e(what)} ({_e(see)}).</p>'


def _stale_notes(source: str, fresh: PageFreshness | None) -> str:
    if fresh is None:
        return ""
    return stale_note(fresh.notice_for(s.strip() for s in source.split(",")))


def freshness_html(fresh: PageFreshness | None) -> str:
    """What the page says under its title about the period and age of its data."""
    if fresh is None:
        return ""
    text = f'<p class="freshness" id="freshness">{_e(fresh.sentence)}</p>' if fresh.sentence else ""
    return text + (stale_html(fresh.stale) if fresh.stale else "")


def _intervals(board: Dashboard) -> str:
    """The footer's word on intervals: their level, from the reports of a page that has any."""
    text = board.extra.get("intervals")
    return f" {_e(text)}" if text else ""


def render(board: Dashboard, generated: datetime, sinks: dict[str, Any] | None = None,
           fresh: PageFreshness | None = None) -> str:  # fmt: skip
    """The full HTML of ``board``; ``fresh`` is what it says about its reports' freshness."""
    config = {
        "slug": board.slug, "title": board.title, "kinds": board.kinds,
        "ranges": [{"key": r.key, "label": r.label, "start": r.start, "end": r.end}
                   for r in board.ranges],
        "datasets": {k: columnar(v) for k, v in board.datasets.items()},
        "charts": [c.config() for c in board.charts], "tiles": [t.config() for t in board.tiles],
        "tables": [t.config() for t in board.tables], "detail_texts": board.detail_texts,
        "detail_signals": board.detail_signals,
        "generated_at": generated.isoformat(),
        "freshness": fresh.config() if fresh is not None else None,
    }  # fmt: skip
    tiles_note = (_kind_note("The tiles are not filtered by kind: they count every room.")
                  if board.kinds and any(not t.kind_field for t in board.tiles) else "")
    tiles_stale = _stale_notes(",".join(t.source for t in board.tiles), fresh)
    parts = [f'{tiles_stale}<div class="tiles">{"".join(tile_html(t, board) for t in board.tiles)}'
             f"</div>{tiles_note}" if board.tiles else "",
             '<div class="grid">',
             *[chart_html(c, board, fresh) for c in board.charts if not c.detail],
             *[table_html(t, board, fresh) for t in board.tables],
             *[chart_html(c, board, fresh) for c in board.charts if c.detail],
             sinks_html() if sinks is not None else "", "</div>"]  # fmt: skip
    details = "".join(
        f'<script type="application/json" id="detail-{_e(name)}">'
        f"{json_block({k: columnar(v) for k, v in items.items()})}</script>"
        for name, items in board.details.items()
    )
    sinks_block = f"{SINKS_MARK}{json_block(sinks)}</script>" if sinks is not None else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{_e(board.title)}{" (out of date)" if fresh and fresh.stale else ""} · Sideline</title>
<style>{asset("dashboard.css")}</style></head>
<body data-ready="0">
{nav(board.slug)}
<section class="bar"><h1>{_e(board.title)}</h1>{freshness_html(fresh)}<p class="intro">{_e(board.intro)}</p>
<div class="filters"><label>Date range <select id="f-range"></select></label>
<label id="kind-filter">Context kind <select id="f-kind"></select></label>
{_kind_note(kind_scope(board)) if kind_scope(board) else ""}
<span class="asof">Page rendered {generated.strftime("%d %b %Y %H:%M")} UTC</span></div>
</section>
<main>{"".join(parts)}</main>
<footer>Times are UTC. Shares are of the people or messages named in each chart.{_intervals(board)}
Dashboards are rendered from the analytics reports, never from the live log.</footer>
<script type="application/json" id="dashboard-data">{json_block(config)}</script>
{details}{sinks_block}
<script type="module">{vega_bundle()}</script>
<script type="module">{asset("dashboard.js")}</script>
</body></html>
"""
