"""How fresh a page's numbers are: the period its data cover, when its reports were computed,
and which of them are stale.

Read, never written, from what the analytics runner keeps beside the reports
(``analytics.runner``, ``analytics.state``):

- ``<warehouse>/reports/_state.duckdb``: per job, its runs (``job_runs``: start, end, status
  ``ok`` / ``failed`` / ``skipped`` / ``running``, the error) and its windows (``job_windows``:
  which are DONE, and which of those are final);
- ``<warehouse>/events/event_date=YYYY-MM-DD``: the warehouse export's day folders, by name
  only (no event is read), for the latest day the warehouse holds;
- the report folders' Parquet files, whose times stand in for the run records when those
  cannot be read.

A report is **stale** (:func:`assess`) when

- its last run failed, or started and never finished (it was killed or crashed);
- it was last computed more than a day (and :data:`RUN_GRACE`) before the newest report
  was; or
- its data end more than a day before the latest day the warehouse, or another report, holds.
  Only day and snapshot reports say which warehouse day they were computed against (their
  latest window is that day; the snapshot window ends just after the warehouse's latest event):
  the runner does not record it for context-day and cohort reports, which the first two rules
  cover.

Everything here but :func:`read` is pure, so the rules are tested on hand-made facts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from dashboards import fmt
from dashboards.model import Dashboard

log = logging.getLogger(__name__)

LIMIT = timedelta(days=1)
"""How far a report may lag (in time computed, or in days of data) before it is stale."""
RUN_GRACE = timedelta(hours=1)
"""Added to :data:`LIMIT` for the time a report was computed: by default the cohort and
snapshot jobs run once a day (03:30 and 03:40 UTC) and the others hourly (at :20 and :25), so a
daily report is normally almost a day older than the newest; its run can start late behind a
long hourly batch, or after a restart, without being a day behind."""
STATE_FILE = "_state.duckdb"
ORDER = ("day", "snapshot", "context_day", "cohort")
"""Windowings in the order a page's period is told from: the first its reports have."""
OK_STATUSES = frozenset({"ok", "skipped"})
"""A run that computed what was ready (``skipped``: nothing was) leaves its report current."""


@dataclass(frozen=True, slots=True)
class Report:
    """What is known of one report (one analytics job's output)."""

    name: str
    windowing: str | None = None
    """``day``, ``context_day``, ``cohort`` or ``snapshot`` (``analytics.jobs.base.Windowing``)."""
    output: bool = False
    """It has at least one Parquet file (the page shows something from it)."""
    computed_at: datetime | None = None
    """End of its last successful run; from its files' times when the run records are unread."""
    last_status: str | None = None
    """Status of its latest run (``ok``, ``failed``, ``skipped``, ``running``); None: none."""
    last_started: datetime | None = None
    last_error: str | None = None
    through: date | None = None
    """The last day its computed windows cover (a context day: the latest start day; a cohort:
    the last day of the latest period; a snapshot: the day of the warehouse's latest event)."""
    final_through: date | None = None
    """The last day of its latest final window: nothing can change it any more."""
    horizon: datetime | None = None
    """A snapshot's: the warehouse's latest event when it was computed."""

    @property
    def seen_day(self) -> date | None:
        """The latest warehouse day it was computed against, where its windows say so."""
        return self.through if self.windowing in ("day", "snapshot") else None


@dataclass(slots=True)
class Facts:
    """What one render knows about every report."""

    reports: dict[str, Report] = field(default_factory=dict)
    warehouse_day: date | None = None
    """The latest day folder of the warehouse export; None when there is none beside the
    reports (a copy of the reports alone)."""
    records: str = "read"
    """How the run records were read: ``read``, ``missing`` (no state file), ``busy`` (another
    process held it for longer than the render waits) or ``unreadable``."""
    problem: str = ""
    """Why they were ``unreadable``."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A stale report of a page: why, in sentences, and the parts of the page it feeds."""

    report: str
    reasons: list[str]
    short: str
    """The reason in a few words, for the note on a card: ``failed on its last run``."""
    parts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PageFreshness:
    """What a page says about its data's freshness, near its title."""

    period: str
    computed: str
    caveat: str = ""
    stale: list[Notice] = field(default_factory=list)

    @property
    def sentence(self) -> str:
        return " ".join(s for s in (self.period, self.computed, self.caveat) if s)

    def notice_for(self, sources: Iterable[str]) -> list[Notice]:
        """The notices of the reports among ``sources``."""
        names = set(sources)
        return [n for n in self.stale if n.report in names]

    def config(self) -> dict[str, Any]:
        return {"period": self.period, "computed": self.computed, "caveat": self.caveat,
                "stale": [{"report": n.report, "reasons": n.reasons, "short": n.short,
                           "parts": n.parts} for n in self.stale]}  # fmt: skip


