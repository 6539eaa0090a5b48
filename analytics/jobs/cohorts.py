"""The user table behind the churn and holdout reports: one row per user per cohort period.

For a cohort period ``[t0, t1)`` of ``segment_weeks`` weeks:

- the cohort is every user of the users export who signed up before ``t1`` and used the
  product (an activity row with sessions) during the period;
- the segment comes from community behaviour in the period: ``weekly_posters`` posted in every
  week of it, ``occasional_posters`` in some, ``reactors_only`` reacted or voted but never
  posted, ``lurkers`` opened a room and did nothing more, ``never_opened`` did none of it;
- ``pre_sessions`` are product sessions in the ``pre_period_days`` before ``t0``; ``stratum``
  cuts the cohort (without held-out users) into ``strata`` quantile groups of it (ties share a
  group, so a group can be empty);
- ``churned``: no product activity in the ``churn_days`` from ``t1``; ``retained``: activity in
  the ``retention_days`` from ``t1``;
- ``group``: the latest user-level holdout assignment before ``t1`` (exposed, holdout or null).
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs.base import JobInputs, Window, payload_str
from analytics.settings import SEGMENTS
from service.domain.events import EventType as T

_COMMUNITY = (T.ROOM_JOINED, T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED)


def exposures(inputs: JobInputs, before: object) -> pl.LazyFrame:
    """Each user's latest user-level exposure group assigned before ``before``."""
    return (
        inputs.events(None, before, [T.EXPOSURE_ASSIGNED.value])  # type: ignore[arg-type]
        .filter(payload_str("$.unit").fill_null("user") == "user")
        .select("user_id", "occurred_at", payload_str("$.group").alias("group"))
        .sort("occurred_at")
        .group_by("user_id")
        .agg(pl.col("group").last())
    )


def segment_expr(weeks: int) -> pl.Expr:
    """The segment of a user from their posting weeks and reaction/open flags."""
    return (
        pl.when(pl.col("posted_weeks") >= weeks)
        .then(pl.lit(SEGMENTS[0]))
        .when(pl.col("posted_weeks") > 0)
        .then(pl.lit(SEGMENTS[1]))
        .when(pl.col("reacted"))
        .then(pl.lit(SEGMENTS[2]))
        .when(pl.col("opened"))
        .then(pl.lit(SEGMENTS[3]))
        .otherwise(pl.lit(SEGMENTS[4]))
    )


def period_users(inputs: JobInputs, w: Window) -> pl.LazyFrame:
    """The cohort of one period with segment, stratum, outcomes and exposure group."""
    s = inputs.settings
    t0, t1 = w.start, w.end
    d0, d1 = t0.date(), t1.date()
    active = inputs.activity.filter(pl.col("sessions") > 0)
    in_period = active.filter(pl.col("date").is_between(d0, d1, closed="left"))
    cohort = (
        inputs.users.filter(pl.col("signed_up_at") < t1)
        .select("user_id")
        .join(in_period.select("user_id").unique(), on="user_id", how="semi")
    )
    week = ((pl.col("occurred_at") - pl.lit(t0)).dt.total_days() // 7).cast(pl.Int32)
    community = (
        inputs.events(t0, t1, [t.value for t in _COMMUNITY])
        .group_by("user_id")
        .agg(
            week.filter(pl.col("event_type") == T.MESSAGE_SENT.value).n_unique().alias("posted_weeks"),
            pl.col("event_type").is_in([T.REACTION_ADDED.value, T.POLL_VOTED.value]).any().alias("reacted"),
            (pl.col("event_type") == T.ROOM_JOINED.value).any().alias("opened"),
        )
    )  # fmt: skip
    pre = (
        active.filter(pl.col("date").is_between(d0 - timedelta(days=s.pre_period_days), d0,
                                                closed="left"))
        .group_by("user_id")
        .agg(pl.col("sessions").sum().alias("pre_sessions"))
    )  # fmt: skip
    churn_end = d1 + timedelta(days=s.churn_days)
    horizon = max(churn_end, d1 + timedelta(days=s.retention_days))
    after = (
        active.filter(pl.col("date").is_between(d1, horizon, closed="left"))
        .group_by("user_id")
        .agg(pl.col("date").min().alias("next_active"))
    )
    retain_end = d1 + timedelta(days=s.retention_days)
    users = (
        cohort.join(community, on="user_id", how="left")
        .join(pre, on="user_id", how="left")
        .join(after, on="user_id", how="left")
        .join(exposures(inputs, t1), on="user_id", how="left")
        .with_columns(
            pl.col("posted_weeks").fill_null(0),
            pl.col("reacted", "opened").fill_null(False),
            pl.col("pre_sessions").fill_null(0),
            (pl.col("next_active").is_null() | (pl.col("next_active") >= churn_end)).alias("churned"),
            (pl.col("next_active") < retain_end).fill_null(False).alias("retained"),
        )
        .with_columns(segment_expr(s.segment_weeks).alias("segment"))
    )  # fmt: skip
    return _stratify(users, s.strata).with_columns(
        pl.lit(w.key).alias("window"),
        pl.lit(d0).alias("cohort_start"),
        pl.lit(d1).alias("cohort_end"),
    )


def _stratify(users: pl.LazyFrame, strata: int) -> pl.LazyFrame:
    compared = pl.col("group").fill_null("") != "holdout"
    # Held-out users get a null rank (rank keeps nulls), so they neither get nor shift a stratum.
    rank = pl.when(compared).then(pl.col("pre_sessions")).rank("min").cast(pl.Int64)
    stratum = (rank - 1) * strata // compared.sum() + 1
    return users.with_columns(stratum.clip(1, strata).cast(pl.Int32).alias("stratum"))


def cohort_users(inputs: JobInputs) -> pl.LazyFrame:
    """:func:`period_users` for every window of the chunk, stacked; shared by the cohort jobs."""
    key = ("cohort_users", *(w.key for w in inputs.windows))
    return inputs.shared(key, lambda: pl.concat(
        [period_users(inputs, w) for w in inputs.windows], how="vertical_relaxed"))  # fmt: skip
