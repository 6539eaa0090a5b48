"""Churn vs posting: churn and retention per community segment, each compared with the
reference segment (``never_opened`` by default) both naively and stratified by prior product
activity.

Active users both post and stay, so the naive difference mixes the community's effect with
who the posters are. The adjusted difference compares each segment with the reference inside
each prior-activity stratum and averages those differences weighted by the segment's own users
per stratum (the difference for users like this segment's). Intervals: Wilson for rates,
Newcombe for the naive difference, a normal interval from per-stratum variances for the
adjusted one. It is still an observational comparison; the holdout report is the causal one.
Each row carries the settings it was computed with (``churn_days``, ``retention_days``,
``confidence``), so what reads it can state the definitions of its own numbers.
"""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import Job, JobInputs, window_frame
from analytics.jobs.cohorts import COHORT_EXPORTS, cohort_users, definitions
from analytics.settings import SEGMENTS
from analytics.stats import newcombe_exprs, stratified_aggs, wilson_exprs, z_value

OUTCOMES = ("churned", "retained")


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (cohort window, segment)."""
    z = z_value(inputs.settings.confidence)
    ref = inputs.settings.reference_segment
    users = cohort_users(inputs).filter(pl.col("group").fill_null("") != "holdout").cache()
    counts = [pl.len().alias("users"), *[pl.col(o).sum().alias(o) for o in OUTCOMES]]
    per_segment = users.group_by("window", "segment").agg(counts)
    grid = (
        window_frame(inputs.windows)
        .select("window", pl.col("window_start").dt.date().alias("cohort_start"),
                pl.col("window_end").dt.date().alias("cohort_end"))
        .join(pl.LazyFrame({"segment": list(SEGMENTS),
                            "segment_order": list(range(1, len(SEGMENTS) + 1))}), how="cross")
        .join(per_segment, on=["window", "segment"], how="left")
        .with_columns(pl.col("users", *OUTCOMES).fill_null(0).cast(pl.Int64))
    )  # fmt: skip
    reference = grid.filter(pl.col("segment") == ref).select(
        "window", *[pl.col(c).alias(f"ref_{c}") for c in ("users", *OUTCOMES)]
    )
    strata = users.group_by("window", "segment", "stratum").agg(counts)
    ref_strata = strata.filter(pl.col("segment") == ref).select(
        "window", "stratum", *[pl.col(c).alias(f"ref_{c}") for c in ("users", *OUTCOMES)]
    )
    adjusted = (
        strata.join(ref_strata, on=["window", "stratum"], how="left")
        .with_columns(pl.col("^ref_.*$").fill_null(0))
        .group_by("window", "segment")
        .agg(
            *stratified_aggs("churned", "users", "ref_churned", "ref_users", z,
                             "churn_diff_adjusted"),
            *stratified_aggs("retained", "users", "ref_retained", "ref_users", z,
                             "retention_diff_adjusted"),
        )
    )  # fmt: skip
    is_ref = pl.col("segment") == ref
    return (
        grid.join(reference, on="window", how="left")
        .join(adjusted, on=["window", "segment"], how="left")
        # A segment without users uses no stratum: 0, as for one whose strata lack the reference.
        .with_columns(pl.col("^.*_diff_adjusted_strata$").fill_null(0))
        .with_columns(
            *wilson_exprs("churned", "users", z, "churn_rate"),
            *wilson_exprs("retained", "users", z, "retention_rate"),
            *newcombe_exprs("churned", "users", "ref_churned", "ref_users", z, "churn_diff_naive"),
            *newcombe_exprs("retained", "users", "ref_retained", "ref_users", z,
                            "retention_diff_naive"),
        )
        .with_columns(
            pl.when(~is_ref).then(pl.col("^.*_diff_.*$")).name.keep(),
            pl.lit(ref).alias("reference_segment"),
            *definitions(inputs.settings),
        )
        .drop("ref_users", "ref_churned", "ref_retained")
        .sort("window", "segment_order")
    )


JOB = Job(
    name="churn_posting",
    build=build,
    windowing="cohort",
    exports=COHORT_EXPORTS,
    description="churn and retention per posting segment, naive and stratified differences",
)
