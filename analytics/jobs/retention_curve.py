"""Retention curves per posting segment: the share of a cohort using the product in each week
after its cohort period.

Same cohorts and segments as :mod:`analytics.jobs.churn_posting` (held-out users left out).
Week ``k`` (1-based) is ``[cohort_end + 7(k-1), cohort_end + 7k)``; only whole weeks inside
the churn horizon are reported (``floor(churn_days / 7)``; none when ``churn_days < 7``): a
cohort window is ready once the activity export covers ``churn_days`` after the period, so a
last, partial week would be written final while its days were still missing from the export.
``active_share`` has a Wilson interval. Unlike churn, a user can leave the curve in
week 2 and come back in week 3: the curve is "active that week", not "not churned yet".
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs
from analytics.jobs.cohorts import COHORT_EXPORTS, cohort_users
from analytics.settings import SEGMENTS
from analytics.stats import wilson_exprs, z_value


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (cohort window, segment, week after the period)."""
    weeks = inputs.settings.churn_days // 7
    z = z_value(inputs.settings.confidence)
    users = (
        cohort_users(inputs)
        .filter(pl.col("group").fill_null("") != "holdout")
        .select("window", "cohort_start", "cohort_end", "user_id", "segment")
        .cache()
    )
    week = ((pl.col("date") - pl.col("cohort_end")).dt.total_days() // 7 + 1).cast(pl.Int32)
    active = (
        inputs.activity.filter(pl.col("sessions") > 0)
        # Only the dates any window's weeks can reach: prunes row groups before the join.
        .filter(pl.col("date").is_between(inputs.start.date(),
                                          inputs.end.date() + timedelta(days=7 * weeks)))
        .select("user_id", "date")
        .join(users.select("window", "cohort_end", "user_id"), on="user_id")
        .with_columns(week.alias("week"))
        .filter(pl.col("week").is_between(1, weeks))
        .group_by("window", "user_id", "week")
        .agg()
    )
    sizes = users.group_by("window", "cohort_start", "cohort_end", "segment").agg(
        pl.len().cast(pl.Int64).alias("users")
    )
    counts = (
        active.join(users.select("window", "user_id", "segment"), on=["window", "user_id"])
        .group_by("window", "segment", "week")
        .agg(pl.len().cast(pl.Int64).alias("active"))
    )
    grid = sizes.join(pl.LazyFrame({"week": list(range(1, weeks + 1))},
                                   schema={"week": pl.Int32()}), how="cross")  # fmt: skip
    order = {s: i + 1 for i, s in enumerate(SEGMENTS)}
    return (
        grid.join(counts, on=["window", "segment", "week"], how="left")
        .with_columns(
            pl.col("active").fill_null(0),
            pl.col("segment").replace_strict(order, return_dtype=pl.Int32).alias("segment_order"),
        )
        .with_columns(*wilson_exprs("active", "users", z, "active_share"))
        .select("window", "cohort_start", "cohort_end", "segment", "segment_order", "week",
                "users", "active", "active_share", "active_share_low", "active_share_high")
        .sort("window", "segment_order", "week")
    )


JOB = Job(
    name="retention_curve",
    build=build,
    windowing="cohort",
    exports=COHORT_EXPORTS,
    description="share of each posting segment active in each week after its cohort period",
)
