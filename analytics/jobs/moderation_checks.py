"""Moderation actions by check: which checks flag what, and how often review overturns them.

Each non-allow verdict names the checks that gave a reason; a verdict citing two checks counts
once for each, one citing a check twice once for it, with the check's highest score in it
(``mean_score`` averages those). ``verdicts`` are counted on the verdict's day; ``reviewed`` and
``overturned`` on the day of the review (of a held message: approved, rejected or deleted in
the review queue, as in :mod:`analytics.jobs.moderation_daily`) whose verdict cited the check,
so the share overturned per check is a sum over days of both. A review counts for the checks
of the hold verdict it is timed from (found within ``review_lookback_days`` before it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs
from analytics.jobs.moderation_daily import timed_reviews
from service.domain.events import EventType as T

_PAYLOAD = pl.Struct(
    {
        "action": pl.String,
        "reasons": pl.List(pl.Struct({"check": pl.String, "code": pl.String, "score": pl.Float64})),
    }
)


def _verdicts(inputs: JobInputs, start: datetime, end: datetime) -> pl.LazyFrame:
    """One row per (verdict, check that gave a reason), with the check's highest score in the
    verdict: a check giving two reasons (two kinds of personal data, two spam signals) counts
    once, with its strongest evidence (deduplicating with ``unique`` kept whichever reason it
    met first)."""
    return (
        inputs.events(start, end, [T.MESSAGE_MODERATED.value])
        .select(
            "event_id",
            "message_id",
            "occurred_at",
            pl.col("payload").str.json_decode(_PAYLOAD).alias("p"),
        )
        .select(
            "event_id",
            "message_id",
            "occurred_at",
            pl.col("p").struct.field("action"),
            pl.col("p").struct.field("reasons"),
        )
        .explode("reasons")
        .filter(pl.col("reasons").is_not_null())
        .select(
            "event_id",
            "message_id",
            "occurred_at",
            "action",
            pl.col("reasons").struct.field("check"),
            pl.col("reasons").struct.field("score"),
        )
        .group_by("event_id", "check")
        .agg(pl.col("message_id", "occurred_at", "action").first(), pl.col("score").max())
    )


def build(inputs: JobInputs) -> pl.LazyFrame:
    """Rows per (day window, check, action) with verdicts, mean score, reviews and overturns."""
    counted = (
        _verdicts(inputs, inputs.start, inputs.end)
        .group_by(pl.col("occurred_at").dt.date().alias("day"), "check", "action")
        .agg(pl.len().alias("verdicts"), pl.col("score").mean().alias("mean_score"))
    )
    lookback = inputs.start - timedelta(days=inputs.settings.review_lookback_days)
    held = _verdicts(inputs, lookback, inputs.end).filter(pl.col("action") == "hold")
    # A review of a hold is timed from the hold verdict it found (within the lookback of the
    # review itself); it reviews that verdict's checks. Joining any hold of the message since
    # the chunk's lookback counted a hold older than the lookback when a long chunk reached it.
    reviews = (
        timed_reviews(inputs)
        .filter((pl.col("source") == "hold") & pl.col("flagged_at").is_not_null())
        .select(
            "message_id",
            "flagged_at",
            pl.col("reviewed_at").dt.date().alias("day"),
            (pl.col("decision") == "approve").alias("approved"),
        )
    )
    reviewed = (
        reviews.join(
            held.select("message_id", pl.col("occurred_at").alias("flagged_at"), "check", "action"),
            on=["message_id", "flagged_at"],
        )
        .group_by("day", "check", "action")
        .agg(pl.len().alias("reviewed"), pl.col("approved").sum().alias("overturned"))
    )
    keys = {w.start.date(): w.key for w in inputs.windows}
    return (
        counted.join(reviewed, on=["day", "check", "action"], how="full", coalesce=True)
        .filter(pl.col("day").is_in(list(keys)))
        .with_columns(
            pl.col("day").replace_strict(keys, return_dtype=pl.String).alias("window"),
            pl.col("verdicts", "reviewed", "overturned").fill_null(0).cast(pl.Int64),
        )
        .select("window", "day", "check", "action", "verdicts", "mean_score", "reviewed",
                "overturned")
        .sort("day", "check", "action")
    )


JOB = Job(
    name="moderation_checks",
    build=build,
    windowing="day",
    description="moderation verdicts by check and action, with review overturns per check",
)
