"""Per-event engagement: how each product object (a match, a dashboard) was discussed.

One row per context of the contexts export, filed under the UTC day it starts. Its timeline
runs in minutes from ``starts_at``; events of its room count from ``timeline_margin_minutes``
before the start to as long after the end. ``viewers`` comes from the export's ``viewers``
column, else from distinct users in ``context_views`` who viewed it on that same timeline and
no later than the warehouse export's latest event (:func:`on_views_timeline`; 0 when its views
all lie outside), else it is unknown (null: no views of it in the export).
``moderated`` counts verdicts other than allow, ``blocked`` the block verdicts among them: a
blocked message is refused before it is written, so it has no ``community_message_sent``
event and ``attempted`` = ``messages`` + ``blocked``. The moderation rate is ``moderated`` /
``attempted`` (over sent messages alone a blocked message would count above the line and not
below it). Each row carries the
``timeline_margin_minutes`` it was computed with, so what reads it can state its timeline.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from analytics.jobs.base import Job, JobInputs, on_timeline, payload_str
from service.domain.events import EventType as T

_TYPES = (T.ROOM_JOINED, T.MESSAGE_SENT, T.REACTION_ADDED, T.POLL_VOTED, T.MESSAGE_MODERATED)


def window_contexts(inputs: JobInputs) -> pl.LazyFrame:
    """Contexts starting in one of the chunk's day windows, with their window key."""
    keys = {w.start.date(): w.key for w in inputs.windows}
    return (
        inputs.contexts.filter(pl.col("starts_at").dt.date().is_in(list(keys)))
        .with_columns(
            pl.col("starts_at").dt.date().replace_strict(keys, return_dtype=pl.String).alias("window")
        )
    )


def room_events(
    inputs: JobInputs, contexts: pl.LazyFrame, span: tuple[datetime, datetime], margin: timedelta,
    types: tuple[T, ...], columns: tuple[str, ...], keep: tuple[str, ...] = (),
) -> pl.LazyFrame:  # fmt: skip
    """The events of ``types`` in the rooms of ``contexts`` on their timelines (``margin``
    before ``starts_at`` to as long after ``ends_at``; ``span``: the contexts' earliest start and
    latest end), with ``columns`` of the event, ``keep`` of its context, and ``minute``.

    A context's room is an event's ``room_id``: its own ``context_id`` is its sender's token's
    ctx, which is another context for a user who reached the room through per-room roles.
    """
    lo, hi = span
    return (
        inputs.events(lo - margin, hi + margin, [t.value for t in types])
        .select(pl.col("room_id").alias("context_id"), *columns)
        .join(contexts.select(*keep, "context_id", "starts_at", "ends_at"), on="context_id")
        .pipe(on_timeline, margin)
    )


INTERACTIONS = pl.col("messages") + pl.col("reactions") + pl.col("poll_votes")
"""A row's ``interactions``: what its people did in the room (messages, reactions, votes)."""


def activity() -> list[pl.Expr]:
    """Per group of room events: ``openers`` and ``posters`` (distinct users), ``messages``,
    ``reactions``, ``poll_votes``, ``moderated`` (verdicts other than allow) and ``blocked``."""
    is_type = pl.col("event_type").__eq__
    return [
        pl.col("user_id").filter(is_type(T.ROOM_JOINED.value)).n_unique().alias("openers"),
        pl.col("user_id").filter(is_type(T.MESSAGE_SENT.value)).n_unique().alias("posters"),
        is_type(T.MESSAGE_SENT.value).sum().alias("messages"),
        is_type(T.REACTION_ADDED.value).sum().alias("reactions"),
        is_type(T.POLL_VOTED.value).sum().alias("poll_votes"),
        (is_type(T.MESSAGE_MODERATED.value) & (payload_str("$.action") != "allow")).sum().alias("moderated"),
        (is_type(T.MESSAGE_MODERATED.value) & (payload_str("$.action") == "block")).sum().alias("blocked"),
    ]


def per_context(inputs: JobInputs) -> pl.LazyFrame:
    """:func:`build`'s rows, computed once per run for this job and the per-kind one."""
    return inputs.shared(("engagement", *(w.key for w in inputs.windows)), lambda: build(inputs))