# -- reading -----------------------------------------------------------------------------------


class _Busy(Exception):
    """Another process holds the run records."""


def read(reports_root: Path, *, wait: float = 2.0) -> Facts:
    """The facts of every report under ``reports_root`` (``<warehouse>/reports``).

    Never fails: run records that cannot be read leave ``records`` saying why, and the report
    files' times stand in for when each report was computed.
    """
    from analytics.jobs import JOBS

    windowing = {name: job.windowing for name, job in JOBS.items()}
    written = {name: _newest_file(reports_root / name) for name in JOBS}
    facts = Facts(warehouse_day=_warehouse_day(reports_root.parent))
    runs: dict[str, tuple[Any, ...]] = {}
    success: dict[str, datetime] = {}
    windows: dict[str, tuple[Any, ...]] = {}
    path = reports_root / STATE_FILE
    if not path.exists():
        facts.records = "missing"
    else:
        try:
            runs, success, windows = _records(path, wait)
        except _Busy:
            facts.records = "busy"
        except Exception as exc:  # a page says so; a render never fails for its freshness
            log.warning("could not read the job run records in %s: %s", path, exc)
            facts.records, facts.problem = "unreadable", f"{type(exc).__name__}: {exc}"
    for name in JOBS:
        facts.reports[name] = _report(name, windowing[name], written[name], runs.get(name),
                                      success.get(name), windows.get(name), facts.records)  # fmt: skip
    return facts


def _newest_file(folder: Path) -> datetime | None:
    times = [f.stat().st_mtime for f in folder.glob("*.parquet")] if folder.is_dir() else []
    return datetime.fromtimestamp(max(times), UTC) if times else None


def _warehouse_day(root: Path) -> date | None:
    from analytics.io import Warehouse

    try:
        days = Warehouse(root).days()
    except OSError:
        return None
    return days[-1] if days else None


def _connect(path: Path, wait: float) -> Any:
    """A connection to the run records. Read-only; but when this process already has them
    open (the runner renders the pages at the end of its run, inside its watermark store),
    DuckDB refuses a second configuration of the same file, and the runner's is shared."""
    import duckdb

    from service import duck

    deadline = time.monotonic() + wait
    while True:
        try:
            return duck.connect(path, read_only=True)
        except duckdb.ConnectionException as exc:
            if "different configuration" not in str(exc):
                raise
            return duck.connect(path)
        except duckdb.IOException as exc:  # another process (a run) holds the file
            if time.monotonic() >= deadline:
                raise _Busy(str(exc)) from exc
            time.sleep(0.2)


def _records(
    path: Path, wait: float
) -> tuple[dict[str, tuple[Any, ...]], dict[str, datetime], dict[str, tuple[Any, ...]]]:
    con = _connect(path, wait)
    try:
        latest = con.execute(
            "SELECT job, status, started_at, error FROM (SELECT *, row_number() OVER "
            "(PARTITION BY job ORDER BY started_at DESC) AS n FROM job_runs) WHERE n = 1"
        ).fetchall()
        good = con.execute(
            "SELECT job, max(finished_at) FROM job_runs WHERE status IN ('ok', 'skipped') "
            "AND finished_at IS NOT NULL GROUP BY job"
        ).fetchall()
        done = con.execute(
            "SELECT job, max(window_start), max(window_end), max(window_start) FILTER (WHERE "
            "final), max(window_end) FILTER (WHERE final), max(finished_at) FROM job_windows "
            "WHERE status = 'DONE' GROUP BY job"
        ).fetchall()
    finally:
        con.close()
    return ({r[0]: r[1:] for r in latest}, {r[0]: _utc(r[1]) for r in good},
            {r[0]: tuple(_utc(v) for v in r[1:]) for r in done})  # fmt: skip


def _utc(value: Any) -> Any:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


def _report(
    name: str, windowing: str, written: datetime | None, run: tuple[Any, ...] | None,
    success: datetime | None, done: tuple[Any, ...] | None, records: str,
) -> Report:  # fmt: skip
    status, started, error = run if run else (None, None, None)
    through = final = horizon = None
    if done is not None:
        start, end, final_start, final_end, last_written = done
        if windowing == "snapshot":  # the planner ends it just after the latest event
            horizon = end - timedelta(microseconds=1)
            through = horizon.date()
        elif windowing == "cohort":  # [start, end): its last day is the day before its end
            through = (end - timedelta(days=1)).date()
            final = (final_end - timedelta(days=1)).date() if final_end else None
        else:
            through = start.date()
            final = final_start.date() if final_start else None
        success = success or last_written  # watermarks of releases before the run records
    computed = success if records == "read" else written
    return Report(name, windowing, written is not None, computed, status, _utc(started), error,
                  through, final, horizon)  # fmt: skip


# -- the rules ---------------------------------------------------------------------------------


