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


def chart_html(c: Chart, board: Dashboard) -> str:
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
            f'<h2>{title}</h2>{body}{note}'
            f'<p class="meta">{_e(c.unit)} · report: {_e(c.source)}</p></article>')  # fmt: skip


def table_html(t: Table, board: Dashboard) -> str:
    heading = f"table-{_e(t.id)}-title"
    return (f'<article class="card wide" id="table-{_e(t.id)}"><h2 id="{heading}">{_e(t.title)}</h2>'
            f'<p class="finding">{_e(_default(t, board))}</p>'
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


def _intervals(board: Dashboard) -> str:
    """The footer's word on intervals: their level, from the reports of a page that has any."""
    text = board.extra.get("intervals")
    return f" {_e(text)}" if text else ""


def render(board: Dashboard, generated: datetime, sinks: dict[str, Any] | None = None) -> str:
    """The full HTML of ``board``."""
    config = {
        "slug": board.slug, "title": board.title, "kinds": board.kinds,
        "ranges": [{"key": r.key, "label": r.label, "start": r.start, "end": r.end}
                   for r in board.ranges],
        "datasets": {k: columnar(v) for k, v in board.datasets.items()},
        "charts": [c.config() for c in board.charts], "tiles": [t.config() for t in board.tiles],
        "tables": [t.config() for t in board.tables], "detail_texts": board.detail_texts,
        "detail_signals": board.detail_signals,
        "generated_at": generated.isoformat(),
    }  # fmt: skip
    tiles_note = (_kind_note("The tiles are not filtered by kind: they count every room.")
                  if board.kinds and any(not t.kind_field for t in board.tiles) else "")
    parts = [f'<div class="tiles">{"".join(tile_html(t, board) for t in board.tiles)}</div>'
             f"{tiles_note}" if board.tiles else "",
             '<div class="grid">',
             *[chart_html(c, board) for c in board.charts if not c.detail],
             *[table_html(t, board) for t in board.tables],
             *[chart_html(c, board) for c in board.charts if c.detail],
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
<title>{_e(board.title)} · Sideline</title>
<style>{asset("dashboard.css")}</style></head>
<body data-ready="0">
{nav(board.slug)}
<section class="bar"><h1>{_e(board.title)}</h1><p class="intro">{_e(board.intro)}</p>
<div class="filters"><label>Date range <select id="f-range"></select></label>
<label id="kind-filter">Context kind <select id="f-kind"></select></label>
{_kind_note(kind_scope(board)) if kind_scope(board) else ""}
<span class="asof">Rendered {generated.strftime("%d %b %Y %H:%M")} UTC from the report tables</span></div>
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