def build(inputs: JobInputs) -> pl.LazyFrame:
    """One row per context with viewers, openers, posters, volumes, peak minute and rank."""
    margin = timedelta(minutes=inputs.settings.timeline_margin_minutes)
    contexts = window_contexts(inputs)
    # The scan range follows the contexts' own times; the chunk's contexts are few and small.
    bounds = contexts.select(pl.col("starts_at").min(), pl.col("ends_at").max()).collect()
    lo, hi = bounds.row(0)
    if lo is None:
        return _shape(contexts.with_columns(pl.lit(None, pl.UInt32).alias("openers")), None,
                      inputs.settings.timeline_margin_minutes)  # fmt: skip
    columns = ("user_id", "event_type", "occurred_at", "payload")
    events = room_events(inputs, contexts, (lo, hi), margin, _TYPES, columns)
    is_type = pl.col("event_type").__eq__
    per_context = events.group_by("context_id").agg(*activity())
    peaks = (
        events.filter(is_type(T.MESSAGE_SENT.value) | is_type(T.REACTION_ADDED.value))
        .group_by("context_id", "minute")
        .agg(pl.len().alias("peak_interactions"))
        .sort("peak_interactions", "minute", descending=[True, False])
        .group_by("context_id", maintain_order=True)
        .first()
        .rename({"minute": "peak_minute"})
    )
    viewed = (
        inputs.context_views.select("context_id", "user_id", "viewed_at")
        .join(contexts.select("context_id", "starts_at", "ends_at"), on="context_id")
        .group_by("context_id")
        .agg(pl.col("user_id").filter(on_views_timeline(margin, inputs.horizon)).n_unique()
             .alias("view_users"))
    )  # fmt: skip
    joined = (
        contexts.join(per_context, on="context_id", how="left")
        .join(peaks, on="context_id", how="left")
        .join(viewed, on="context_id", how="left")
    )
    return _shape(joined, inputs, inputs.settings.timeline_margin_minutes)


def on_views_timeline(margin: timedelta, horizon: datetime) -> pl.Expr:
    """Whether a view (``viewed_at``) counts for its context: on the context's timeline, as
    the events of its room (``margin`` before ``starts_at`` to as long after ``ends_at``), and
    not after ``horizon``, the warehouse export's latest event, as in the funnel.

    The timeline keeps a final window's count what a full recompute would give: a window is
    final only once the export has passed its last end plus the margin, so later views are
    never counted in it, whenever it was computed; the horizon keeps a views export that runs
    ahead of the warehouse from counting in an open window viewers whose room events are not
    exported yet.
    """
    viewed_at = pl.col("viewed_at")
    return (
        (viewed_at >= pl.col("starts_at") - margin)
        & (viewed_at < pl.col("ends_at") + margin)
        & (viewed_at <= horizon)
    )


def ratio(numerator: str, denominator: str) -> pl.Expr:
    """``numerator / denominator``, null unless the denominator is positive.

    A context with no viewers or no duration (``ends_at == starts_at``) has no rate; a plain
    division would give ``inf`` (or NaN), which sorts above every real rate and poisons sums.
    """
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


def _shape(frame: pl.LazyFrame, inputs: JobInputs | None, margin: int) -> pl.LazyFrame:
    counts = ["openers", "posters", "messages", "reactions", "poll_votes", "moderated", "blocked"]
    if inputs is None:
        frame = frame.with_columns(
            [pl.lit(None, pl.Int64).alias(c) for c in [*counts[1:], "peak_minute",
                                                         "peak_interactions", "view_users"]]
        )  # fmt: skip
    # (microseconds: total_seconds drops the fraction, and a half-second context lasted nothing)
    duration = (pl.col("ends_at") - pl.col("starts_at")).dt.total_microseconds() / 60e6
    viewers = pl.coalesce(pl.col("viewers"), pl.col("view_users").cast(pl.Int64))
    interactions = INTERACTIONS
    return (
        frame.with_columns(pl.col(counts).fill_null(0).cast(pl.Int64))
        .with_columns(
            viewers.alias("viewers"),
            pl.when(pl.col("viewers").is_not_null())
            .then(pl.lit("export"))
            .when(pl.col("view_users").is_not_null())
            .then(pl.lit("views"))
            .alias("viewers_source"),
            duration.alias("duration_minutes"),
            interactions.alias("interactions"),
            (pl.col("messages") + pl.col("blocked")).alias("attempted"),
        )
        .with_columns(
            ratio("openers", "viewers").alias("opened_share"),
            ratio("messages", "duration_minutes").alias("messages_per_minute"),
            ratio("reactions", "duration_minutes").alias("reactions_per_minute"),
            ratio("interactions", "viewers").alias("interactions_per_viewer"),
            ratio("moderated", "attempted").alias("moderation_rate"),
            pl.col("interactions")
            .rank("min", descending=True)
            .over("window", "kind")
            .cast(pl.Int32)
            .alias("rank_in_kind"),
            pl.lit(margin, pl.Int32).alias("timeline_margin_minutes"),
        )
        .select(
            "window", "context_id", "kind", "title", "starts_at", "ends_at", "duration_minutes",
            "viewers", "viewers_source", "openers", "opened_share", "posters", "messages",
            "reactions", "poll_votes", "interactions", "interactions_per_viewer", "peak_minute",
            "peak_interactions", "messages_per_minute", "reactions_per_minute", "moderated",
            "blocked", "attempted", "moderation_rate", "rank_in_kind", "timeline_margin_minutes",
        )
        .sort("window", "kind", "rank_in_kind", "context_id")
    )


JOB = Job(
    name="engagement",
    build=per_context,
    windowing="context_day",
    exports=("context_views",),
    description="per context: viewers, openers, posters, volumes, peak minute, moderation, rank",
    final_lag=lambda s: timedelta(minutes=s.timeline_margin_minutes),
)
