"""Cutting a job's history into windows, and deciding which are ready and which are final.

A window is *ready* when its inputs exist (a cohort also needs the activity export to cover
its churn horizon); a ready window is *final* once nothing can change it any more: its end
plus the job's lag plus ``late_grace_minutes`` lies before both the clock and the warehouse
export's horizon (its latest event). The clock alone is not enough: when the warehouse sink
stalls, a day the export holds only part of would otherwise be frozen with the part. The
runner computes ready windows that are not final-and-done, so an open window is recomputed
(replaced) on each run until it is final, and a final one is computed once, unless the export
rows it reads change: each planned window carries a digest of them (:attr:`Planned.inputs`),
kept with its watermark, and a final window whose digest differs is computed again.

The digests come from :func:`digest_exports`: per activity day, per signup day and per context
of the views, the number of rows and the sum of their Polars row hashes (order does not
matter; a changed, added or removed row changes it). A window's digest combines the entries it
reads: a cohort the users who signed up before its end and the activity days from its
pre-period to its outcome horizon (and that range itself), a context day its contexts' rows
and, for the jobs that read views, their views. So rows a window does not read (the next
day's activity, new signups, views of other contexts) leave it alone.
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
from analytics.jobs.cohorts import export_range
from analytics.settings import AnalyticsSettings

GRID_ORIGIN = date(1970, 1, 5)
"""A Monday: cohort periods are cut from here, so their boundaries never move."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A ready window and whether it is final."""

    window: Window
    final: bool
    inputs: str | None = None
    """Digest of the export rows the window reads (a context day's contexts and views, a
    cohort's users and activity). A final window computed from other rows is computed again:
    a context moved away from a day that keeps others must leave that day's file too, and late
    activity or views must reach the windows they belong to."""


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


Tally = tuple[int, int]
"""Rows and the sum of their row hashes (modulo 2^64) of one day or context of an export."""


@dataclass(frozen=True, slots=True)
class ExportDigests:
    """What windows read of the exports besides the contexts, tallied (:func:`digest_exports`)."""

    activity: dict[date, Tally] = field(default_factory=dict)
    """Per day: activity rows with sessions (user, day, sessions)."""
    signups: dict[date, Tally] = field(default_factory=dict)
    """Per UTC day of ``signed_up_at``: users rows (user, signed_up_at)."""
    views: dict[str, Tally] = field(default_factory=dict)
    """Per context: context_views rows (user, context, viewed_at)."""

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int, int]]) -> ExportDigests:
        """From ``(export, item, rows, hash)`` rows, as :func:`digest_exports` makes them."""
        out = cls()
        for export, item, n, h in rows:
            if export == "activity":
                out.activity[date.fromisoformat(item)] = (n, h)
            elif export == "users":
                out.signups[date.fromisoformat(item)] = (n, h)
            elif export == "context_views":
                out.views[item] = (n, h)
        return out


def digest_exports(
    users: pl.LazyFrame, activity: pl.LazyFrame, context_views: pl.LazyFrame
) -> pl.DataFrame:
    """Tallies of the columns the windowed jobs read: ``export, item, rows, hash`` with item a
    day (``activity``, ``users`` by signup day) or a context id (``context_views``).

    One pass over each export (about a second for 30M activity rows); the runner keeps the
    result per version of the exports. Polars' row hash is stable within a Polars version.
    """

    def tally(frame: pl.LazyFrame, name: str, item: pl.Expr, cols: list[str]) -> pl.LazyFrame:
        return (
            frame.group_by(item.alias("item"))
            .agg(
                pl.len().cast(pl.Int64).alias("rows"),
                pl.struct(cols).hash(0).sum().alias("hash"),
            )
            .select(pl.lit(name).alias("export"), "item", "rows", "hash")
        )

    parts = [
        tally(activity.filter(pl.col("sessions") > 0), "activity",
              pl.col("date").cast(pl.String), ["user_id", "date", "sessions"]),
        tally(users, "users", pl.col("signed_up_at").dt.date().cast(pl.String),
              ["user_id", "signed_up_at"]),
        tally(context_views, "context_views", pl.col("context_id"),
              ["user_id", "context_id", "viewed_at"]),
    ]  # fmt: skip
    return pl.concat(pl.collect_all(parts, engine="streaming"))


