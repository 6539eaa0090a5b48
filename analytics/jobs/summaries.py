"""Per-user summaries of the whole history that more than one snapshot job reads."""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import JobInputs
from service.domain.events import EventType as T

STEP_TYPES = (T.ROOM_JOINED, T.REACTION_ADDED, T.POLL_VOTED, T.MESSAGE_SENT)


def user_event_summary(inputs: JobInputs) -> pl.LazyFrame:
    """Per user and step type: first and last time, up to the end of the chunk's windows."""
    return inputs.shared(
        ("user_event_summary", inputs.end),
        lambda: inputs.events(None, inputs.end, [t.value for t in STEP_TYPES])
        .group_by("user_id", "event_type")
        .agg(
            pl.col("occurred_at").min().alias("first"),
            pl.col("occurred_at").max().alias("last"),
        ),
    )
