"""Community health per day: DAU, WAU, MAU, stickiness and poster share.

A user is active on a day when they are the subject of a participation event that day
(opened a room, posted, reacted, voted or reported). Taking back what they did (removing a
reaction, leaving a room) is not taking part, and moderator actions done *to* a user do not make
them active either; the same participation the churn segments, the funnel and the journey read.
WAU and MAU count distinct users over the 7 and 30 days ending that day.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs
from service.domain.events import EventType

ACTIVE_TYPES = (
    EventType.ROOM_JOINED, EventType.MESSAGE_SENT, EventType.REACTION_ADDED,
    EventType.POLL_VOTED, EventType.MESSAGE_REPORTED,
)  # fmt: skip


def coverage(user_days: pl.LazyFrame, span: int, name: str, calendar: pl.LazyFrame) -> pl.LazyFrame:
    """Distinct users active within the ``span`` days ending on each calendar day.

    A user active on days a1 < a2 < ... counts on day d when their latest active day up to d
    is at most ``span - 1`` days old: on [a_i, min(a_i + span, a_(i+1))). Those ranges do not
    overlap, so one pass over the user-days with +1 at each start and -1 at each end, summed
    along the calendar, counts every day at once (instead of one distinct count per day).
    """
    span_days = timedelta(days=span)
    ranges = (
        user_days.select("user_id", "day")  # sorted by user, then day
        .with_columns(
            pl.when(pl.col("user_id").shift(-1) == pl.col("user_id"))
            .then(pl.col("day").shift(-1))
            .otherwise(pl.col("day") + span_days)
            .alias("next")
        )
        .with_columns(pl.min_horizontal(pl.col("day") + span_days, pl.col("next")).alias("stop"))
    )
    starts = ranges.group_by("day").agg(pl.len().alias("plus"))
    stops = ranges.group_by(pl.col("stop").alias("day")).agg(pl.len().alias("minus"))
    return (
        calendar.join(starts, on="day", how="left")
        .join(stops, on="day", how="left")
        .sort("day")
        .select(
            "day",
            (pl.col("plus").fill_null(0).cast(pl.Int64) - pl.col("minus").fill_null(0))
            .cum_sum()
            .alias(name),
        )
    )


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
        .sort("user_id", "day")
    )
    # Collected once here: five counts below read it, and it is small (one row per user-day).
    user_days = inputs.shared(("user_days", inputs.start, inputs.end), lambda: user_days)
    posting_days = user_days.filter(pl.col("posted"))
    last = inputs.end.date() - timedelta(days=1)
    calendar = pl.LazyFrame({"day": pl.date_range(history_start.date(), last, "1d", eager=True)})
    days = pl.LazyFrame(
        {"window": [w.key for w in inputs.windows], "day": [w.start.date() for w in inputs.windows]}
    )
    for frame, span, name in ((user_days, 1, "dau"), (user_days, 7, "wau"),
                              (user_days, 30, "mau"), (posting_days, 1, "posters"),
                              (posting_days, 30, "monthly_posters")):  # fmt: skip
        days = days.join(coverage(frame, span, name, calendar), on="day", how="left")
    history = (
        pl.col("day") - pl.lit(first_day[0] if first_day else inputs.start.date())
    ).dt.total_days() + 1
    return (
        days.with_columns(
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
        .sort("day")
    )


JOB = Job(
    name="community_health",
    build=build,
    windowing="day",
    description="DAU/WAU/MAU, stickiness (DAU/MAU) and poster share per day",
)
