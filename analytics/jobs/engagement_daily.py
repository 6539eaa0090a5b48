"""Engagement per context and UTC day: what happened in a context's room on each day.

The day-by-day split of :mod:`analytics.jobs.engagement`: the same room events on the same
timeline (``timeline_margin_minutes`` before ``starts_at`` to as long after ``ends_at``), each
counted on the UTC day it happened. A team room open for two months so counts on every day it
was active, where the engagement report files all of it under the day the room started; a
date range over these rows holds what happened in the range.

One row for the context's start day (even without events, so every context of the engagement
report has a row) and one for every other day with at least one counted event. A context's
rows sum to its engagement row (``messages``, ``reactions``, ``poll_votes``, ``moderated``,
``blocked``, ``attempted`` = messages + blocked: a blocked message has no sent event);
``openers`` and ``posters`` are distinct users of that day, so they do not sum over days.
Rows are filed under the context's own window (its start day), with the engagement report's
lag, so a long context's days are recomputed until its window is final.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs import engagement
from analytics.jobs.base import Job, JobInputs
from service.domain.events import EventType as T

_TYPES = (T.ROOM_JOINED, T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED, T.MESSAGE_MODERATED)
COUNTS = ("openers", "posters", "messages", "reactions", "poll_votes", "interactions",
          "moderated", "blocked", "attempted")  # fmt: skip
_SCHEMA = {
    "window": pl.String(), "context_id": pl.String(), "kind": pl.String(), "day": pl.Date(),
    **{c: pl.Int64() for c in COUNTS},
}  # fmt: skip
_KEY = ["window", "context_id", "kind", "day"]


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (context, UTC day): its start day and every day with room events."""
    margin = timedelta(minutes=inputs.settings.timeline_margin_minutes)
    contexts = engagement.window_contexts(inputs)
    lo, hi = contexts.select(pl.col("starts_at").min(), pl.col("ends_at").max()).collect().row(0)
    if lo is None:
        return pl.LazyFrame(schema=_SCHEMA)
    columns = ("user_id", "event_type", "occurred_at", "payload")
    per_day = (
        engagement.room_events(inputs, contexts, (lo, hi), margin, _TYPES, columns, ("window", "kind"))
        .group_by("window", "context_id", "kind", pl.col("occurred_at").dt.date().alias("day"))
        .agg(*engagement.activity())
    )
    starts = contexts.select("window", "context_id", "kind",
                             pl.col("starts_at").dt.date().alias("day"))  # fmt: skip
    counts = [c for c in COUNTS if c not in ("interactions", "attempted")]
    return (
        starts.join(per_day, on=_KEY, how="full", coalesce=True)
        .with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .with_columns(
            engagement.INTERACTIONS.alias("interactions"),
            (pl.col("messages") + pl.col("blocked")).alias("attempted"),
        )
        .select(list(_SCHEMA))
        .sort("window", "context_id", "day")
    )


JOB = Job(
    name="engagement_daily",
    build=build,
    windowing="context_day",
    description="per context and UTC day of its room's activity: people, volumes, moderation",
    final_lag=engagement.JOB.final_lag,
)
