"""Journey to the community: how long after signup, and after how many product sessions,
users first open a room.

Rows (``scope``): one per signup week (``week``) from the first signup week to the last, weeks
without signups included (0 signups, null shares and medians: a chart breaks its line there
rather than draw one across them); ``all``, every signup; ``since_launch``, the signups from the
week the community launched on (``signup_week`` null in both totals). ``launch_week`` is the
Monday of the community's first event day (the warehouse export's first day). Users who signed
up before the community existed wait for it, so their days to the first open measure the
launch, not the product's pull: ``since_launch`` is the figure for how soon new users come.

``sessions_to_open`` is the user's product sessions from the signup day through the day of
the first room open (so 1 means "during their first session day's use"). Days to the first
open are exact to the microsecond; ``opened_within_7_days`` is a first open less than 7 × 24
hours after the signup. Users whose first open precedes their signup by any amount (clock or
export problems) are counted in ``opened_before_signup`` and left out of the medians and of
``opened_within_7_days``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import polars as pl

from analytics.io import write_parquet_atomic
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
    """Signup-week rows and the two totals, with opened share, days and sessions to the first
    room open."""
    launch = inputs.windows[0].start.date()
    launch_week = launch - timedelta(days=launch.weekday())
    users = (
        inputs.users.filter(pl.col("signed_up_at") < inputs.end)
        .select("user_id", "signed_up_at")
        .join(first_opens(inputs), on="user_id", how="left")
        .with_columns(
            # From microseconds: ``total_seconds`` truncates toward zero, so an open 0.3 s
            # before the signup read as 0 days (valid, in the medians), not as a data problem.
            ((pl.col("first_open") - pl.col("signed_up_at")).dt.total_microseconds() / 86_400e6)
            .alias("days_to_open"),
            pl.col("signed_up_at").dt.truncate("1w").dt.date().alias("signup_week"),
        )
    )
    opens = users.filter(pl.col("first_open").is_not_null()).select(
        "user_id", "signed_up_at", "first_open"
    )
    sessions = inputs.shared(("journey_sessions", inputs.end),
                             lambda: sessions_to_open(inputs, opens))  # fmt: skip
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
    weeks = weekly.select(
        pl.date_ranges(pl.col("signup_week").min(), pl.col("signup_week").max(), "1w")
        .alias("signup_week")
    ).explode("signup_week").drop_nulls()  # none without signups
    weekly = weeks.join(weekly, on="signup_week", how="left").with_columns(
        pl.col("signups", "opened", "opened_before_signup", "opened_within_7_days").fill_null(0),
        pl.lit("week").alias("scope"),
    )
    totals = [
        frame.select(pl.lit(None, pl.Date).alias("signup_week"), *aggs, pl.lit(scope).alias("scope"))
        for scope, frame in (
            ("all", users),
            ("since_launch", users.filter(pl.col("signup_week") >= launch_week)),
        )
    ]  # fmt: skip
    return (
        pl.concat([weekly, *totals], how="vertical_relaxed")
        .with_columns(
            pl.lit(inputs.windows[0].key).alias("window"),
            pl.when(pl.col("signups") > 0)
            .then(pl.col("opened") / pl.col("signups"))
            .alias("opened_share"),
            pl.lit(launch_week, pl.Date).alias("launch_week"),
        )
        .sort("signup_week", "scope", nulls_last=True)
    )


JOB = Job(
    name="journey",
    build=build,
    windowing="snapshot",
    description="days and product sessions from signup to the first room open, per signup week",
)


def _count(activity: pl.LazyFrame, opens: pl.LazyFrame) -> pl.LazyFrame:
    return (
        activity.join(opens, on="user_id")
        .filter(pl.col("date").is_between(pl.col("signed_up_at").dt.date(),
                                          pl.col("first_open").dt.date()))
        .group_by("user_id")
        .agg(pl.col("sessions").sum().alias("sessions_to_open"))
    )  # fmt: skip


def sessions_to_open(inputs: JobInputs, opens: pl.LazyFrame) -> pl.LazyFrame:
    """Sessions from signup through the first open, per user who opened.

    A user's count never changes once their first open is known (for one version of the
    activity export), so it is kept in ``_derived`` and only users whose first open is new
    (or moved) are counted from the activity export on a later run.
    """
    if inputs.probe:
        return opens.join(_count(inputs.activity, opens), on="user_id", how="left").select(
            "user_id", pl.col("sessions_to_open").fill_null(0)
        )
    folder = inputs.warehouse.reports_root / "_derived"
    state, meta = folder / "journey_sessions.parquet", folder / "journey_sessions.json"
    opens_df = opens.collect()
    known = None
    same_exports = (
        state.is_file() and meta.is_file() and inputs.exports_version
        and json.loads(meta.read_text()).get("exports") == inputs.exports_version
    )  # fmt: skip
    if same_exports:
        known = pl.read_parquet(state).join(
            opens_df.select("user_id", "first_open"), on=["user_id", "first_open"]
        )
    todo = opens_df if known is None else opens_df.join(known, on="user_id", how="anti")
    parts = [] if known is None else [known.select("user_id", "first_open", "sessions_to_open")]
    if todo.height:
        counted = todo.lazy().join(_count(inputs.activity, todo.lazy()), on="user_id", how="left")
        parts.append(
            counted.select("user_id", "first_open", pl.col("sessions_to_open").fill_null(0))
            .collect(engine="streaming")
        )  # fmt: skip
    result = pl.concat(parts, how="vertical_relaxed") if parts else opens_df.select(
        "user_id", "first_open", pl.lit(0, pl.Int64).alias("sessions_to_open"))  # fmt: skip
    write_parquet_atomic(result, state)
    tmp = meta.with_name(f".{meta.name}.tmp")
    tmp.write_text(json.dumps({"exports": inputs.exports_version}))
    os.replace(tmp, meta)
    return result.select("user_id", "sessions_to_open").lazy()
