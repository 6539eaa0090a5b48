"""Events: which contexts (matches, teams, dashboards ...) drew the most conversation, a
sortable ranking, and a drill-down on one context's own timeline with its peak moments."""

from __future__ import annotations

import altair as alt

from dashboards import fmt
from dashboards.boards.common import (
    empty,
    kind_label,
    missing,
    one_of,
    settings_of,
    share,
    top,
    total,
)
from dashboards.boards.timeline import MINUTE_LIMIT, at, timeline_chart, timelines, unit_of
from dashboards.charts import (
    BLUE,
    CATEGORIES,
    GREEN,
    ORANGE,
    SHAPES,
    base,
    compile_spec,
    label_expr,
    stacked,
)
from dashboards.model import ALL_KINDS, Chart, Column, Dashboard, Rollup, State, Table
from dashboards.ranges import day_ranges
from dashboards.sources import Reports, Row

VOLUME = {"messages": ("Messages", BLUE), "reactions": ("Reactions", ORANGE),
          "poll_votes": ("Poll votes", GREEN)}  # fmt: skip
TOP_N = 15
IN_RANGE = ("messages", "reactions", "poll_votes", "interactions", "moderated", "attempted")
"""Counted on the day they happened, so summed over the days in the range."""
BY_CONTEXT = Rollup("context_id", "contexts", IN_RANGE,
                    ratios={"moderation_rate": ("moderated", "attempted")})  # fmt: skip
"""A context's day rows in the range, as one row of its engagement report."""
DAY_FIELDS = ["context_id", "kind", "day", *IN_RANGE]

COLUMNS = [
    Column("title", "Context", "text"), Column("kind", "Kind", "text"),
    Column("starts_at", "Starts (UTC)", "datetime"), Column("viewers", "Viewers"),
    Column("opened_share", "Opened room", "pct"), Column("posters", "Posters"),
    Column("messages", "Messages"), Column("reactions", "Reactions"),
    Column("poll_votes", "Poll votes"), Column("interactions", "Interactions"),
    Column("interactions_per_viewer", "Per viewer", "dec2"),
    Column("peak", "Peak", "text"), Column("messages_per_minute", "Msgs/min", "dec2"),
    Column("moderation_rate", "Moderated", "pct"),
]  # fmt: skip


def build(reports: Reports) -> Dashboard:
    contexts = _labelled(reports.rows("engagement") or [])
    days = reports.rows("engagement_daily", DAY_FIELDS) or []
    series = reports.rows("engagement_timeline")
    board = Dashboard(
        slug="events", title="Events",
        intro=("Each product object with a room (a match, a team, a dashboard) is a context. "
               "Ranked by interactions: messages, reactions and poll votes in its room "
               f"{_timeline(contexts)}, each counted on the day it "
               "happened, so a date range holds the activity in it (a team room open for weeks "
               "counts in every range it was active in). Pick a context in the table to "
               "see its own timeline from its start: per minute, or per hour or day for a "
               "context that lasts longer than six hours or four days."),
        ranges=day_ranges([r["day"] for r in days]),
        kinds=sorted({r["kind"] for r in contexts}) or None,
        datasets={"contexts": contexts, "days": days},
    )  # fmt: skip
    board.charts = [_top(), _opened()]
    board.tables = [Table("ranking", "days", "day", "kind", rollup=BY_CONTEXT, text=_caption,
                          title="Ranking of contexts (click a column to sort, a row to drill down)",
                          source="engagement_daily, engagement",
                          columns=COLUMNS, sort="interactions", key_field="context_id")]  # fmt: skip
    drill = timeline_chart()
    board.charts.append(drill)
    for report in ("engagement", "engagement_daily"):
        if reports.frame(report) is None:
            for c in board.charts:
                c.missing = c.missing or missing(report)
            board.tables[0].text = lambda _rows, _state, report=report: missing(report)
            break
    if series is None:
        drill.missing = missing("engagement_timeline")
    elif contexts:
        (board.details["timeline"], board.detail_texts[drill.id],
         board.detail_signals[drill.id]) = timelines(contexts, series)
    return board


