"""The drill-down of the events dashboard: one context on its own clock, with peak moments.

From the ``engagement_timeline`` report (interactions per minute from the context's start).
A context is drawn in the unit its length fits (:data:`UNITS`): per minute up to six hours
(a match), per hour up to four days, per day beyond (a team room open for two months). The
unit is the same in the axis title and ticks, the numbered peaks, the tooltips, the ranking's
peak column and the sentence: a team room's busiest day is "day 8", never "minute 12,540".
The busiest minute is the minute with the most messages and reactions, the first of ties,
which is how the engagement report defines ``peak_minute``.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta
from typing import Any

import altair as alt

from dashboards import fmt
from dashboards.charts import BLUE, ORANGE, compile_spec, layered, order_expr, palette
from dashboards.model import Chart
from dashboards.sources import Row

SERIES = {"messages": ("Messages", BLUE), "reactions": ("Reactions", ORANGE)}
WIDTHS = {"messages": 1.0, "reactions": 0.5}
"""Share of its bucket each part is drawn across, centred: the parts of a bar differ by width
as well as colour (WCAG 1.4.1), at any bar width, where a symbol inside would not fit the
narrow bars of a long timeline. The legend draws each part's swatch at the same width."""
UNITS = (("minute", 1, 6 * 60), ("hour", 60, 4 * 24 * 60), ("day", 24 * 60, None))
"""(unit, minutes per unit, longest duration in minutes drawn in it; None: any)."""
MINUTE_LIMIT = UNITS[0][2]
"""Contexts longer than this many minutes are drawn per hour or per day."""
PEAKS = 3
PEAK_GAP = 5
"""Peak moments are at least this many buckets apart (one burst is one moment)."""
AXIS_TITLE = "{unit}s from the start (negative: before it)"
LABEL_ROW = 14
"""Pixels between the rows of the numbered peak labels above the plot."""


def unit_of(duration_minutes: float | None) -> tuple[str, int]:
    """The unit a context of this length is drawn in, and its size in minutes."""
    for unit, size, longest in UNITS:
        if longest is None or (duration_minutes or 0) <= longest:
            return unit, size
    raise AssertionError("the last unit takes any length")