def assess(facts: Facts) -> dict[str, tuple[list[str], str]]:
    """The stale reports: name -> (the reasons as sentences, the first in a few words)."""
    if facts.records != "read":
        return {}  # without the records nothing says a run failed or which day a report saw
    reports = list(facts.reports.values())
    dated = [(r.computed_at, r.name) for r in reports if r.computed_at is not None]
    newest_at, newest = max(dated, key=lambda d: d[0]) if dated else (None, "")
    latest, where = _latest_day(facts)
    out: dict[str, tuple[list[str], str]] = {}
    for r in reports:
        reasons: list[tuple[str, str]] = []
        before = (f" The numbers shown are from its last successful run, which ended "
                  f"{moment(r.computed_at)} UTC." if r.computed_at and r.output else
                  " No run of it has succeeded yet.")  # fmt: skip
        if r.last_status == "failed":
            reasons.append((f"Its last run, started {moment(r.last_started)} UTC, failed: "
                            f"{_error(r.last_error)}.{before}", "failed on its last run"))
        elif r.last_status == "running":
            # A run holds the records until it ends (and renders after its jobs), so a run
            # still ``running`` here was killed or crashed before it could record its end.
            reasons.append((f"Its last run, started {moment(r.last_started)} UTC, never "
                            f"finished: it was stopped or crashed before the end.{before}",
                            "did not finish its last run"))  # fmt: skip
        if newest_at is not None and r.computed_at is not None and r.output:
            behind = newest_at - r.computed_at
            if behind > LIMIT + RUN_GRACE:
                reasons.append((f"It was last computed {moment(r.computed_at)} UTC, "
                                f"{duration(behind)} before the newest report ({newest}, "
                                f"{moment(newest_at)} UTC).",
                                f"was last computed {duration(behind)} before the newest report"))  # fmt: skip
        seen = r.seen_day
        if seen is not None and latest is not None and r.output and (latest - seen) > LIMIT:
            gap = fmt.plural((latest - seen).days, "day")
            reasons.append((f"Its data end on {fmt.day(seen)}, {gap} before the latest data "
                            f"({fmt.day(latest)}, {where}).",
                            f"ends {gap} before the latest data"))  # fmt: skip
        if reasons:
            out[r.name] = ([text for text, _ in reasons], reasons[0][1])
    return out


def _latest_day(facts: Facts) -> tuple[date | None, str]:
    """The latest day of data anywhere: the warehouse's, or a report's when it is later (or
    the warehouse is not beside the reports)."""
    seen = [(r.seen_day, r.name) for r in facts.reports.values() if r.seen_day and r.output]
    day, name = max(seen, key=lambda d: d[0]) if seen else (None, "")
    if facts.warehouse_day is not None and (day is None or facts.warehouse_day >= day):
        return facts.warehouse_day, "in the warehouse"
    return day, f"in the {name} report" if day else ""


def _error(text: str | None) -> str:
    """The first line of a run's error, shortened for a page."""
    lines = (text or "").strip().splitlines()
    line = lines[0] if lines else "no error was recorded"
    return line if len(line) <= 200 else line[:199] + "…"


# -- what a page says --------------------------------------------------------------------------


def sources(board: Dashboard) -> dict[str, list[str]]:
    """The reports the page's parts read, each with the names of those parts, in page order."""
    out: dict[str, list[str]] = {}
    for t in board.tiles:
        for name in _names(t.source):
            if "the tiles" not in out.setdefault(name, []):
                out[name].append("the tiles")
    for c in board.charts:
        title = f"“{c.title.replace('{item}', 'the selected context')}”"
        for name in _names(c.source):
            out.setdefault(name, []).append(title)
    for tb in board.tables:
        for name in _names(tb.source):
            out.setdefault(name, []).append(f"“{tb.title}”")
    return out


def _names(source: str) -> list[str]:
    return [s.strip() for s in source.split(",") if s.strip()]


def for_page(facts: Facts, board: Dashboard) -> PageFreshness:
    """What ``board``'s page says about its data: period, when computed, stale reports."""
    used = sources(board)
    mine = [facts.reports.get(n) or Report(n) for n in used]
    stale = assess(facts)
    notices = [Notice(n, stale[n][0], stale[n][1], used[n]) for n in used if n in stale]
    return PageFreshness(period(facts, mine), computed(facts, mine), caveat(facts), notices)


def period(facts: Facts, reports: list[Report]) -> str:
    """The period the page's data cover, told from its reports of the first windowing in
    :data:`ORDER` that it has (its daily reports on the overview, say)."""
    shown = [r for r in reports if r.output]
    if not shown:
        return "None of the reports of this page has been computed yet."
    if facts.records != "read":
        return ""
    for windowing in ORDER:
        group = [r for r in shown if r.windowing == windowing and r.through is not None]
        if group:
            return _PERIOD[windowing](group)
    return ""


