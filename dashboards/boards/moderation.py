"""Moderation quality: what the pipeline does, which checks act, how often reviewers overturn
them, and how long a flagged message waits for a review."""

from __future__ import annotations

import altair as alt

from dashboards import fmt
from dashboards.boards.common import empty, latest, missing, share, top, total
from dashboards.charts import (
    ACTIONS,
    GREY,
    ORANGE,
    RED,
    base,
    compile_spec,
    day_tip,
    day_x,
    label_expr,
    layered,
    series,
    stacked,
)  # fmt: skip
from dashboards.model import Chart, Dashboard, State, Tile
from dashboards.ranges import day_ranges
from dashboards.sources import Reports, Row

REVIEW = {"review_minutes_median": ("Median", ORANGE), "review_minutes_p90": ("90th percentile", GREY)}


def with_rate(r: Row) -> Row:
    """A moderation_daily row with ``actioned`` (non-allow verdicts), ``attempted`` (sent +
    blocked: a blocked message has no sent event) and ``moderation_rate`` = actioned /
    attempted, computed from the verdict columns every version of the report has."""
    actioned = sum(r.get(f"verdicts_{a}") or 0 for a in ACTIONS)
    attempted = (r.get("messages") or 0) + (r.get("verdicts_block") or 0)
    return {**r, "actioned": actioned, "attempted": attempted,
            "moderation_rate": share(actioned, attempted)}  # fmt: skip


def build(reports: Reports) -> Dashboard:
    daily = [with_rate(r) for r in reports.rows("moderation_daily") or []]
    checks = reports.rows("moderation_checks") or []
    board = Dashboard(
        slug="moderation", title="Moderation quality",
        intro=("Every message passes the moderation checks before anyone sees it. A verdict "
               "other than allow masks personal data, shadows the message (only its sender "
               "sees it), holds it for review or blocks it. A blocked message is never sent, "
               "so shares of actions are of the messages users tried to send: those sent plus "
               "those blocked. A review that releases a held message, or keeps a reported one, "
               "overturns the flag."),
        ranges=day_ranges([r["day"] for r in daily + checks]), kinds=None,
        datasets={"daily": daily, "checks": checks},
    )  # fmt: skip
    board.tiles = [
        Tile("t-msg", "daily", "day", label="Messages", hint="sent in the range",
             text=lambda rows, _s: fmt.count(total(rows, "messages"))),
        Tile("t-act", "daily", "day", label="Got an action",
             hint="share of attempted messages (sent + blocked)",
             text=lambda rows, _s: fmt.pct(share(total(rows, "actioned"), total(rows, "attempted")))),
        Tile("t-mask", "daily", "day", label="Personal data masked", hint="share of sent messages",
             text=lambda rows, _s: fmt.pct(share(total(rows, "masked_messages"), total(rows, "messages")))),
        Tile("t-rep", "daily", "day", label="Reported by users", hint="reports",
             text=lambda rows, _s: fmt.count(total(rows, "reports"))),
        Tile("t-over", "daily", "day", label="Overturned on review", hint="share of reviews",
             text=lambda rows, _s: fmt.pct(share(total(rows, "overturned"), total(rows, "reviews")))),
    ]  # fmt: skip
    for tile in board.tiles:
        tile.source = "moderation_daily"
    board.charts = [_actions(), _by_check(), _overturns(), _review_time()]
    for chart, report in zip(board.charts, ("moderation_daily", "moderation_checks",
                                            "moderation_checks", "moderation_daily"), strict=True):  # fmt: skip
        if reports.frame(report) is None:
            chart.missing = missing(report)
    return board


def _actions() -> Chart:
    spec = (
        base().transform_fold([f"verdicts_{a}" for a in ACTIONS], as_=["field", "count"])
        .transform_calculate(action="replace(datum.field, 'verdicts_', '')")
        .transform_calculate(action_label=label_expr(ACTIONS, "action"))
        .mark_line(point=True)
        .encode(day_x(), alt.Y("count:Q", title="messages"), *series(ACTIONS, "action"),
                tooltip=[day_tip(), alt.Tooltip("action_label:N", title="Action"),
                         alt.Tooltip("count:Q", title="Messages", format=",")])
    )  # fmt: skip
    return Chart("actions", "daily", "day", text=_actions_text, title="Moderation actions per day",
                 unit="messages by the action taken (allowed messages not shown); each action "
                      "has its own colour, point shape and line dashes",
                 source="moderation_daily", spec=compile_spec(spec))  # fmt: skip


def _actions_text(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state)
    n, m = total(rows, "actioned"), total(rows, "attempted")
    parts = [f"{fmt.count(total(rows, f'verdicts_{a}'))} {label.lower()}"
             for a, (label, _c) in ACTIONS.items()]  # fmt: skip
    return (f"{fmt.count(n)} of {fmt.count(m)} attempted messages ({fmt.pct(share(n, m))}: "
            f"{fmt.count(total(rows, 'messages'))} sent and "
            f"{fmt.count(total(rows, 'verdicts_block'))} blocked) got an action: "
            f"{fmt.join(parts)}; users reported {fmt.plural(total(rows, 'reports'), 'message')}.")