def timelines(
    contexts: list[Row], series: list[Row]
) -> tuple[dict[str, list[Row]], dict[str, str], dict[str, dict[str, Any]]]:
    """Rows to draw, the sentence and the chart's signals (its ``unit``) for every context, by
    context id. Each context row gets its peak in its unit (``peak``, ``peak_count``,
    ``timeline_unit``) for the ranking. A bucket row is ``minute`` (its start), ``size`` (in
    minutes), ``messages``, ``reactions`` and ``peak`` (its rank, 0 for none): the chart
    derives its position in units and its labels from them and the signal, so a page with a
    thousand timelines carries no more than the counts."""
    by_context: dict[str, list[Row]] = {}
    for r in series:
        by_context.setdefault(r["context_id"], []).append(r)
    rows, texts, signals = {}, {}, {}
    for c in contexts:
        minutes = sorted(by_context.get(c["context_id"], []), key=lambda r: r["minute"])
        unit, size = unit_of(c.get("duration_minutes"))
        buckets = _bucket(minutes, size)
        texts[c["context_id"]] = sentence(c, minutes, buckets, size)
        signals[c["context_id"]] = {"unit": unit}
        first = next((b for b in buckets if b["peak"] == 1), None)
        c.update(timeline_unit=unit, peak=at(unit, first["minute"] // size) if first else None,
                 peak_count=first["messages"] + first["reactions"] if first else None)
        rows[c["context_id"]] = buckets
    return rows, texts, signals


def at(unit: str, x: int) -> str:
    """A bucket as the page names it: ``minute 11``, ``day 8``, ``hour −1``."""
    return f"{unit} {fmt.count(x)}"


def _start(c: Row) -> datetime:
    return datetime.fromisoformat(str(c["starts_at"]).replace("Z", "+00:00"))


def _when(start: datetime, minute: int) -> str:
    """The UTC clock time a bucket starts at: ``3 Oct 2026 18:00``."""
    t = start + timedelta(minutes=minute)
    return f"{fmt.day(t)} {t.strftime('%H:%M')}"


def _bucket(minutes: list[Row], size: int) -> list[Row]:
    acc: dict[int, list[int]] = {}
    for r in minutes:
        start = r["minute"] // size * size
        cell = acc.setdefault(start, [0, 0])
        cell[0] += r["messages"]
        cell[1] += r["reactions"]
    out = [{"minute": m, "size": size, "messages": v[0], "reactions": v[1], "peak": 0}
           for m, v in sorted(acc.items()) if v[0] + v[1] > 0]  # fmt: skip
    for rank, row in enumerate(peaks(out, size), 1):
        row["peak"] = rank
    return out


def peaks(buckets: list[Row], size: int) -> list[Row]:
    """The busiest buckets, busiest first (earliest of ties), at least PEAK_GAP buckets apart."""
    chosen: list[Row] = []
    for r in sorted(buckets, key=lambda r: (-(r["messages"] + r["reactions"]), r["minute"])):
        if all(abs(r["minute"] - c["minute"]) >= PEAK_GAP * size for c in chosen):
            chosen.append(r)
        if len(chosen) == PEAKS:
            break
    return chosen


def sentence(c: Row, minutes: list[Row], buckets: list[Row], size: int) -> str:
    """One sentence on a context's timeline, from its per-minute rows, in its unit."""
    title = f"{c['title']} ({fmt.day(c['starts_at'])})"
    active = [r["messages"] + r["reactions"] for r in minutes if r["messages"] + r["reactions"]]
    if not active:
        return f"{title} had no messages or reactions in its room."
    unit = unit_of(c.get("duration_minutes"))[0]
    best = min(minutes, key=lambda r: (-(r["messages"] + r["reactions"]), r["minute"]))
    k = best["messages"] + best["reactions"]
    length = (c.get("duration_minutes") or 0) / size
    volume = (f"It drew {fmt.count(c['messages'])} messages and {fmt.count(c['reactions'])} "
              f"reactions over {fmt.count(round(length, 1))} {unit}s.")  # fmt: skip
    top = peaks(buckets, size)
    others = [at(unit, p["minute"] // size) for p in top[1:]]
    nxt = (f"; the next peaks came at {fmt.join(others)}" if others else "")  # fmt: skip
    if size == 1:
        median = statistics.median(active)
        lift = f", {fmt.ratio(k / median)} its median active minute" if k >= 1.5 * median else ""
        return (f"{title}: the busiest minute was minute {fmt.count(best['minute'])} with "
                f"{_both(k)}{lift}{nxt}. {volume}")
    first = top[0]
    when = _when(_start(c), first["minute"])
    return (f"{title}: the busiest {unit} was {at(unit, first['minute'] // size)} (from {when} "
            f"UTC) with "
            f"{_both(first['messages'] + first['reactions'])}{nxt}; its busiest single minute, "
            f"{_when(_start(c), best['minute'])} UTC, had {fmt.count(k)}. {volume}")


def _both(n: int) -> str:
    return "1 message or reaction" if n == 1 else f"{fmt.count(n)} messages and reactions"


def timeline_chart() -> Chart:
    """The drill-down chart: stacked bars per bucket, peak moments numbered, in the unit of the
    selected context (the page sets the ``unit`` signal from its rows)."""
    tip = [alt.Tooltip("bucket:N", title="From"),
           alt.Tooltip("messages:Q", title="Messages", format=","),
           alt.Tooltip("reactions:Q", title="Reactions", format=",")]  # fmt: skip
    x = alt.X("x_start:Q", title=AXIS_TITLE.format(unit="minute"),
              axis=alt.Axis(labelExpr="format(datum.value, ',')", tickMinStep=1))
    # Bars across their part's width of the bucket (x to x + 1), stacked by hand: VL treats a
    # bar with x and x2 as horizontal, so the stack is computed first and drawn as rectangles.
    half = f"{json.dumps(WIDTHS)}[datum.measure] / 2"
    bars = (
        alt.Chart().transform_fold(list(SERIES), as_=["measure", "count"])
        .transform_calculate(order=order_expr(list(SERIES), "measure"),
                             x_start=f"datum.x + 0.5 - {half}", x_end=f"datum.x + 0.5 + {half}")
        .transform_stack(stack="count", groupby=["x"], sort=[alt.SortField("order")],
                         as_=["y0", "y1"])
        .mark_rect()
        .encode(x, alt.X2("x_end:Q"), alt.Y("y0:Q", title="messages and reactions"),
                alt.Y2("y1:Q"), palette(SERIES, "measure"), tooltip=tip)
    )  # fmt: skip
    # Each peak's label over its bar, in a row of its own above the plot (#1 nearest): peaks a
    # few buckets apart, as tall as each other, would otherwise print their labels over each
    # other.
    labels = [
        alt.Chart().transform_filter(f"datum.peak == {rank}")
        .transform_calculate(label="'#' + datum.peak + ' · ' + datum.bucket")
        .mark_text(dy=-LABEL_ROW * rank, fontWeight="bold", color="#111827")
        .encode(alt.X("x:Q"), y=alt.value(0), text="label:N", tooltip=tip)
        for rank in range(1, PEAKS + 1)
    ]  # fmt: skip
    start = alt.Chart().mark_rule(color="#6b7280", strokeDash=[4, 3]).encode(x=alt.datum(0))
    # A bucket's position in units, and its name as the sentence gives it ("day 8").
    chart = layered(start, bars, *labels, height=260).add_params(
        alt.param(name="unit", value="minute")
    ).transform_calculate(x="floor(datum.minute / datum.size)").transform_calculate(
        bucket="unit + ' ' + replace(format(datum.x, ','), '-', '\u2212')")
    return Chart("timeline", "timeline", detail="timeline", wide=True,
                 title="Timeline of {item}", source="engagement_timeline",
                 unit="messages and reactions per minute from the start for contexts up to six "
                      "hours, per hour up to four days, per day beyond; numbered labels mark the "
                      "peak moments",
                 spec=_widths_in_legend(_titled_by_unit(compile_spec(chart))))  # fmt: skip


def _titled_by_unit(vega: dict[str, Any]) -> dict[str, Any]:
    """The x axis title follows the ``unit`` signal (Vega-Lite takes only a fixed text)."""
    fixed = AXIS_TITLE.format(unit="minute")
    found = 0
    for axis in vega.get("axes", []):
        if axis.get("title") == fixed:
            axis["title"] = {"signal": f"unit + {AXIS_TITLE.replace('{unit}', '')!r}"}
            found += 1
    if found != 1:
        raise ValueError(f"the timeline's x axis title was not found once ({found})")
    return vega


def _widths_in_legend(vega: dict[str, Any]) -> dict[str, Any]:
    """The legend draws each part's swatch as wide as the part is drawn (:data:`WIDTHS`), as
    a shape scale beside the colour (Vega-Lite gives a rect's legend one shape for all)."""
    legends = [lg for lg in vega.get("legends", []) if lg.get("fill")]
    if len(legends) != 1:
        raise ValueError(f"the timeline's colour legend was not found once ({len(legends)})")
    keys = list(SERIES)
    paths = [f"M{-w},-1H{w}V1H{-w}Z" for w in (WIDTHS[k] for k in keys)]
    vega["scales"].append({"name": "part_width", "type": "ordinal", "domain": keys, "range": paths})
    legends[0]["shape"] = "part_width"
    legends[0].pop("symbolType", None)
    return vega