@dataclass(frozen=True, slots=True)
class Facts:
    """What the planner needs to know about the data, gathered once per run."""

    first_day: date | None
    horizon: datetime | None
    activity_end: date | None
    contexts: pl.DataFrame
    """The contexts export, every column (a context day's rows are digested)."""
    now: datetime
    exports: ExportDigests = field(default_factory=ExportDigests)
    """Tallies of the other exports (empty when no planned job reads them)."""


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
        margin = timedelta(minutes=s.timeline_margin_minutes)
        _plan_context_days(out, facts, settle, margin, views="context_views" in job.exports)
    elif job.windowing == "cohort":
        _plan_cohorts(out, facts, s, settle, digested=bool(job.exports))
    else:
        end = facts.horizon + timedelta(microseconds=1)
        out.ready.append(Planned(Window("all", day_start(facts.first_day), end), False))
    return out


def _plan_context_days(
    out: Plan, facts: Facts, settle: datetime, margin: timedelta, *, views: bool
) -> None:
    """One window per start day of contexts. A day before the first event day is planned
    when a context of it runs into the community history (its end plus ``margin``, where its
    room's events stop counting, is past the first event day's start: a match kicking off at
    23:50 the evening before, a season-long team room); a day whose contexts all ended before
    has no community history and is skipped."""
    assert facts.first_day is not None and facts.horizon is not None
    history = day_start(facts.first_day)
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
    digests = _day_digests(facts.contexts, facts.exports.views if views else {})
    early = 0
    for d, ends in days.iter_rows():
        if d < facts.first_day and ends + margin <= history:
            early += 1
            continue
        if day_start(d) > facts.horizon:
            out.skipped.append((d.isoformat(), "its contexts start after the last event"))
            continue
        w = Window(d.isoformat(), day_start(d), day_start(d + timedelta(days=1)))
        out.ready.append(Planned(w, ends <= settle, digests[d]))
    if early:
        out.skipped.append(
            ("*", f"{early} days of contexts end before the first event day "
                  f"({facts.first_day}), timeline margin included; they have no community "
                  "history")
        )  # fmt: skip


def _day_digests(contexts: pl.DataFrame, views: dict[str, Tally]) -> dict[date, str]:
    """Per start day, a digest of that day's context rows (every column of the export) and of
    their ``views`` tallies. A day none of whose contexts has views keeps the digest of its
    contexts alone (as watermarks from before the views were digested have it)."""
    digests: dict[date, Any] = {}
    viewed: dict[date, list[tuple[str, Tally]]] = {}
    rows = contexts.with_columns(pl.col("starts_at").dt.date().alias("_day")).sort(
        "_day", "context_id"
    )
    for row in rows.iter_rows(named=True):
        day = row.pop("_day")
        digests.setdefault(day, hashlib.sha256()).update(repr(sorted(row.items())).encode())
        if (tally := views.get(row["context_id"])) is not None:
            viewed.setdefault(day, []).append((row["context_id"], tally))
    out = {d: h.hexdigest()[:32] for d, h in digests.items()}
    for day, tallies in viewed.items():
        out[day] = _digest(("contexts", out[day]), ("views", tallies))
    return out


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def _cohort_digest(x: ExportDigests, s: AnalyticsSettings, d0: date, d1: date) -> str:
    """The users who signed up before ``d1`` and the activity days the cohort ``[d0, d1)``
    reads (the range too: changing ``pre_period_days``, ``churn_days`` or ``retention_days``
    changes what it reads)."""
    lo, hi = export_range(s, d0, d1)
    activity = [(d, t) for d, t in sorted(x.activity.items()) if lo <= d < hi]
    signups = [(d, t) for d, t in sorted(x.signups.items()) if d < d1]
    return _digest(("activity", lo, hi, activity), ("users", d1, signups))


def _plan_cohorts(
    out: Plan, facts: Facts, s: AnalyticsSettings, settle: datetime, *, digested: bool
) -> None:
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
            inputs = _cohort_digest(facts.exports, s, d0, d1) if digested else None
            out.ready.append(Planned(w, w.end <= settle, inputs))
        k += 1
