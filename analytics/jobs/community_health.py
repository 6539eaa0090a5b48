"""Community health per day: DAU, WAU, MAU, stickiness and poster share.

A user is active on a day when they are the subject of a participation event that day
(opened a room, posted, reacted, voted or reported). Moderator actions done *to* a user do not
make them active. WAU and MAU count distinct users over the 7 and 30 days ending that day.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs
from service.domain.events import EventType

ACTIVE_TYPES = (
    EventType.ROOM_JOINED, EventType.MESSAGE_SENT, EventType.REACTION_ADDED,
    EventType.REACTION_REMOVED, EventType.POLL_VOTED, EventType.MESSAGE_REPORTED,
)  # fmt: skip


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per day window: active and posting users over 1, 7 and 30 days."""
    first_day = inputs.warehouse.days()[:1]
    history_start = inputs.start - timedelta(days=29)
    user_days = (
        inputs.events(history_start, inputs.end, [t.value for t in ACTIVE_TYPES])
        .select(
            "user_id",
            pl.col("occurred_at").dt.date().alias("day"),
            (pl.col("event_type") == EventType.MESSAGE_SENT.value).alias("posted"),
        )
        .group_by("user_id", "day")
        .agg(pl.col("posted").any())
        .cache()
    )
    rows = []
    for w in inputs.windows:
        day = w.start.date()

        def within(days: int, day=day) -> pl.Expr:
            return pl.col("day").is_between(day - timedelta(days=days - 1), day)

        rows.append(
            user_days.select(
                pl.lit(w.key).alias("window"),
                pl.lit(day).alias("day"),
                pl.col("user_id").filter(within(1)).n_unique().alias("dau"),
                pl.col("user_id").filter(within(7)).n_unique().alias("wau"),
                pl.col("user_id").filter(within(30)).n_unique().alias("mau"),
                pl.col("user_id").filter(within(1) & pl.col("posted")).n_unique().alias("posters"),
                pl.col("user_id")
                .filter(within(30) & pl.col("posted"))
                .n_unique()
                .alias("monthly_posters"),
            )
        )
    history = (
        pl.col("day") - pl.lit(first_day[0] if first_day else inputs.start.date())
    ).dt.total_days() + 1
    return (
        pl.concat(rows)
        .with_columns(
            (pl.col("dau") / pl.col("mau")).alias("stickiness"),
            (pl.col("wau") / pl.col("mau")).alias("wau_mau"),
            (pl.col("posters") / pl.col("dau")).alias("poster_share"),
            (pl.col("monthly_posters") / pl.col("mau")).alias("monthly_poster_share"),
            pl.min_horizontal(history, pl.lit(30)).cast(pl.Int32).alias("history_days"),
        )
        .with_columns(
            # 0/0 on a day without users is "no value", not NaN.
            pl.col("stickiness", "wau_mau", "poster_share", "monthly_poster_share").fill_nan(None)
        )
    )


JOB = Job(
    name="community_health",
    build=build,
    windowing="day",
    description="DAU/WAU/MAU, stickiness (DAU/MAU) and poster share per day",
)
