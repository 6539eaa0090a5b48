"""Churn vs posting inside each prior-activity stratum: the rows the adjusted difference of
:mod:`analytics.jobs.churn_posting` is built from, so a reader can see where it comes from."""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import Job, JobInputs
from analytics.jobs.cohorts import COHORT_EXPORTS, cohort_users
from analytics.settings import SEGMENTS
from analytics.stats import wilson_exprs, z_value


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (cohort window, stratum, segment) present in the data."""
    z = z_value(inputs.settings.confidence)
    order = {s: i + 1 for i, s in enumerate(SEGMENTS)}
    return (
        cohort_users(inputs)
        .filter(pl.col("group").fill_null("") != "holdout")
        .group_by("window", "cohort_start", "cohort_end", "stratum", "segment")
        .agg(
            pl.len().alias("users"),
            pl.col("pre_sessions").min().alias("pre_sessions_min"),
            pl.col("pre_sessions").max().alias("pre_sessions_max"),
            pl.col("churned").sum().cast(pl.Int64),
            pl.col("retained").sum().cast(pl.Int64),
        )
        .with_columns(
            pl.col("segment").replace_strict(order, return_dtype=pl.Int32).alias("segment_order"),
            *wilson_exprs("churned", "users", z, "churn_rate"),
            *wilson_exprs("retained", "users", z, "retention_rate"),
        )
        .sort("window", "stratum", "segment_order")
    )


JOB = Job(
    name="churn_strata",
    build=build,
    windowing="cohort",
    exports=COHORT_EXPORTS,
    description="churn and retention per segment within each prior-activity stratum",
)