def _behind(group: list[Report], through: date) -> str:
    """`` moderation_checks only reaches 24 Nov 2026.`` for the reports that end earlier (a
    stale one is said so under the title)."""
    late = [r for r in group if r.through is not None and r.through < through]
    return "".join(f" {r.name} only reaches {fmt.day(r.through)}." for r in late)


def _ahead(group: list[Report]) -> tuple[date, date | None]:
    """The latest day the group reaches, and the last day final in every report that reaches
    it (None: some report that reaches it has no final day yet)."""
    through = max(r.through for r in group if r.through)
    finals = [r.final_through for r in group if r.through == through]
    return through, None if None in finals else min(f for f in finals if f)


def _day_period(group: list[Report]) -> str:
    through, final = _ahead(group)
    head = f"Data through {fmt.day(through)} (UTC)"
    if final is None:
        text = f"{head}; no day is final yet: late events can still change every day."
    elif final >= through:
        text = f"{head}, every day final."
    else:
        after = (f"{fmt.day(through)} can" if (through - final).days == 1 else
                 "the days after it can")  # fmt: skip
        text = (f"{head}; days up to {fmt.day(final)} are final, {after} still change as late "
                "events arrive.")
    return text + _behind(group, through)


def _snapshot_period(group: list[Report]) -> str:
    horizon = max(r.horizon for r in group if r.horizon)
    late = "".join(f" {r.name} only reaches {moment(r.horizon)} UTC." for r in group
                   if r.horizon and r.horizon < horizon)  # fmt: skip
    return (f"Data through {moment(horizon)} UTC, the latest event in the warehouse when the "
            f"reports were computed.{late}")


def _context_period(group: list[Report]) -> str:
    through, final = _ahead(group)
    head = f"Contexts that started through {fmt.day(through)} (UTC)"
    if final is None:
        text = f"{head}; none of them has ended yet, so every number can still change."
    elif final >= through:
        text = f"{head}; all of them have ended, so their numbers are final."
    else:
        text = (f"{head}; those that started up to {fmt.day(final)} have ended and their "
                "numbers are final, later ones can still change.")
    return text + _behind(group, through)


def _cohort_period(group: list[Report]) -> str:
    through, final = _ahead(group)
    open_ = final is None or final < through
    return (f"Cohort periods through {fmt.day(through)} (UTC): a period is computed once the "
            "product's activity export covers the days after it in which churn is measured"
            f"{', and the latest can still change' if open_ else ''}.{_behind(group, through)}")


_PERIOD = {"day": _day_period, "snapshot": _snapshot_period, "context_day": _context_period,
           "cohort": _cohort_period}  # fmt: skip


def computed(facts: Facts, reports: list[Report]) -> str:
    """When the page's reports were last computed (the oldest and the newest of them)."""
    times = sorted(r.computed_at for r in reports if r.output and r.computed_at)
    if not times:
        return ""
    what = ("The reports were last computed" if facts.records == "read" else
            "The report files were last written")  # fmt: skip
    first, last = times[0], times[-1]
    if moment(first) == moment(last):
        when = f"on {fmt.day(first)} at {first:%H:%M} UTC"
    elif first.date() == last.date():
        when = f"on {fmt.day(first)} between {first:%H:%M} and {last:%H:%M} UTC"
    else:
        when = f"between {moment(first)} and {moment(last)} UTC"
    never = [r.name for r in reports if not r.output]
    tail = (f" ({fmt.join(never)} {'has' if len(never) == 1 else 'have'} not been computed "
            "yet)" if never else "")  # fmt: skip
    return f"{what} {when}{tail}."


def caveat(facts: Facts) -> str:
    """What the page cannot tell when the run records were not read."""
    cannot = ("so this page cannot tell whether a report's last run failed, nor which days "
              "are final.")
    if facts.records == "missing":
        return f"The analytics runner's records were not found beside the reports, {cannot}"
    if facts.records == "busy":
        return (f"The analytics runner's records were in use by a run when this page was "
                f"rendered, {cannot} The run renders the pages again when it ends.")
    if facts.records == "unreadable":
        return f"The analytics runner's records could not be read ({_error(facts.problem)}), {cannot}"
    return ""


def moment(t: datetime | None) -> str:
    """``28 Nov 2026 02:38`` (UTC)."""
    if t is None:
        return "n/a"
    t = t.astimezone(UTC)
    return f"{fmt.day(t)} {t.strftime('%H:%M')}"


def duration(d: timedelta) -> str:
    """A lag as it is said: ``30 hours``, ``3 days``, ``2.5 days``."""
    hours = d.total_seconds() / 3600
    if hours < 48:
        return fmt.plural(round(hours), "hour")
    days = round(hours / 24, 1)
    return f"{fmt.count(days)} days"