def _timeline(contexts: list[Row]) -> str:
    """Which of a room's events count, in the margin the report was computed with."""
    margins = settings_of(contexts, "timeline_margin_minutes")
    if margins == [0]:
        return "from its start to its end"
    say = one_of(margins, fmt.margin, "the configured timeline_margin_minutes")
    if len(margins) == 1:
        return f"from {say} before it starts to {say} after it ends"
    return f"from a margin before it starts to as long after it ends (the margin is {say})"


def _labelled(rows: list[Row]) -> list[Row]:
    """Rows with a ``label`` unique per context ("Wolves v Aston Villa · 3 Oct")."""
    out, seen = [], set()
    for r in rows:
        label = f"{r['title']} · {fmt.day(r['starts_at'])[:-5]}"
        if label in seen:
            label = f"{label} ({r['context_id']})"
        seen.add(label)
        # Without a timeline report, a context up to six hours long keeps the report's peak.
        unit, _size = unit_of(r.get("duration_minutes"))
        peak = (at("minute", r["peak_minute"]) if unit == "minute"
                and r.get("peak_minute") is not None else None)  # fmt: skip
        # The whole timeline's interactions, kept beside the range's (the rollup replaces those).
        out.append({**r, "label": label, "total_interactions": r["interactions"],
                    "timeline_unit": unit, "peak": peak,
                    "peak_count": r.get("peak_interactions") if peak else None})  # fmt: skip
    return out


def top_spec() -> alt.LayerChart:
    """The top-contexts chart (the page's first chart; the benchmark exports it alone)."""
    return stacked(
        VOLUME, "measure", "count", alt.Y("label:N", title=None, sort=alt.SortField("rank")),
        "interactions", height=360,
        tooltip=[alt.Tooltip("label:N", title="Context"), alt.Tooltip("measure_label:N", title="Measure"),
                 alt.Tooltip("count:Q", title="Count", format=","),
                 alt.Tooltip("viewers:Q", title="Viewers", format=",")],
        before=lambda c: c
        .transform_window(rank="row_number()", sort=[alt.SortField("interactions", order="descending")])
        .transform_filter(f"datum.rank <= {TOP_N}")
        .transform_fold(list(VOLUME), as_=["measure", "count"])
        .transform_calculate(measure_label=label_expr(VOLUME, "measure")),
    )  # fmt: skip


def _top() -> Chart:
    return Chart("top", "days", "day", "kind", rollup=BY_CONTEXT, text=_top_text, wide=True,
                 title=f"Most discussed contexts (top {TOP_N})",
                 source="engagement_daily, engagement",
                 unit="messages, reactions and poll votes in each context's room in the range",
                 spec=compile_spec(top_spec()))  # fmt: skip


def _top_text(rows: list[Row], state: State) -> str:
    best = top(rows, "interactions")
    if best is None:
        return empty(state)
    among = (f"Of the {fmt.count(len(rows))} "
             f"{kind_label(state.kind) if state.kind != ALL_KINDS else 'contexts'} active in the range")  # fmt: skip
    counts = (f"{fmt.count(best['interactions'])} ({fmt.count(best['messages'])} messages, "
              f"{fmt.count(best['reactions'])} reactions, {fmt.count(best['poll_votes'])} poll votes)")  # fmt: skip
    head = f"{among}, {best['title']} ({fmt.day(best['starts_at'])}) drew the most interactions"
    if best["interactions"] != best.get("total_interactions"):
        # Part of its timeline lies outside the range: its viewers and peak are the whole one's.
        return (f"{head} in it: {counts}, of {fmt.count(best.get('total_interactions'))} over its "
                "whole timeline.")
    viewers = (f" from {fmt.count(best['viewers'])} viewers "
               f"({fmt.count(best['interactions_per_viewer'] and round(best['interactions_per_viewer'], 1))} per viewer)"
               if best.get("viewers") else "")  # fmt: skip
    return f"{head}: {counts}{viewers}{_peak(best)}."


