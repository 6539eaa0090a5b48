"""Moderation quality per day: verdicts, masked share, reports, reviews, overturns, review time.

- ``masked_share``: sent messages whose text was masked (PII) over all sent messages.
- A review is a ``community_message_approved`` event; it *overturns* the flag when its decision
  is ``approve`` (a held message released, or a reported message kept).
- Time to review runs from the hold verdict (source ``hold``) or the first report (source
  ``report``) of the message since its previous review, if any, to the review, looking back
  ``review_lookback_days``. Reviews are counted on the day they were made; a message reviewed
  twice (kept, then reported again) is two reviews, each timed from its own flag.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs, payload_str
from service.domain.events import EventType as T

_ACTIONS = ("mask", "shadow", "hold", "block")


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per day window with moderation counts and review times."""
    types = [T.MESSAGE_SENT, T.MESSAGE_MODERATED, T.MESSAGE_REPORTED, T.MESSAGE_APPROVED]
    events = (
        inputs.events(inputs.start, inputs.end, [t.value for t in types])
        .select(pl.col("occurred_at").dt.date().alias("day"), "event_type", "payload")
        .cache()
    )

    def of(kind: T) -> pl.LazyFrame:
        # JSON is parsed only on the rows of the type that carries the field.
        return events.filter(pl.col("event_type") == kind.value)

    action = payload_str("$.action")
    parts = [
        of(T.MESSAGE_SENT).group_by("day").agg(
            pl.len().alias("messages"),
            (payload_str("$.masked") == "true").sum().alias("masked_messages"),
        ),
        of(T.MESSAGE_MODERATED).group_by("day").agg(
            [(action == a).sum().alias(f"verdicts_{a}") for a in _ACTIONS]
        ),
        of(T.MESSAGE_REPORTED).group_by("day").agg(pl.len().alias("reports")),
        of(T.MESSAGE_APPROVED).group_by("day").agg(
            pl.len().alias("reviews"),
            (payload_str("$.decision") == "approve").sum().alias("overturned"),
        ),
        review_times(inputs),
    ]
    days = pl.LazyFrame(
        {"window": [w.key for w in inputs.windows], "day": [w.start.date() for w in inputs.windows]}
    )
    for part in parts:
        days = days.join(part, on="day", how="left")
    return (
        days.with_columns(pl.col(pl.UInt32, pl.Int64).fill_null(0))
        .with_columns(
            (pl.col("masked_messages") / pl.col("messages")).fill_nan(None).alias("masked_share"),
            (pl.col("overturned") / pl.col("reviews")).fill_nan(None).alias("overturn_rate"),
        )
        .sort("day")
    )


def review_times(inputs: JobInputs) -> pl.LazyFrame:
    """Per review day: median and 90th percentile minutes from flag to review.

    A review is timed from the earliest flag of its source (the hold verdict, or a report)
    since the message's previous review: a message kept after a report and reported again
    waits from the new report, not from the one the earlier review already resolved.
    """
    lookback = inputs.start - timedelta(days=inputs.settings.review_lookback_days)
    reviews = (
        inputs.events(lookback, inputs.end, [T.MESSAGE_APPROVED.value])
        .select(
            "message_id",
            pl.col("occurred_at").alias("reviewed_at"),
            payload_str("$.source").alias("source"),
        )
        .sort("message_id", "reviewed_at")
        .with_columns(pl.col("reviewed_at").shift(1).over("message_id").alias("previous_review"))
        .filter(pl.col("reviewed_at") >= inputs.start)
    )
    flags = (
        inputs.events(lookback, inputs.end, [T.MESSAGE_MODERATED.value, T.MESSAGE_REPORTED.value])
        .filter(
            (pl.col("event_type") == T.MESSAGE_REPORTED.value) | (payload_str("$.action") == "hold")
        )
        .select(
            "message_id",
            pl.when(pl.col("event_type") == T.MESSAGE_REPORTED.value)
            .then(pl.lit("report"))
            .otherwise(pl.lit("hold"))
            .alias("source"),
            pl.col("occurred_at").alias("flagged_at"),
        )
    )
    since_previous = pl.col("previous_review").is_null() | (
        pl.col("flagged_at") > pl.col("previous_review")
    )
    timed = (
        reviews.join(flags, on=["message_id", "source"], how="inner")
        .filter((pl.col("flagged_at") <= pl.col("reviewed_at")) & since_previous)
        .group_by("message_id", "reviewed_at")
        .agg(pl.col("flagged_at").min())
    )
    minutes = (pl.col("reviewed_at") - pl.col("flagged_at")).dt.total_seconds() / 60
    return timed.group_by(pl.col("reviewed_at").dt.date().alias("day")).agg(
        pl.len().alias("reviews_timed"),
        minutes.median().alias("review_minutes_median"),
        minutes.quantile(0.9, "linear").alias("review_minutes_p90"),
    )


JOB = Job(
    name="moderation_daily",
    build=build,
    windowing="day",
    description="verdicts, masked share, reports, review overturns and time to review per day",
)
