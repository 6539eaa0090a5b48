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

from datetime import date, timedelta

import polars as pl

from analytics.jobs.base import JobInputs, Window, payload_str
from analytics.settings import SEGMENTS, AnalyticsSettings
from service.domain.events import EventType as T

_COMMUNITY = (T.ROOM_JOINED, T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED)
COHORT_EXPORTS = ("users", "activity")
"""What a cohort window reads of the exports: users who signed up before its end, and activity
rows with sessions from its pre-period to its outcome horizon (:func:`export_range`)."""


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


def definitions(s: AnalyticsSettings) -> list[pl.Expr]:
    """The settings a cohort report's numbers mean something by, as constant columns
    (``churn_days``, ``retention_days``, ``confidence``): the dashboards state the definitions
    from the rows they show, never from defaults."""
    return [pl.lit(s.churn_days, pl.Int32).alias("churn_days"),
            pl.lit(s.retention_days, pl.Int32).alias("retention_days"),
            pl.lit(s.confidence, pl.Float64).alias("confidence")]  # fmt: skip


def export_range(s: AnalyticsSettings, d0: date, d1: date) -> tuple[date, date]:
    """The activity days ``[lo, hi)`` a cohort period ``[d0, d1)`` reads: its pre-period, the
    period and its outcome horizon."""
    horizon = d1 + timedelta(days=max(s.churn_days, s.retention_days))
    return d0 - timedelta(days=s.pre_period_days), horizon


def _bounds(inputs: JobInputs, w: Window) -> tuple[date, date, date, date]:
    """Pre-period start, period start, period end, end of the outcome horizon (days)."""
    d0, d1 = w.start.date(), w.end.date()
    lo, hi = export_range(inputs.settings, d0, d1)
    return lo, d0, d1, hi


def product_use(inputs: JobInputs) -> pl.LazyFrame:
    """Per user, for every window ``k`` of the chunk: ``active_k`` (used the product in the
    period), ``pre_k`` (sessions in the pre-period), ``next_k`` (first use after the period).

    One pass over the activity export for the whole chunk, shared by the cohort jobs, instead
    of three filtered passes per window.
    """

    def build() -> pl.LazyFrame:
        day, aggs = pl.col("date"), []
        for k, w in enumerate(inputs.windows):
            pre0, d0, d1, end = _bounds(inputs, w)
            aggs += [
                day.is_between(d0, d1, closed="left").any().alias(f"active_{k}"),
                pl.col("sessions").filter(day.is_between(pre0, d0, closed="left")).sum()
                .alias(f"pre_{k}"),
                day.filter(day.is_between(d1, end, closed="left")).min().alias(f"next_{k}"),
            ]  # fmt: skip
        bounds = [_bounds(inputs, w) for w in inputs.windows]
        lo, hi = min(b[0] for b in bounds), max(b[3] for b in bounds)
        return (
            inputs.activity.filter((pl.col("sessions") > 0) & day.is_between(lo, hi, closed="left"))
            .group_by("user_id")
            .agg(aggs)
        )  # fmt: skip

    return inputs.shared(("product_use", *(w.key for w in inputs.windows)), build)


def period_users(inputs: JobInputs, w: Window) -> pl.LazyFrame:
    """The cohort of one period with segment, stratum, outcomes and exposure group."""
    s = inputs.settings
    t0, t1 = w.start, w.end
    _, d0, d1, _ = _bounds(inputs, w)
    k = inputs.windows.index(w)
    use = product_use(inputs).filter(pl.col(f"active_{k}")).select(
        "user_id", pl.col(f"pre_{k}").alias("pre_sessions"),
        pl.col(f"next_{k}").alias("next_active"),
    )  # fmt: skip
    cohort = (
        inputs.users.filter(pl.col("signed_up_at") < t1).select("user_id").join(use, on="user_id")
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
    churn_end = d1 + timedelta(days=s.churn_days)
    retain_end = d1 + timedelta(days=s.retention_days)
    users = (
        cohort.join(community, on="user_id", how="left")
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