def _peak(c: Row) -> str:
    """Its busiest moment in the unit its timeline is drawn in (the drill-down's #1 peak)."""
    if c.get("peak") is not None:
        return (f"; its busiest {c['timeline_unit']} was {c['peak']} with "
                f"{fmt.count(c['peak_count'])} messages and reactions")
    if c.get("peak_minute") is not None and (c.get("duration_minutes") or 0) <= MINUTE_LIMIT:
        return (f"; its busiest minute was minute {fmt.count(c['peak_minute'])} with "
                f"{fmt.count(c['peak_interactions'])} messages and reactions")
    return ""


def _opened() -> Chart:
    spec = (
        base(height=260).transform_filter("isValid(datum.viewers) && datum.viewers > 0")
        .mark_point(filled=True, opacity=0.85)
        .encode(alt.X("viewers:Q", title="viewers", scale=alt.Scale(zero=False)),
                alt.Y("opened_share:Q", title="share of viewers who opened the room",
                      axis=alt.Axis(format="%")),
                alt.Size("messages:Q", title="messages", legend=alt.Legend(orient="right")),
                alt.Color("kind:N", title="kind", legend=alt.Legend(orient="right"),
                          scale=alt.Scale(range=CATEGORIES)),
                alt.Shape("kind:N", title="kind", legend=alt.Legend(orient="right"),
                          scale=alt.Scale(range=SHAPES)),
                tooltip=[alt.Tooltip("label:N", title="Context"),
                         alt.Tooltip("viewers:Q", title="Viewers", format=","),
                         alt.Tooltip("opened_share:Q", title="Opened", format=".1%"),
                         alt.Tooltip("messages:Q", title="Messages", format=",")])
    )  # fmt: skip
    return Chart("opened", "days", "day", "kind", rollup=BY_CONTEXT, text=_opened_text,
                 wide=True, title="How many viewers open the room",
                 source="engagement, engagement_daily",
                 unit="one dot per context active in the range with known viewers (viewers and "
                      "openers over its whole timeline); size = messages in the range",
                 spec=compile_spec(spec))  # fmt: skip


def _opened_text(rows: list[Row], state: State) -> str:
    known = [r for r in rows if r.get("viewers")]
    if not known:
        return (empty(state) if not rows else
                "The viewer counts of these contexts are unknown (the contexts export has no "
                "viewers and there are no context views), so the open share cannot be shown.")  # fmt: skip
    openers, viewers = total(known, "openers"), total(known, "viewers")
    best = top(known, "opened_share")
    assert best is not None
    return (f"Across {fmt.plural(len(known), 'context')} with known viewers, "
            f"{fmt.pct(share(openers, viewers))} of viewers opened the room "
            f"({fmt.count(openers)} of {fmt.count(viewers)}); the highest share was "
            f"{fmt.pct(best['opened_share'])} for {best['title']} ({fmt.day(best['starts_at'])}).")


def _caption(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state)
    one = len(rows) == 1
    return (f"{fmt.plural(len(rows), 'context')} {'was' if one else 'were'} active in the range "
            f"(started in it, or had activity in {'its room' if one else 'their rooms'} in it) "
            f"and drew {fmt.plural(total(rows, 'messages'), 'message')}, "
            f"{fmt.plural(total(rows, 'reactions'), 'reaction')} and "
            f"{fmt.plural(total(rows, 'poll_votes'), 'poll vote')} in it; sorted by interactions. "
            "Messages, reactions, poll votes, interactions and the moderated share count what "
            "happened in the range; viewers, opened room, posters, per viewer, peak and "
            "messages per minute are each context's whole timeline.")
