"""Journey and funnel: how people get from the product to the community, and how far they go."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import altair as alt

from dashboards import fmt
from dashboards.boards.common import empty, latest, missing, share, total
from dashboards.charts import BLUE, GREY, PURPLE, compile_spec, label_expr, layered, series
from dashboards.model import Chart, Dashboard, State
from dashboards.ranges import week_ranges
from dashboards.sources import Reports, Row

STEPS = {"viewed": "viewed a context", "opened": "opened a room", "reacted": "reacted",
         "voted": "voted in a poll", "posted": "posted", "posted_again": "posted again on another day"}  # fmt: skip
TIMES = {"days_to_open_median": ("Median (half opened sooner)", BLUE),
         "days_to_open_p75": ("75th percentile", GREY)}  # fmt: skip


def build(reports: Reports) -> Dashboard:
    funnel = [{**r, "label": _step(r)} for r in reports.rows("funnel") or []]
    journey = reports.rows("journey") or []
    weekly = [r for r in journey if r.get("signup_week") is not None]
    totals = {r.get("scope") or "all": r for r in journey if r.get("signup_week") is None}
    launch = next((r["launch_week"] for r in journey if r.get("launch_week")), None)
    board = Dashboard(
        slug="journey", title="Journey & funnel",
        intro=("How users of the product reach the community: how long after signing up they "
               "first open a room, and how far they go from there. The date filter selects "
               "whole signup weeks (Monday to Sunday, UTC); the funnel counts everyone since the "
               "community started."),
        ranges=week_ranges([r["signup_week"] for r in weekly]),
        kinds=None, datasets={"funnel": funnel, "journey": weekly},
    )  # fmt: skip
    board.charts = [_funnel(), _opened(launch), _time(totals, launch)]
    for chart, report in zip(board.charts, ("funnel", "journey", "journey"), strict=True):
        if reports.frame(report) is None:
            chart.missing = missing(report)
    return board


def _step(r: Row) -> str:
    if r["step"] == "viewed":
        return str(r.get("step_definition") or STEPS["viewed"]).capitalize()
    return str(STEPS.get(r["step"], r["step"])).capitalize()


def _funnel() -> Chart:
    y = alt.Y("label:N", title=None, sort=alt.SortField("step_order"))
    tip = [alt.Tooltip("label:N", title="Step"), alt.Tooltip("reached:Q", title="Users", format=","),
           alt.Tooltip("share_of_first:Q", title="Of the first step", format=".1%"),
           alt.Tooltip("conversion:Q", title="Of the previous step", format=".1%")]  # fmt: skip
    bars = alt.Chart().mark_bar(color=BLUE).encode(
        y, alt.X("reached:Q", title="users who did this and every step before"), tooltip=tip)
    text = alt.Chart().mark_text(align="left", dx=4).encode(
        y, alt.X("reached:Q"), alt.Text("share_of_first:Q", format=".1%"))
    # The axis runs past the longest bar, so the share written after it (the first step's
    # 100.0%) is not cut off by the chart's edge: an unseen rule stretches the scale.
    room = (alt.Chart().transform_joinaggregate(longest="max(reached)")
            .transform_calculate(room=f"datum.longest * width / max(width - {ROOM}, 1)")
            .mark_rule(stroke="transparent").encode(alt.X("room:Q")))  # fmt: skip
    return Chart("funnel", "funnel", text=_funnel_text, title="Community funnel",
                 source="funnel", note="All time: the date filter does not change the funnel.",
                 unit="users; labels are shares of the first step",
                 spec=compile_spec(layered(bars, text, room, height=220)))  # fmt: skip


ROOM = 56
"""Pixels the funnel's axis runs past its longest bar: room for the share written after it
(``100.0%``), on a phone's narrow plot too."""


def _funnel_text(rows: list[Row], state: State) -> str:
    rows = sorted(rows, key=lambda r: r["step_order"])
    if not rows or not rows[0]["reached"]:
        return empty(state)
    first = rows[0]
    # An ordered funnel: a step's share counts users who did it and every step before it, so
    # the sentence says "also", and how many did the step at all, whatever came before.
    chain = fmt.join([f"{fmt.pct(r['share_of_first'])} {'also ' if i else ''}"
                      f"{STEPS.get(r['step'], r['step'])}" for i, r in enumerate(rows[1:])])  # fmt: skip
    posted = next((r for r in rows if r["step"] == "posted"), None)
    at_all = (f"; {fmt.count(posted['users'])} users posted at all, {fmt.count(posted['reached'])} "
              "of them after every earlier step" if posted and posted.get("users") is not None
              else "")  # fmt: skip
    drops = [r for r in rows[1:] if r.get("conversion") is not None]
    worst = min(drops, key=lambda r: r["conversion"]) if drops else None
    prev = {r["step_order"]: r for r in rows}
    tail = ""
    if worst is not None:
        before = prev[worst["step_order"] - 1]
        tail = (f"; the biggest drop is from {STEPS.get(before['step'], before['step'])} to "
                f"{STEPS.get(worst['step'], worst['step'])}, where {fmt.pct(1 - worst['conversion'])} "
                "did not go on")  # fmt: skip
    who = str(first.get("step_definition") or STEPS["viewed"])
    return (f"Of {fmt.count(first['reached'])} users who {who}, {chain} (each share counts users "
            f"who did that step and every step before it){at_all}{tail}.")


def _week_x() -> alt.X:
    return alt.X("utcyearmonthdate(signup_week):T", title="signup week",
                 axis=alt.Axis(format="%d %b %y", labelAngle=0, labelOverlap=True))  # fmt: skip


