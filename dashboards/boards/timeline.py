"""The drill-down of the events dashboard: one context on its own clock, with peak moments.

From the ``engagement_timeline`` report (interactions per minute from the context's start).
Contexts up to six hours long are shown per minute; longer ones (a team room open for a
month) per hour. The busiest minute is the minute with the most messages and reactions, the
first of ties, which is how the engagement report defines ``peak_minute``.
"""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

import altair as alt

from dashboards import fmt
from dashboards.charts import BLUE, ORANGE, compile_spec, layered, order_expr, palette
from dashboards.model import Chart
from dashboards.sources import Row

SERIES = {"messages": ("Messages", BLUE), "reactions": ("Reactions", ORANGE)}
MINUTE_LIMIT = 6 * 60
"""Contexts longer than this many minutes are drawn per hour."""
PEAKS = 3
PEAK_GAP = 5
"""Peak moments are at least this many buckets apart (one burst is one moment)."""


def timelines(contexts: list[Row], series: list[Row]) -> tuple[dict[str, list[Row]], dict[str, str]]:
    """Rows to draw and the sentence for every context, by context id."""
    by_context: dict[str, list[Row]] = {}
    for r in series:
        by_context.setdefault(r["context_id"], []).append(r)
    rows, texts = {}, {}
    for c in contexts:
        minutes = sorted(by_context.get(c["context_id"], []), key=lambda r: r["minute"])
        size = 1 if (c.get("duration_minutes") or 0) <= MINUTE_LIMIT else 60
        buckets = _bucket(minutes, size)
        rows[c["context_id"]] = buckets
        texts[c["context_id"]] = sentence(c, minutes, buckets, size)
    return rows, texts


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
    """One sentence on a context's timeline, from its per-minute rows."""
    title = f"{c['title']} ({fmt.day(c['starts_at'])})"
    active = [r["messages"] + r["reactions"] for r in minutes if r["messages"] + r["reactions"]]
    if not active:
        return f"{title} had no messages or reactions in its room."
    best = min(minutes, key=lambda r: (-(r["messages"] + r["reactions"]), r["minute"]))
    k = best["messages"] + best["reactions"]
    volume = (f"It drew {fmt.count(c['messages'])} messages and {fmt.count(c['reactions'])} "
              f"reactions over {fmt.count(round(c['duration_minutes']))} minutes.")  # fmt: skip
    if size == 1:
        median = statistics.median(active)
        lift = f", {fmt.ratio(k / median)} its median active minute" if k >= 1.5 * median else ""
        others = [p["minute"] for p in peaks(buckets, size)[1:]]
        nxt = (f"; the next peaks came at minute{'s' if len(others) > 1 else ''} "
               f"{fmt.join([fmt.count(m) for m in others])}" if others else "")  # fmt: skip
        return (f"{title}: the busiest minute was minute {fmt.count(best['minute'])} with "
                f"{_both(k)}{lift}{nxt}. {volume}")
    hour = peaks(buckets, size)[0]
    start = datetime.fromisoformat(c["starts_at"].replace("Z", "+00:00"))
    at = start + timedelta(minutes=hour["minute"])
    return (f"{title}: the busiest hour began {fmt.day(at)} {at.strftime('%H:%M')} UTC with "
            f"{_both(hour['messages'] + hour['reactions'])}; the "
            f"busiest single minute, minute {fmt.count(best['minute'])} from the start, had "
            f"{fmt.count(k)}. {volume}")


def _both(n: int) -> str:
    return "1 message or reaction" if n == 1 else f"{fmt.count(n)} messages and reactions"


def timeline_chart() -> Chart:
    """The drill-down chart: stacked bars per bucket, peak moments numbered."""
    tip = [alt.Tooltip("minute:Q", title="From minute", format=","),
           alt.Tooltip("messages:Q", title="Messages", format=","),
           alt.Tooltip("reactions:Q", title="Reactions", format=",")]  # fmt: skip
    x = alt.X("minute:Q", title="minutes from the start (negative: before it)",
              axis=alt.Axis(labelExpr="span(domain('x')) > 2880 ? 'day ' + "
                            "format(datum.value / 1440, '.1~f') : format(datum.value, ',')"))  # fmt: skip
    # Bars from minute to minute + size, stacked by hand: VL treats a bar with x and x2 as
    # horizontal, so the stack is computed first and drawn as rectangles.
    bars = (
        alt.Chart().transform_fold(list(SERIES), as_=["measure", "count"])
        .transform_calculate(minute_end="datum.minute + datum.size",
                             order=order_expr(list(SERIES), "measure"))
        .transform_stack(stack="count", groupby=["minute"], sort=[alt.SortField("order")],
                         as_=["y0", "y1"])
        .mark_rect()
        .encode(x, alt.X2("minute_end:Q"), alt.Y("y0:Q", title="messages and reactions"),
                alt.Y2("y1:Q"), palette(SERIES, "measure"), tooltip=tip)
    )  # fmt: skip
    labels = (
        alt.Chart().transform_filter("datum.peak > 0")
        .transform_calculate(total="datum.messages + datum.reactions",
                             label="'#' + datum.peak + ' · minute ' + format(datum.minute, ',')")
        .mark_text(dy=-8, fontWeight="bold", color="#111827")
        .encode(alt.X("minute:Q"), alt.Y("total:Q"), text="label:N", tooltip=tip)
    )  # fmt: skip
    start = alt.Chart().mark_rule(color="#6b7280", strokeDash=[4, 3]).encode(x=alt.datum(0))
    return Chart("timeline", "timeline", detail="timeline", wide=True,
                 title="Timeline of {item}", source="engagement_timeline",
                 unit="messages and reactions per minute (per hour for contexts over six hours); "
                      "numbered labels mark the peak moments",
                 spec=compile_spec(layered(start, bars, labels, height=260)))  # fmt: skip
