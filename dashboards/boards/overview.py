"""Overview: who takes part (DAU/WAU/MAU), how much they say, who posts, how much is
moderated, how each kind of context is discussed, and whether events reach the sinks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial

import altair as alt

from dashboards import fmt
from dashboards.boards.common import empty, kind_label, last_full, missing, share, top, total
from dashboards.boards.moderation import with_rate
from dashboards.charts import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    base,
    compile_spec,
    day_tip,
    day_x,
    grouped,
    label_expr,
    series,
)
from dashboards.model import ALL_KINDS, Chart, Dashboard, State, Tile
from dashboards.ranges import day_ranges
from dashboards.sources import Reports, Row

ACTIVE = {"dau": ("Active that day (DAU)", BLUE), "wau": ("Active in 7 days (WAU)", PURPLE),
          "mau": ("Active in 30 days (MAU)", GREY)}  # fmt: skip
POSTING = {"poster_share": ("Posted that day, of that day's actives", BLUE),
           "monthly_poster_share": ("Posted in 30 days, of 30-day actives", GREY)}  # fmt: skip
VOLUME = {"messages": ("Messages", BLUE), "reactions": ("Reactions", ORANGE),
          "poll_votes": ("Poll votes", GREEN)}  # fmt: skip
HEALTH, MODERATION = "community_health", "moderation_daily"


def build(reports: Reports, today: date | None = None) -> Dashboard:
    """``today`` (UTC, the render's day by default) is a day in progress: the last day's numbers
    are those of the latest day that is over, and today's so far are said apart."""
    day = (today or datetime.now(UTC).date()).isoformat()
    health = reports.rows("community_health") or []
    moderation = [with_rate(r) for r in reports.rows("moderation_daily") or []]
    kinds = reports.rows("engagement_daily", ["day", "kind", "context_id", *VOLUME]) or []
    board = Dashboard(
        slug="overview", title="Community overview",
        intro=("How many people take part in the community, how much they say, and how much of "
               "it needs moderation. A person is active on a day when they open a room, post, "
               "react, vote or report that day (UTC)."),
        ranges=day_ranges([r["day"] for r in health + moderation]),
        kinds=sorted({r["kind"] for r in kinds}) or None,
        datasets={"health": health, "moderation": moderation, "kinds": kinds},
    )  # fmt: skip
    board.tiles = _tiles(day)
    board.charts = [_active(day), _messages(), _posting(day), _moderation(), _by_kind()]
    for chart, report in zip(board.charts, ("community_health", "moderation_daily",
                                            "community_health", "moderation_daily",
                                            "engagement_daily"), strict=True):  # fmt: skip
        if reports.frame(report) is None:
            chart.missing = missing(report)
    return board


def _tiles(today: str) -> list[Tile]:
    def last(field: str) -> Callable[[list[Row], State], str]:
        def value(rows: list[Row], _s: State) -> str:
            row, _ = last_full(rows, "day", today)
            return fmt.count(row[field]) if row else "n/a"

        return value

    return [
        Tile("t-dau", "health", "day", label="Active on the last full day", hint="DAU",
             text=last("dau"), source=HEALTH),
        Tile("t-wau", "health", "day", label="Active in 7 days", hint="WAU, to the last full day",
             text=last("wau"), source=HEALTH),
        Tile("t-mau", "health", "day", label="Active in 30 days", hint="MAU, to the last full day",
             text=last("mau"), source=HEALTH),
        Tile("t-msg", "moderation", "day", label="Messages sent", hint="in the range",
             text=lambda rows, _s: fmt.count(total(rows, "messages")), source=MODERATION),
        Tile("t-posters", "health", "day", label="Actives who posted", hint="per active day",
             text=lambda rows, _s: fmt.pct(share(total(rows, "posters"), total(rows, "dau"))),
             source=HEALTH),
        Tile("t-mod", "moderation", "day", label="Moderated",
             hint="share of attempted messages (sent + blocked)",
             text=lambda rows, _s: fmt.pct(share(total(rows, "actioned"), total(rows, "attempted"))),
             source=MODERATION),
    ]  # fmt: skip


def _active(today: str) -> Chart:
    spec = (
        base().transform_fold(list(ACTIVE), as_=["measure", "people"])
        .transform_calculate(measure_label=label_expr(ACTIVE, "measure"))
        .mark_line(point=True)
        .encode(day_x(), alt.Y("people:Q", title="people"), *series(ACTIVE, "measure"),
                tooltip=[day_tip(), alt.Tooltip("measure_label:N", title="Measure"),
                         alt.Tooltip("people:Q", title="People", format=",")])
    )  # fmt: skip
    return Chart("active", "health", "day", text=partial(_active_text, today=today),
                 title="Active community members",
                 unit="distinct people per day; 7- and 30-day windows end that day",
                 source="community_health", spec=compile_spec(spec))  # fmt: skip


def _active_text(rows: list[Row], state: State, *, today: str) -> str:
    if not rows:
        return empty(state)
    last, now = last_full(rows, "day", today)
    assert last is not None
    avg = total(rows, "dau") / len(rows)
    short = (f" (MAU covers only the {last['history_days']} days of history so far)"
             if (last.get("history_days") or 30) < 30 else "")  # fmt: skip
    so_far = f" So far today ({fmt.day(now['day'])}), {fmt.count(now['dau'])}." if now else ""
    return (f"On {fmt.day(last['day'])}, {fmt.count(last['dau'])} people took part, "
            f"{fmt.count(last['wau'])} in the last 7 days and {fmt.count(last['mau'])} in the last "
            f"30{short}; daily actives averaged {fmt.count(round(avg, 1))} over "
            f"{fmt.plural(len(rows), 'day')}.{so_far}")  # fmt: skip


def _messages() -> Chart:
    spec = base().mark_bar(color=BLUE).encode(
        day_x(), alt.Y("messages:Q", title="messages"),
        tooltip=[day_tip(), alt.Tooltip("messages:Q", title="Messages", format=",")],
    )
    return Chart("messages", "moderation", "day", text=_messages_text, title="Messages per day",
                 unit="messages sent in every room, by UTC day", source="moderation_daily",
                 spec=compile_spec(spec))  # fmt: skip


def _messages_text(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state)
    busiest = top(rows, "messages")
    assert busiest is not None
    n = total(rows, "messages")
    return (f"{fmt.plural(n, 'message')} {'was' if n == 1 else 'were'} sent over "
            f"{fmt.plural(len(rows), 'day')}, "
            f"{fmt.count(round(n / len(rows), 1))} a day on average; the busiest day was "
            f"{fmt.day(busiest['day'])} with {fmt.count(busiest['messages'])}.")  # fmt: skip


def _posting(today: str) -> Chart:
    spec = (
        base().transform_fold(list(POSTING), as_=["measure", "share"])
        .transform_calculate(measure_label=label_expr(POSTING, "measure"))
        .mark_line(point=True)
        .encode(day_x(), alt.Y("share:Q", title="share of active people", axis=alt.Axis(format="%")),
                *series(POSTING, "measure"),
                tooltip=[day_tip(), alt.Tooltip("measure_label:N", title="Measure"),
                         alt.Tooltip("share:Q", title="Share", format=".1%")])
    )  # fmt: skip
    return Chart("posting", "health", "day", text=partial(_posting_text, today=today),
                 title="How many active people post", unit="share of active people who posted",
                 source="community_health", spec=compile_spec(spec))  # fmt: skip


def _posting_text(rows: list[Row], state: State, *, today: str) -> str:
    if not rows:
        return empty(state)
    last, _ = last_full(rows, "day", today)
    assert last is not None
    daily = share(total(rows, "posters"), total(rows, "dau"))
    return (f"On an average day {fmt.pct(daily)} of that day's active people posted "
            f"({fmt.count(total(rows, 'posters'))} posting days of {fmt.count(total(rows, 'dau'))} "
            f"active days); in the 30 days to {fmt.day(last['day'])}, "
            f"{fmt.pct(last.get('monthly_poster_share'))} of monthly actives posted.")  # fmt: skip


def _moderation() -> Chart:
    spec = base().mark_line(point=alt.OverlayMarkDef(color=ORANGE), color=ORANGE).encode(
        day_x(), alt.Y("moderation_rate:Q", title="share of attempted messages",
                       axis=alt.Axis(format="%")),
        tooltip=[day_tip(), alt.Tooltip("moderation_rate:Q", title="Moderated", format=".1%"),
                 alt.Tooltip("actioned:Q", title="Actions", format=","),
                 alt.Tooltip("attempted:Q", title="Attempted (sent + blocked)", format=",")],
    )  # fmt: skip
    return Chart("moderation", "moderation", "day", text=_moderation_text,
                 title="Moderation rate",
                 unit="messages masked, shadowed, held or blocked, per message attempted (sent + "
                      "blocked: a blocked message is never sent)",
                 source="moderation_daily", spec=compile_spec(spec))  # fmt: skip


def _moderation_text(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state)
    n, m = total(rows, "actioned"), total(rows, "attempted")
    worst = top([r for r in rows if r.get("moderation_rate") is not None], "moderation_rate")
    peak = (f"; the highest daily rate was {fmt.pct(worst['moderation_rate'])} on "
            f"{fmt.day(worst['day'])}" if worst else "")  # fmt: skip
    return (f"{fmt.count(n)} of {fmt.count(m)} attempted messages (sent + blocked; "
            f"{fmt.pct(share(n, m))}) got a moderation action other than allow{peak}.")


def _by_kind() -> Chart:
    spec = grouped(
        VOLUME, "measure", "count", alt.Y("kind:N", title=None), "count",
        tooltip=[alt.Tooltip("kind:N", title="Kind"),
                 alt.Tooltip("measure_label:N", title="Measure"),
                 alt.Tooltip("count:Q", title="Count", format=",")],
        before=lambda c: (c.transform_fold(list(VOLUME), as_=["measure", "count"])
                          .transform_aggregate(count="sum(count)", groupby=["kind", "measure"])
                          .transform_calculate(measure_label=label_expr(VOLUME, "measure"))),
        height=150)  # fmt: skip
    return Chart("kinds", "kinds", "day", "kind", text=_kind_text, wide=True,
                 title="Engagement by kind of context",
                 unit="messages, reactions and poll votes in context rooms in the range, each "
                      "counted on the day it happened",
                 source="engagement_daily", spec=compile_spec(spec))  # fmt: skip


def _kind_text(rows: list[Row], state: State) -> str:
    if not rows:
        return empty(state)
    contexts, msgs = len({r["context_id"] for r in rows}), total(rows, "messages")
    if state.kind != ALL_KINDS:
        return (f"{fmt.count(contexts)} {kind_label(state.kind)} were active in the range and "
                f"drew {fmt.count(msgs)} messages, {fmt.count(total(rows, 'reactions'))} reactions "
                f"and {fmt.count(total(rows, 'poll_votes'))} poll votes in it, "
                f"{fmt.count(round(msgs / contexts, 1) if contexts else 0)} messages per "
                f"{kind_label(state.kind, plural=False)}.")  # fmt: skip
    per_kind: dict[str, float] = {}
    for r in rows:
        per_kind[r["kind"]] = per_kind.get(r["kind"], 0) + (r.get("messages") or 0)
    lead = max(per_kind, key=lambda k: per_kind[k])
    return (f"Of {fmt.count(msgs)} messages in the rooms of the {fmt.count(contexts)} contexts "
            f"active in the range, {fmt.pct(share(per_kind[lead], msgs))} were in "
            f"{kind_label(lead, plural=False)} rooms.")  # fmt: skip
