"""What a report job is: a named builder of one LazyFrame over a chunk of windows.

A job never collects, writes or times anything; the runner does. A job's output has a
``window`` column holding the key of the window each row belongs to, which is how the runner
files rows into one Parquet file per window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

from analytics.io import Warehouse
from analytics.settings import AnalyticsSettings

Windowing = Literal["day", "context_day", "cohort", "snapshot"]
"""How a job's history is cut into windows.

- ``day``: one window per UTC day of events.
- ``context_day``: one window per UTC day on which product contexts start.
- ``cohort``: consecutive cohort periods of ``segment_weeks`` weeks on a fixed Monday grid,
  ready once the activity export covers the churn horizon after the period.
- ``snapshot``: one window, ``all``, recomputed on every run.
"""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range ``[start, end)`` with a stable key (``2026-05-01`` or ``all``)."""

    key: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class JobInputs:
    """Everything a job may read: lazy scans only, plus the windows to compute."""

    warehouse: Warehouse
    users: pl.LazyFrame
    activity: pl.LazyFrame
    contexts: pl.LazyFrame
    context_views: pl.LazyFrame
    user_activity: pl.LazyFrame
    """Per user of the exports with product use: first/last active day, active days, sessions."""
    windows: list[Window]
    settings: AnalyticsSettings
    horizon: datetime
    """The latest ``occurred_at`` in the warehouse when the run started."""
    exports_version: str = ""
    """Changes whenever an export file changes; keys state derived from the exports."""
    cache: dict[tuple[object, ...], pl.DataFrame] = field(default_factory=dict)
    """Intermediates shared by the jobs of one run (see :meth:`shared`)."""
    probe: bool = False
    """Only the output's columns are wanted (``collect_schema``), not its rows: intermediates
    stay lazy and uncollected, and nothing derived is stored. The runner probes so when no
    window of the job is due, to see whether settled files have the columns it writes now.
    A builder that collects or stores something itself (the kept per-user summaries) returns
    a lazy equivalent instead when probed."""

    @property
    def start(self) -> datetime:
        return min(w.start for w in self.windows)

    @property
    def end(self) -> datetime:
        return max(w.end for w in self.windows)

    def shared(self, key: tuple[object, ...], build: Callable[[], pl.LazyFrame]) -> pl.LazyFrame:
        """An intermediate several jobs need (the cohort table), collected once per run.

        ``key`` must name everything the result depends on besides the run's own inputs.
        When :attr:`probe`, the intermediate is left lazy and not kept: a probe would collect
        it for nothing (the cohort table of a settled window costs seconds).
        """
        if self.probe:
            return build()
        if key not in self.cache:
            self.cache[key] = build().collect(engine="streaming")
        return self.cache[key].lazy()

    def events(
        self, start: datetime | None, end: datetime | None, types: Iterable[str] | None = None
    ) -> pl.LazyFrame:
        """Events of ``[start, end)`` (clipped to nothing after the horizon), lazily."""
        return self.warehouse.scan(start, end, types)


@dataclass(frozen=True, slots=True)
class Job:
    """One report: its name, builder, windowing and how long its windows stay open."""

    name: str
    build: Callable[[JobInputs], pl.LazyFrame]
    windowing: Windowing
    description: str
    final_lag: Callable[[AnalyticsSettings], timedelta] = field(
        default=lambda _s: timedelta(0)
    )
    """How long after a window's end new events can still change its rows."""
    exports: tuple[str, ...] = ()
    """The product exports whose rows of a window the job reads (``users`` and ``activity``
    for a cohort, ``context_views`` for a context day; a context day always reads its
    ``contexts``). A final window whose rows in them changed is computed again
    (:mod:`analytics.windows`)."""


def window_frame(windows: list[Window]) -> pl.LazyFrame:
    """The windows as a small frame (window, start, end) to join or cross-join with."""
    return pl.LazyFrame(
        {
            "window": [w.key for w in windows],
            "window_start": [w.start for w in windows],
            "window_end": [w.end for w in windows],
        },
        schema={
            "window": pl.String(),
            "window_start": pl.Datetime("us", "UTC"),
            "window_end": pl.Datetime("us", "UTC"),
        },
    )


def on_timeline(events: pl.LazyFrame, margin: timedelta) -> pl.LazyFrame:
    """Keep events within ``margin`` of their context's ``starts_at``..``ends_at`` and add
    ``minute``: whole minutes since ``starts_at`` on the object's own timeline, floored (an
    event half a second before the start is in minute -1).

    From microseconds: ``total_seconds`` truncates toward zero, so ``// 60`` over it put every
    event of the last fraction of a second before a minute boundary before the start
    (11:59:59.5 for a 12:00 kick-off) one minute late, in minute 0.
    """
    return events.filter(
        pl.col("occurred_at").is_between(
            pl.col("starts_at") - margin, pl.col("ends_at") + margin, closed="left"
        )
    ).with_columns(
        ((pl.col("occurred_at") - pl.col("starts_at")).dt.total_microseconds() // 60_000_000)
        .cast(pl.Int64)
        .alias("minute")
    )


def payload_str(path: str) -> pl.Expr:
    """A string field of the JSON payload (``$.action``), null when absent."""
    return pl.col("payload").str.json_path_match(path)
