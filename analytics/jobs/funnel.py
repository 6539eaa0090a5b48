"""The community funnel: view → open → react → vote → post → post again.

``users`` counts users of the users export who did a step at all; ``reached`` those who did it
and every step before it; ``conversion`` is ``reached`` over the previous step's ``reached``.
The first step is "viewed a context" from ``context_views`` when that export is given, else
"used the product" (any activity row with sessions). "Posted again" means posting on two or
more different days. Every step counts only what happened before the snapshot's end (the
warehouse horizon): views and community events after it wait for the next run (product use,
known by the day, counts through the horizon's day).
"""

from __future__ import annotations

import polars as pl

from analytics.jobs.base import Job, JobInputs
from analytics.jobs.summaries import user_event_summary
from service.domain.events import EventType as T

STEPS = ("viewed", "opened", "reacted", "voted", "posted", "posted_again")


def build(inputs: JobInputs) -> pl.LazyFrame:
    """Six rows, one per funnel step, in order."""
    users = inputs.users.filter(pl.col("signed_up_at") < inputs.end).select("user_id")
    has_views = inputs.context_views.select(pl.len()).collect().item() > 0
    if has_views:
        # Cut at the snapshot's end like every other step: the views export may run ahead of
        # the warehouse export.
        viewed = (
            inputs.context_views.filter(pl.col("viewed_at") < inputs.end).select("user_id").unique()
        )
    else:
        viewed = inputs.user_activity.filter(pl.col("first_active") <= inputs.end.date()).select(
            "user_id"
        )
    is_type = pl.col("event_type").__eq__
    acts = user_event_summary(inputs).group_by("user_id").agg(
        is_type(T.ROOM_JOINED.value).any().alias("opened"),
        is_type(T.REACTION_ADDED.value).any().alias("reacted"),
        is_type(T.POLL_VOTED.value).any().alias("voted"),
        is_type(T.MESSAGE_SENT.value).any().alias("posted"),
        # First and last post on different days: posted on two or more days.
        (is_type(T.MESSAGE_SENT.value)
         & (pl.col("first").dt.date() != pl.col("last").dt.date())).any().alias("posted_again"),
    )  # fmt: skip
    flags = (
        users.join(viewed.with_columns(pl.lit(True).alias("viewed")), on="user_id", how="left")
        .join(acts, on="user_id", how="left")
        .select([pl.col(s).fill_null(False) for s in STEPS])
    )
    reached = [pl.all_horizontal(STEPS[: i + 1]) for i in range(len(STEPS))]
    totals = flags.select(
        *[pl.col(s).sum().alias(f"users_{i}") for i, s in enumerate(STEPS)],
        *[r.sum().alias(f"reached_{i}") for i, r in enumerate(reached)],
    )
    rows = [
        totals.select(
            pl.lit(i + 1, pl.Int32).alias("step_order"),
            pl.lit(step).alias("step"),
            pl.col(f"users_{i}").cast(pl.Int64).alias("users"),
            pl.col(f"reached_{i}").cast(pl.Int64).alias("reached"),
            (pl.col(f"reached_{i}") / pl.col(f"reached_{max(i - 1, 0)}")).alias("conversion"),
            (pl.col(f"reached_{i}") / pl.col("reached_0")).alias("share_of_first"),
        )
        for i, step in enumerate(STEPS)
    ]
    label = "viewed a context" if has_views else "used the product"
    return pl.concat(rows).with_columns(
        pl.lit(inputs.windows[0].key).alias("window"),
        pl.when(pl.col("step") == "viewed").then(pl.lit(label)).otherwise(pl.col("step"))
        .alias("step_definition"),
        pl.col("conversion", "share_of_first").fill_nan(None),
    )


JOB = Job(
    name="funnel",
    build=build,
    windowing="snapshot",
    description="view → open → react → vote → post → post again",
)
