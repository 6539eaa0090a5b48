"""Cutting a job's history into windows, and deciding which are ready and which are final.

A window is *ready* when its inputs exist (a cohort also needs the activity export to cover
its churn horizon); a ready window is *final* once nothing can change it any more: its end
plus the job's lag plus ``late_grace_minutes`` lies before both the clock and the warehouse
export's horizon (its latest event). The clock alone is not enough: when the warehouse sink
stalls, a day the export holds only part of would otherwise be frozen with the part. The
runner computes ready windows that are not final-and-done, so an open window is recomputed
(replaced) on each run until it is final, and a final one is computed once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from analytics.io import day_start
from analytics.jobs.base import Job, Window
from analytics.settings import AnalyticsSettings

GRID_ORIGIN = date(1970, 1, 5)
"""A Monday: cohort periods are cut from here, so their boundaries never move."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A ready window and whether it is final."""

    window: Window
    final: bool
    inputs: str | None = None
    """Digest of the export rows that define the window (a context day's contexts). A final
    window computed from other rows is computed again: a context moved away from a day that
    keeps others must leave that day's file too."""


@dataclass(slots=True)
class Plan:
    """Ready windows in time order, and the windows left out with the reason."""

    ready: list[Planned] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    span: tuple[datetime, datetime] | None = None
    """Where the plan is complete: from the first event day's start to the export's horizon.
    None when it decides nothing (no events yet, an empty contexts export)."""

    def gone(self, known: Iterable[Window]) -> list[Window]:
        """The ``known`` windows (of earlier runs) this plan no longer has.

        A window starting inside :attr:`span` that is neither ready nor skipped has stopped
        existing: its contexts moved to another day or were removed, or the cohort grid
        changed. A window outside the span is history the plan no longer looks at (its days
        left the warehouse export, or it starts after the export's horizon) and is kept.
        """
        if self.span is None:
            return []
        lo, hi = self.span
        planned = {p.window.key for p in self.ready} | {key for key, _why in self.skipped}
        return [w for w in known if lo <= w.start <= hi and w.key not in planned]


@dataclass(frozen=True, slots=True)
class Facts:
    """What the planner needs to know about the data, gathered once per run."""

    first_day: date | None
    horizon: datetime | None
    activity_end: date | None
    contexts: pl.DataFrame
    """The contexts export, every column (a context day's rows are digested)."""
    now: datetime


def plan(job: Job, facts: Facts, s: AnalyticsSettings) -> Plan:
    """The windows of ``job`` given the data described by ``facts``."""
    out = Plan()
    if facts.first_day is None or facts.horizon is None:
        out.skipped.append(("*", "the warehouse has no events yet (the service's warehouse sink "
                                 "exports the log there while it runs)"))
        return out
    # Final needs both: the clock past the window (late events had their grace) and the export
    # reaching past it (the sink has caught up; a stalled sink holds the horizon back).
    reached = min(facts.now, facts.horizon)
    settle = reached - timedelta(minutes=s.late_grace_minutes) - job.final_lag(s)
    last_day = facts.horizon.date()
    out.span = (day_start(facts.first_day), facts.horizon)
    if job.windowing == "day":
        for n in range((last_day - facts.first_day).days + 1):
            d = facts.first_day + timedelta(days=n)
            w = Window(d.isoformat(), day_start(d), day_start(d + timedelta(days=1)))
            out.ready.append(Planned(w, w.end <= settle))
    elif job.windowing == "context_day":
        _plan_context_days(out, facts, settle)
    elif job.windowing == "cohort":
        _plan_cohorts(out, facts, s, settle)
    else:
        end = facts.horizon + timedelta(microseconds=1)
        out.ready.append(Planned(Window("all", day_start(facts.first_day), end), False))
    return out


def _plan_context_days(out: Plan, facts: Facts, settle: datetime) -> None:
    assert facts.first_day is not None and facts.horizon is not None
    if facts.contexts.height == 0:
        # Taken for a broken export rather than every context removed: nothing is dropped.
        out.span = None
        out.skipped.append(("*", "the contexts export has no rows"))
        return
    days = (
        facts.contexts.group_by(pl.col("starts_at").dt.date().alias("day"))
        .agg(pl.col("ends_at").max())
        .sort("day")
    )
    digests = _day_digests(facts.contexts)
    early = 0
    for d, ends in days.iter_rows():
        if d < facts.first_day:
            early += 1
            continue
        if day_start(d) > facts.horizon:
            out.skipped.append((d.isoformat(), "its contexts start after the last event"))
            continue
        w = Window(d.isoformat(), day_start(d), day_start(d + timedelta(days=1)))
        out.ready.append(Planned(w, ends <= settle, digests[d]))
    if early:
        out.skipped.append(
            ("*", f"{early} days of contexts start before the first event "
                  f"({facts.first_day}); they have no community history")
        )  # fmt: skip


def _day_digests(contexts: pl.DataFrame) -> dict[date, str]:
    """Per start day, a digest of that day's context rows (every column of the export)."""
    digests: dict[date, Any] = {}
    rows = contexts.with_columns(pl.col("starts_at").dt.date().alias("_day")).sort(
        "_day", "context_id"
    )
    for row in rows.iter_rows(named=True):
        day = row.pop("_day")
        digests.setdefault(day, hashlib.sha256()).update(repr(sorted(row.items())).encode())
    return {d: h.hexdigest()[:32] for d, h in digests.items()}


def _plan_cohorts(out: Plan, facts: Facts, s: AnalyticsSettings, settle: datetime) -> None:
    assert facts.first_day is not None and facts.horizon is not None
    length = 7 * s.segment_weeks
    offset = (facts.first_day - GRID_ORIGIN).days
    k = -(-offset // length)  # the first period starting on or after the first event day
    if offset % length:
        partial = GRID_ORIGIN + timedelta(days=(k - 1) * length)
        out.skipped.append(
            (partial.isoformat(),
             f"the community history starts inside this period ({facts.first_day})")
        )  # fmt: skip
    while True:
        d0 = GRID_ORIGIN + timedelta(days=k * length)
        d1 = d0 + timedelta(days=length)
        if d1 > facts.horizon.date() + timedelta(days=1):
            if d0 <= facts.horizon.date():
                out.skipped.append((d0.isoformat(), f"the period is not over (ends {d1})"))
            break
        need = d1 + timedelta(days=s.churn_days - 1)
        if facts.activity_end is None or facts.activity_end < need:
            out.skipped.append(
                (d0.isoformat(),
                 f"churn needs activity through {need}; the activity export ends "
                 f"{facts.activity_end or 'nowhere (empty)'}")
            )  # fmt: skip
        else:
            w = Window(d0.isoformat(), day_start(d0), day_start(d1))
            out.ready.append(Planned(w, w.end <= settle))
        k += 1
