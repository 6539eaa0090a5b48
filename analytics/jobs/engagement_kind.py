"""Engagement per kind of context (match, team, dashboard ...) per day: the per-context rows of
:mod:`analytics.jobs.engagement` summed, with rates taken over the sums (not averaged)."""

from __future__ import annotations

import polars as pl

from analytics.jobs import engagement
from analytics.jobs.base import Job, JobInputs


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (day window, kind)."""
    sums = ["openers", "posters", "messages", "reactions", "poll_votes", "interactions",
            "moderated", "blocked", "attempted"]  # fmt: skip
    return (
        engagement.per_context(inputs)
        .group_by("window", "kind")
        .agg(
            pl.len().alias("contexts"),
            pl.when(pl.col("viewers").is_not_null().any()).then(pl.col("viewers").sum())
            .alias("viewers"),
            pl.col("viewers").is_null().sum().alias("contexts_without_viewers"),
            *[pl.col(c).sum() for c in sums],
            pl.col("openers").filter(pl.col("viewers").is_not_null()).sum().alias("_open_known"),
            pl.col("duration_minutes").sum().alias("minutes"),
        )
        .with_columns(
            engagement.ratio("_open_known", "viewers").alias("opened_share"),
            (pl.col("messages") / pl.col("contexts")).alias("messages_per_context"),
            engagement.ratio("messages", "minutes").alias("messages_per_minute"),
            engagement.ratio("reactions", "minutes").alias("reactions_per_minute"),
            engagement.ratio("moderated", "attempted").alias("moderation_rate"),
        )
        .drop("_open_known")
        .sort("window", "kind")
    )


JOB = Job(
    name="engagement_kind",
    build=build,
    windowing="context_day",
    exports=("context_views",),
    description="engagement summed per kind of context and day",
    final_lag=engagement.JOB.final_lag,
)