def _by_check() -> Chart:
    spec = stacked(
        ACTIONS, "action", "verdicts", alt.Y("check:N", title=None, sort=alt.SortField("check_total", order="descending")),
        "verdicts", height=200,
        tooltip=[alt.Tooltip("check:N", title="Check"), alt.Tooltip("action_label:N", title="Action"),
                 alt.Tooltip("verdicts:Q", title="Verdicts", format=",")],
        before=lambda c: c
        .transform_aggregate(verdicts="sum(verdicts)", groupby=["check", "action"])
        .transform_joinaggregate(check_total="sum(verdicts)", groupby=["check"])
        .transform_calculate(action_label=label_expr(ACTIONS, "action")),
    )  # fmt: skip
    return Chart("checks", "checks", "day", text=_check_text, title="Actions by check",
                 unit="verdicts citing each check (a verdict citing two checks counts for both)",
                 source="moderation_checks", spec=compile_spec(spec))  # fmt: skip


def _sum_by(rows: list[Row], key: str, field: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + (r.get(field) or 0)
    return out


def _check_text(rows: list[Row], state: State) -> str:
    per_check = _sum_by(rows, "check", "verdicts")
    if not per_check or not sum(per_check.values()):
        return empty(state)
    check = max(sorted(per_check), key=lambda c: per_check[c])
    actions = _sum_by([r for r in rows if r["check"] == check], "action", "verdicts")
    action = max(sorted(actions), key=lambda a: actions[a])
    verb = ACTIONS.get(action, (action, ""))[0].lower()
    return (f"The {check} check acted most often: {fmt.count(per_check[check])} of "
            f"{fmt.count(sum(per_check.values()))} check verdicts "
            f"({fmt.pct(share(per_check[check], sum(per_check.values())))}), mostly {verb} "
            f"({fmt.count(actions[action])}).")


def _overturns() -> Chart:
    y = alt.Y("check:N", title=None, sort=alt.EncodingSortField("rate", order="descending"))
    layer = layered(
        alt.Chart().mark_bar(color=RED).encode(
            y, alt.X("rate:Q", title="share of reviewed holds released", axis=alt.Axis(format="%"),
                     scale=alt.Scale(domain=[0, 1])),
            tooltip=[alt.Tooltip("check:N", title="Check"),
                     alt.Tooltip("reviewed:Q", title="Reviewed", format=","),
                     alt.Tooltip("overturned:Q", title="Released", format=",")]),
        alt.Chart().mark_text(align="left", dx=4).encode(y, alt.X("rate:Q"), text="label:N"),
        height=200,
    ).transform_aggregate(reviewed="sum(reviewed)", overturned="sum(overturned)", groupby=["check"]
    ).transform_filter("datum.reviewed > 0").transform_calculate(
        rate="datum.overturned / datum.reviewed", label="datum.overturned + ' of ' + datum.reviewed")  # fmt: skip
    return Chart("overturns", "checks", "day", text=_overturn_text,
                 title="Holds overturned on review, by check",
                 unit="held messages a reviewer released, of those reviewed",
                 source="moderation_checks", spec=compile_spec(layer))  # fmt: skip


def _overturn_text(rows: list[Row], state: State) -> str:
    reviewed, overturned = _sum_by(rows, "check", "reviewed"), _sum_by(rows, "check", "overturned")
    r, o = sum(reviewed.values()), sum(overturned.values())
    if not r:
        return empty(state, "(no held message was reviewed)")
    worst = max(sorted(c for c in reviewed if reviewed[c]),
                key=lambda c: (overturned[c] / reviewed[c], reviewed[c]))  # fmt: skip
    return (f"Reviewers released {fmt.count(o)} of {fmt.plural(r, 'reviewed hold')} "
            f"({fmt.pct(share(o, r))}); the {worst} check was overturned most often, "
            f"{fmt.count(overturned[worst])} of {fmt.count(reviewed[worst])} "
            f"({fmt.pct(share(overturned[worst], reviewed[worst]))}).")


def _review_time() -> Chart:
    spec = (
        base().transform_fold(list(REVIEW), as_=["measure", "minutes"])
        .transform_filter("isValid(datum.minutes)")
        .transform_calculate(measure_label=label_expr(REVIEW, "measure"))
        .mark_line(point=True)
        .encode(day_x(), alt.Y("minutes:Q", title="minutes from flag to review"),
                *series(REVIEW, "measure"),
                tooltip=[day_tip(), alt.Tooltip("measure_label:N", title="Measure"),
                         alt.Tooltip("minutes:Q", title="Minutes", format=".0f"),
                         alt.Tooltip("reviews_timed:Q", title="Reviews", format=",")])
    )  # fmt: skip
    return Chart("review", "daily", "day", text=_review_text, title="Time to review",
                 unit="minutes from the hold or first report to the review, by review day",
                 source="moderation_daily", spec=compile_spec(spec))  # fmt: skip


def _review_text(rows: list[Row], state: State) -> str:
    timed = [r for r in rows if r.get("review_minutes_median") is not None]
    if not timed:
        return empty(state, "(no review)")
    last = latest(timed, "day")
    slow, fast = top(timed, "review_minutes_median"), min(timed, key=lambda r: r["review_minutes_median"])
    assert last is not None and slow is not None
    n = total(timed, "reviews_timed")
    head = f"{fmt.plural(n, 'review')} {'was' if n == 1 else 'were'} timed"
    on_last = (f"{fmt.day(last['day'])} {'the median wait was' if len(timed) == 1 else 'it was'} "
               f"{fmt.minutes(last['review_minutes_median'])} (90th percentile "
               f"{fmt.minutes(last['review_minutes_p90'])})")  # fmt: skip
    if len(timed) == 1:  # one day: no range of daily medians to speak of
        return f"{head}; on {on_last}."
    return (f"{head}; the daily median wait ranged from "
            f"{fmt.minutes(fast['review_minutes_median'])} to "
            f"{fmt.minutes(slow['review_minutes_median'])}, and on {on_last}.")
