"""Moderation quality per day: verdicts, masked share, reports, reviews, overturns, review time.

- ``attempted``: messages users tried to send, ``messages`` (sent) + ``verdicts_block``: a
  blocked message is refused before it is written, so it has a verdict and no
  ``community_message_sent`` event. ``actioned`` is every verdict other than allow (mask,
  shadow, hold, block) and ``moderation_rate`` = ``actioned`` / ``attempted``; over sent
  messages alone the blocked ones would count above the line and not below it.
- ``masked_share``: sent messages whose text was masked (PII) over all sent messages.
- A review is a decision in the review queue: ``approve`` or ``reject`` (a
  ``community_message_approved`` event with that decision), or ``delete`` (the queue writes
  only a ``community_message_deleted`` event, marked ``review: true`` in its payload). Every
  other delete is marked ``review: false`` and is no review, whatever its reason says: a
  moderator's delete outside the queue, and the delete that follows the reject of a reported
  message. Deletes written before the marker existed are read by their reason, ``review``
  being the only one the queue wrote (:func:`review_delete`). A review *overturns* the flag
  when its decision is ``approve`` (a held message released, or a reported message kept).
- Time to review runs from the hold verdict (source ``hold``) or the first report (source
  ``report``) of the message since its previous review, if any, to the review, in minutes to
  the microsecond. Each review looks back ``review_lookback_days`` from its own time, so a
  day's figures do not depend on the chunk of days a run computes it in; a review whose flags
  all lie further back is counted, untimed. Reviews are counted on the day they were made; a
  message reviewed twice (kept, then reported again) is two reviews, each timed from its own
  flag. A delete names no source: it is timed from the message's earliest flag since its
  previous review (the hold verdict of a held message, which comes before any report of it,
  also one of the same microsecond).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs, payload_str
from service.domain.events import EventType as T

_ACTIONS = ("mask", "shadow", "hold", "block")
LEGACY_REVIEW_REASON = "review"
"""The reason of the ``community_message_deleted`` event the review queue's delete wrote
before the payload's ``review`` marker existed; it read as the queue's delete then."""


def review_delete() -> pl.Expr:
    """Whether a ``community_message_deleted`` event is the review queue's ``delete`` decision
    (``service.actions.reports``, which writes no ``community_message_approved`` for it).

    The payload's ``review`` says so; only an event without it (written before the marker) is
    read by its reason, so a moderator's own delete with the reason ``review`` is no review,
    and the queue's delete stays one whatever its reason is worded.
    """
    marker = payload_str("$.review")
    return (
        pl.when(marker.is_null())
        .then(payload_str("$.reason") == LEGACY_REVIEW_REASON)
        .otherwise(marker == "true")
    )


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per day window with moderation counts and review times."""
    types = [T.MESSAGE_SENT, T.MESSAGE_MODERATED, T.MESSAGE_REPORTED]
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
        review_counts(timed_reviews(inputs)),
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
            (pl.col("messages") + pl.col("verdicts_block")).alias("attempted"),
            pl.sum_horizontal(f"verdicts_{a}" for a in _ACTIONS).alias("actioned"),
        )
        .with_columns(
            pl.when(pl.col("attempted") > 0)
            .then(pl.col("actioned") / pl.col("attempted"))
            .alias("moderation_rate")
        )
        .sort("day")
    )


def decisions(inputs: JobInputs, start: datetime) -> pl.LazyFrame:
    """Review decisions from ``start`` to the chunk's end: ``message_id``, ``reviewed_at``,
    ``decision`` (approve, reject, delete) and ``source`` (hold, report; null for a delete)."""
    kinds = [T.MESSAGE_APPROVED.value, T.MESSAGE_DELETED.value]
    approved = pl.col("event_type") == T.MESSAGE_APPROVED.value
    return (
        inputs.events(start, inputs.end, kinds)
        .filter(approved | review_delete())
        .select(
            "message_id",
            pl.col("occurred_at").alias("reviewed_at"),
            pl.when(approved).then(payload_str("$.decision")).otherwise(pl.lit("delete"))
            .alias("decision"),
            pl.when(approved).then(payload_str("$.source")).alias("source"),
        )
    )  # fmt: skip


def timed_reviews(inputs: JobInputs) -> pl.LazyFrame:
    """The chunk's reviews, each with ``source`` and ``flagged_at`` (null when no flag of it
    is found within ``review_lookback_days`` before the review): ``message_id, reviewed_at,
    decision, source, flagged_at``.

    A review is timed from the earliest flag of its source (the hold verdict, or a report)
    since the message's previous review: a message kept after a report and reported again
    waits from the new report, not from the one the earlier review already resolved. A delete
    names no source; it takes the source of the earliest flag since the previous review.
    Collected once per run and chunk for this job and :mod:`analytics.jobs.moderation_checks`.
    """
    key = ("timed_reviews", *(w.key for w in inputs.windows))
    return inputs.shared(key, lambda: _timed_reviews(inputs))


def _timed_reviews(inputs: JobInputs) -> pl.LazyFrame:
    lookback = inputs.start - timedelta(days=inputs.settings.review_lookback_days)
    reviews = (
        decisions(inputs, lookback)
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
            .alias("flag_source"),
            pl.col("occurred_at").alias("flagged_at"),
        )
    )
    since_previous = pl.col("previous_review").is_null() | (
        pl.col("flagged_at") > pl.col("previous_review")
    )
    of_source = pl.col("source").is_null() | (pl.col("source") == pl.col("flag_source"))
    # Each review looks back from its own time, not from the chunk's start: looking back from
    # the chunk's start, a review late in a month-long chunk found flags up to 30 days older
    # than one computed alone, so a day's times depended on how the run cut its windows.
    in_lookback = pl.col("flagged_at").is_between(
        pl.col("reviewed_at") - timedelta(days=inputs.settings.review_lookback_days),
        pl.col("reviewed_at"),
    )
    first = (
        reviews.select("message_id", "reviewed_at", "previous_review", "source")
        .join(flags, on="message_id", how="inner")
        .filter(in_lookback & since_previous & of_source)
        .group_by("message_id", "reviewed_at")
        .agg(
            # The earliest; a hold before a report of the same microsecond.
            pl.col("flagged_at").min(),
            pl.col("flag_source").sort_by("flagged_at", "flag_source").first(),
        )
    )
    return (
        reviews.join(first, on=["message_id", "reviewed_at"], how="left")
        .with_columns(pl.coalesce("source", "flag_source").alias("source"))
        .select("message_id", "reviewed_at", "decision", "source", "flagged_at")
    )


def review_counts(reviews: pl.LazyFrame) -> pl.LazyFrame:
    """Per review day: reviews, overturns, and median and 90th percentile minutes from flag
    to review (over the reviews whose flag was found)."""
    # From microseconds: ``total_seconds`` truncates toward zero (a review a microsecond after
    # its hold took 0 minutes, one after 30.5 seconds 0.5).
    minutes = (pl.col("reviewed_at") - pl.col("flagged_at")).dt.total_microseconds() / 60e6
    return reviews.group_by(pl.col("reviewed_at").dt.date().alias("day")).agg(
        pl.len().alias("reviews"),
        (pl.col("decision") == "approve").sum().alias("overturned"),
        pl.col("flagged_at").is_not_null().sum().alias("reviews_timed"),
        minutes.median().alias("review_minutes_median"),
        minutes.quantile(0.9, "linear").alias("review_minutes_p90"),
    )


JOB = Job(
    name="moderation_daily",
    build=build,
    windowing="day",
    description="verdicts, masked share, reports, review overturns and time to review per day",
)
