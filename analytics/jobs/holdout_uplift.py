"""Holdout uplift: the causal effect of offering the community, from the random holdout.

The service assigns each user to ``exposed`` or ``holdout`` by a deterministic hash and records
it as ``community_exposure_assigned``. Within each cohort period, users assigned before the
period's end who used the product in it are compared by their assignment (intention to
treat: exposed users who never opened a room stay in the exposed group). ``uplift`` is the
difference in the share not churned (exposed minus holdout), with Newcombe's interval;
``retention_uplift`` the same for short-term retention.
"""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import Job, JobInputs, window_frame
from analytics.jobs.cohorts import COHORT_EXPORTS, cohort_users, definitions
from analytics.stats import newcombe_exprs, wilson_exprs, z_value

GROUPS = ("exposed", "holdout")


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per cohort window."""
    z = z_value(inputs.settings.confidence)
    groups = (
        cohort_users(inputs)
        .filter(pl.col("group").is_in(GROUPS))
        .group_by("window", "group")
        .agg(
            pl.len().alias("users"),
            (~pl.col("churned")).sum().alias("stayed"),
            pl.col("retained").sum().alias("retained"),
        )
    )
    wide = window_frame(inputs.windows).select(
        "window",
        pl.col("window_start").dt.date().alias("cohort_start"),
        pl.col("window_end").dt.date().alias("cohort_end"),
    )
    for g in GROUPS:
        part = groups.filter(pl.col("group") == g).select(
            "window", *[pl.col(c).alias(f"{g}_{c}") for c in ("users", "stayed", "retained")]
        )
        wide = wide.join(part, on="window", how="left")
    return (
        wide.with_columns(pl.col("^(exposed|holdout)_.*$").fill_null(0).cast(pl.Int64))
        .with_columns(
            *wilson_exprs("exposed_stayed", "exposed_users", z, "exposed_stay_rate"),
            *wilson_exprs("holdout_stayed", "holdout_users", z, "holdout_stay_rate"),
            *newcombe_exprs("exposed_stayed", "exposed_users", "holdout_stayed",
                            "holdout_users", z, "uplift"),
            *wilson_exprs("exposed_retained", "exposed_users", z, "exposed_retention"),
            *wilson_exprs("holdout_retained", "holdout_users", z, "holdout_retention"),
            *newcombe_exprs("exposed_retained", "exposed_users", "holdout_retained",
                            "holdout_users", z, "retention_uplift"),
        )
        .with_columns(
            (pl.col("holdout_users") / (pl.col("exposed_users") + pl.col("holdout_users")))
            .fill_nan(None)
            .alias("holdout_share"),
            *definitions(inputs.settings),
        )
        .sort("window")
    )


JOB = Job(
    name="holdout_uplift",
    build=build,
    windowing="cohort",
    exports=COHORT_EXPORTS,
    description="retention of exposed vs held-out users (the causal answer)",
)