def _launch_rule() -> alt.Chart:
    """A dashed rule at the community's launch week, from the rows' ``launch_week``."""
    rule: alt.Chart = (
        alt.Chart().transform_filter("isValid(datum.launch_week)")
        .transform_aggregate(launch_week="min(launch_week)")
        .mark_rule(color="#6b7280", strokeDash=[4, 3])
        .encode(alt.X("utcyearmonthdate(launch_week):T"),
                tooltip=[alt.Tooltip("utcyearmonthdate(launch_week):T",
                                     title="Community launched, week of", format="%d %b %Y")])
    )  # fmt: skip
    return rule


def _opened(launch: str | None) -> Chart:
    line = alt.Chart().mark_line(
        point=alt.OverlayMarkDef(color=PURPLE), color=PURPLE,
        # A week without signups has no share: the line breaks there instead of bridging it.
        invalid="break-paths-filter-domains",
    ).encode(
        _week_x(),
        alt.Y("opened_share:Q", title="share who opened a room", axis=alt.Axis(format="%")),
        tooltip=[alt.Tooltip("utcyearmonthdate(signup_week):T", title="Week of", format="%d %b %Y"),
                 alt.Tooltip("signups:Q", title="Signups", format=","),
                 alt.Tooltip("opened:Q", title="Opened a room", format=","),
                 alt.Tooltip("opened_share:Q", title="Share", format=".1%")],
    )  # fmt: skip
    return Chart("opened", "journey", "signup_week", text=partial(_opened_text, launch=launch),
                 title="Signups who have opened a room", source="journey",
                 unit="share of each week's signups who opened a room so far; no point for a week "
                      "without signups; dashed: the week the community launched",
                 spec=compile_spec(layered(_launch_rule(), line)))  # fmt: skip


def _opened_text(rows: list[Row], state: State, *, launch: str | None) -> str:
    if not total(rows, "signups"):
        return empty(state, "(no signups)")
    if launch is None:  # rows written before the report knew its launch week
        return _opened_share(rows, "in the range")
    after = [r for r in rows if r["signup_week"] >= launch]
    before = [r for r in rows if r["signup_week"] < launch]
    since = f"since the community launched (signup weeks from {fmt.day(launch)})"
    if not total(after, "signups"):
        return _opened_share(rows, f"in the range, all before the community launched "
                                   f"(week of {fmt.day(launch)})")  # fmt: skip
    text = _opened_share(after, f"in the range {since}")
    if total(before, "signups"):
        n, opened = total(rows, "signups"), total(rows, "opened")
        text += (f" Counting the {fmt.count(total(before, 'signups'))} who signed up before it "
                 f"existed too, {fmt.pct(share(opened, n))} of {fmt.count(n)} have opened a room "
                 f"and {fmt.pct(share(total(rows, 'opened_within_7_days'), n))} did so within 7 "
                 "days of signing up.")
    return text


def _opened_share(rows: list[Row], who: str) -> str:
    signups, opened = total(rows, "signups"), total(rows, "opened")
    soon = total(rows, "opened_within_7_days")
    return (f"{fmt.pct(share(opened, signups))} of the {fmt.count(signups)} users who signed up "
            f"{who} have opened a room ({fmt.count(opened)}); {fmt.pct(share(soon, signups))} "
            "did so within 7 days of signing up.")  # fmt: skip


def _time(totals: dict[str, Row], launch: str | None) -> Chart:
    lines = (
        alt.Chart().transform_fold(list(TIMES), as_=["measure", "days"])
        .transform_calculate(measure_label=label_expr(TIMES, "measure"))
        .mark_line(point=True, invalid="break-paths-filter-domains")
        .encode(_week_x(),
                alt.Y("days:Q", title="days from signup to the first room open"),
                *series(TIMES, "measure"),
                tooltip=[alt.Tooltip("utcyearmonthdate(signup_week):T", title="Week of", format="%d %b %Y"),
                         alt.Tooltip("measure_label:N", title="Measure"),
                         alt.Tooltip("days:Q", title="Days", format=".1f"),
                         alt.Tooltip("sessions_to_open_median:Q", title="Median sessions", format=".1f")])
    )  # fmt: skip
    return Chart("time", "journey", "signup_week", text=_time_text(totals, launch), wide=True,
                 title="Time from signup to the first room open", source="journey",
                 unit="days, among users who opened a room; dashed vertical line: the week the community "
                      "launched (who signed up before it waited for it)",
                 spec=compile_spec(layered(_launch_rule(), lines)))  # fmt: skip


def _time_text(totals: dict[str, Row], launch: str | None) -> Callable[[list[Row], State], str]:
    def days(row: Row | None) -> str | None:
        value = row.get("days_to_open_median") if row else None
        return None if value is None else f"{fmt.count(round(value, 1))} days"

    since, overall = days(totals.get("since_launch")), days(totals.get("all"))
    if since is not None and launch is not None:
        whole = (f"; over all signups since the community launched (signup weeks from "
                 f"{fmt.day(launch)}) the median is {since}"
                 + (f" ({overall} counting those who signed up before it existed and waited "
                    "for it)" if overall is not None and overall != since else ""))  # fmt: skip
    else:
        whole = f"; over all signups the median is {overall}" if overall is not None else ""

    def text(rows: list[Row], state: State) -> str:
        week = latest([r for r in rows if r.get("days_to_open_median") is not None], "signup_week")
        if week is None:
            return empty(state, "(nobody who signed up in it has opened a room)")
        return (f"Of those who signed up in the week of {fmt.day(week['signup_week'])} and opened "
                f"a room, half did so within {fmt.count(round(week['days_to_open_median'], 1))} "
                f"days and {fmt.count(round(week['sessions_to_open_median'] or 0, 1))} product "
                f"sessions{whole}.")
    return text
