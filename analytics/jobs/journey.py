"""Journey to the community: how long after signup, and after how many product sessions,
users first open a room; one row per signup week plus an ``all`` row (``signup_week`` null).

``sessions_to_open`` is the user's product sessions from the signup day through the day of
the first room open (so 1 means "during their first session day's use"). Users whose first
open precedes their signup (clock or export problems) are counted in ``opened_before_signup``
and left out of the medians.
"""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import Job, JobInputs
from analytics.jobs.summaries import user_event_summary
from service.domain.events import EventType as T


def first_opens(inputs: JobInputs) -> pl.LazyFrame:
    """Each user's first ``community_room_joined`` up to the snapshot's end."""
    return (
        user_event_summary(inputs)
        .filter(pl.col("event_type") == T.ROOM_JOINED.value)
        .select("user_id", pl.col("first").alias("first_open"))
    )


def build(inputs: JobInputs) -> pl.LazyFrame:
    """Signup-week rows with opened share, days and sessions to the first room open."""
    users = (
        inputs.users.filter(pl.col("signed_up_at") < inputs.end)
        .select("user_id", "signed_up_at")
        .join(first_opens(inputs), on="user_id", how="left")
        .with_columns(
            ((pl.col("first_open") - pl.col("signed_up_at")).dt.total_seconds() / 86400)
            .alias("days_to_open"),
            pl.col("signed_up_at").dt.truncate("1w").dt.date().alias("signup_week"),
        )
    )
    sessions = (
        inputs.activity.join(
            users.filter(pl.col("first_open").is_not_null()).select(
                "user_id", "signed_up_at", "first_open"
            ),
            on="user_id",
        )
        .filter(
            pl.col("date").is_between(
                pl.col("signed_up_at").dt.date(), pl.col("first_open").dt.date()
            )
        )
        .group_by("user_id")
        .agg(pl.col("sessions").sum().alias("sessions_to_open"))
    )
    users = users.join(sessions, on="user_id", how="left").with_columns(
        pl.when(pl.col("first_open").is_not_null())
        .then(pl.col("sessions_to_open").fill_null(0))
        .alias("sessions_to_open")
    )
    valid = pl.col("days_to_open") >= 0
    aggs = [
        pl.len().alias("signups"),
        pl.col("first_open").is_not_null().sum().alias("opened"),
        (pl.col("days_to_open") < 0).sum().alias("opened_before_signup"),
        (valid & (pl.col("days_to_open") < 7)).sum().alias("opened_within_7_days"),
        pl.col("days_to_open").filter(valid).median().alias("days_to_open_median"),
        pl.col("days_to_open").filter(valid).quantile(0.75, "linear").alias("days_to_open_p75"),
        pl.col("sessions_to_open").filter(valid).median().alias("sessions_to_open_median"),
        pl.col("sessions_to_open")
        .filter(valid)
        .quantile(0.75, "linear")
        .alias("sessions_to_open_p75"),
    ]
    users = users.cache()
    weekly = users.group_by("signup_week").agg(aggs)
    total = users.select(pl.lit(None, pl.Date).alias("signup_week"), *aggs)
    return (
        pl.concat([weekly, total], how="vertical_relaxed")
        .with_columns(
            pl.lit(inputs.windows[0].key).alias("window"),
            (pl.col("opened") / pl.col("signups")).alias("opened_share"),
        )
        .sort("signup_week", nulls_last=True)
    )


JOB = Job(
    name="journey",
    build=build,
    windowing="snapshot",
    description="days and product sessions from signup to the first room open, per signup week",
)
