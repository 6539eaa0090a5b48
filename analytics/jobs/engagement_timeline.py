"""Per-event timelines: messages, reactions and poll votes per minute of each context.

The minute-by-minute series behind :mod:`analytics.jobs.engagement` (whose ``peak_minute``
and per-minute averages summarise it), for drill-downs that show a match on its own clock.
``minute`` counts from the context's ``starts_at`` (negative before kick-off); events of the
room count from ``timeline_margin_minutes`` before the start to as long after the end, exactly
as in the engagement report, so a context's minutes sum to its engagement row. Only minutes
with at least one interaction are written.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.jobs import engagement
from analytics.jobs.base import Job, JobInputs
from service.domain.events import EventType as T

_TYPES = (T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED)
_SCHEMA = {
    "window": pl.String(), "context_id": pl.String(), "kind": pl.String(),
    "minute": pl.Int64(), "messages": pl.Int64(), "reactions": pl.Int64(),
    "poll_votes": pl.Int64(), "interactions": pl.Int64(),
}  # fmt: skip


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per (context, minute with interactions)."""
    margin = timedelta(minutes=inputs.settings.timeline_margin_minutes)
    contexts = engagement.window_contexts(inputs)
    lo, hi = contexts.select(pl.col("starts_at").min(), pl.col("ends_at").max()).collect().row(0)
    if lo is None:
        return pl.LazyFrame(schema=_SCHEMA)
    is_type = pl.col("event_type").__eq__
    columns = ("event_type", "occurred_at")
    return (
        engagement.room_events(inputs, contexts, (lo, hi), margin, _TYPES, columns, ("window", "kind"))
        .group_by("window", "context_id", "kind", "minute")
        .agg(
            is_type(T.MESSAGE_SENT.value).sum().cast(pl.Int64).alias("messages"),
            is_type(T.REACTION_ADDED.value).sum().cast(pl.Int64).alias("reactions"),
            is_type(T.POLL_VOTED.value).sum().cast(pl.Int64).alias("poll_votes"),
        )
        .with_columns(engagement.INTERACTIONS.alias("interactions"))
        .select(list(_SCHEMA))
        .sort("window", "context_id", "minute")
    )


JOB = Job(
    name="engagement_timeline",
    build=build,
    windowing="context_day",
    description="per context and minute of its own timeline: messages, reactions, poll votes",
    final_lag=engagement.JOB.final_lag,
)
