"""The job runner: plans windows, computes the pending ones, writes them whole, keeps watermarks.

For each job: plan its windows (:mod:`analytics.windows`), remove the files and watermarks of
windows the plan no longer has (:meth:`analytics.windows.Plan.gone`: a context moved to another
day leaves its old day behind), drop those already DONE and final from the same export rows
(:attr:`analytics.windows.Planned.inputs`), cut the rest into chunks
of at most ``chunk_windows`` consecutive windows, and for each chunk: mark its windows
STARTED, build and collect the job's LazyFrame once, write one Parquet file per window (temp
file, then rename), and mark each window DONE. A crash leaves at most one
chunk STARTED, and the next run redoes exactly those windows; a window file is replaced, never
appended to, so nothing is counted twice. ``full=True`` forgets the job's watermarks and files
and recomputes everything.

Outputs: ``<warehouse>/reports/<job>/<window>.parquet``, views in ``<warehouse>/reports.duckdb``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from tqdm import tqdm

from analytics.export_cache import LazyExports, load_cached
from analytics.exports import ExportError, empty_frame
from analytics.io import Warehouse, day_start, write_parquet_atomic
from analytics.jobs import JOBS
from analytics.jobs.base import Job, JobInputs, Window
from analytics.jobs.summaries import user_event_summary
from analytics.settings import AnalyticsSettings, analytics_settings, exports_path, warehouse_path
from analytics.state import WatermarkStore, WindowState
from analytics.views import write_views_file
from analytics.windows import ExportDigests, Facts, Plan, Planned, digest_exports, plan
from service.domain.events import utcnow
from service.sinks.erasure import pseudonym_for

ERASED_PREFIX = pseudonym_for("")
"""What the ids of erased users' events start with (``erased-`` and 16 hex of a keyed hash)."""

log = logging.getLogger(__name__)

USER_FREE_JOBS = frozenset({"community_health", "moderation_daily", "moderation_checks"})
"""Jobs that read no product export, so they still run when the exports are broken."""


class UnknownJob(ValueError):
    """A job name that is not in :data:`analytics.jobs.JOBS`."""


@dataclass(slots=True)
class JobResult:
    """What one job did in one run."""

    job: str
    status: str = "ok"
    """``ok``, ``failed`` or ``skipped`` (nothing was ready)."""
    windows: int = 0
    rows: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def _settled(planned: Planned, done: WindowState | None) -> bool:
    """Whether ``planned`` was computed final from the same export rows (nothing to do)."""
    return (done is not None and done.status == "DONE" and done.final
            and done.inputs == planned.inputs)  # fmt: skip


class Runner:
    """Runs report jobs over one warehouse and one exports folder."""

    def __init__(
        self,
        warehouse_root: Path,
        exports_dir: Path,
        settings: AnalyticsSettings | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        progress: bool | None = None,
    ) -> None:
        self.warehouse = Warehouse(warehouse_root)
        self.exports_dir = exports_dir
        self.settings = settings or AnalyticsSettings()
        self.reports_root = self.warehouse.reports_root
        self.state_path = self.reports_root / "_state.duckdb"
        self.views_path = warehouse_root / "reports.duckdb"
        self._clock = clock
        self._progress = progress
        # One run at a time per process: scheduled jobs share the watermark file and the cores.
        self._lock = threading.Lock()
        # Service settings whose dashboards are re-rendered after each run (from_settings).
        self.dashboards: Any = None
        self._unknown: list[str] | None = None
        self._file_problems: list[str] | None = None
        self._derived_cleared = False
        self._shared: dict[tuple[object, ...], pl.DataFrame] = {}

    @classmethod
    def from_settings(cls, settings: Any, **kwargs: Any) -> Runner:
        """A runner for the service settings (``data_dir`` and the ``analytics`` section)."""
        runner = cls(warehouse_path(settings), exports_path(settings),
                     analytics_settings(settings), **kwargs)  # fmt: skip
        runner.dashboards = settings
        return runner

    def run(self, names: Sequence[str] | None = None, *, full: bool = False) -> list[JobResult]:
        """Run ``names`` (every job when None) and refresh the report views.

        Raises:
            UnknownJob: a name is not a job.
            analytics.state.StateBusy: another process is running jobs on this warehouse.
        """
        jobs = self._select(names)
        with self._lock, WatermarkStore(self.state_path) as store:
            exports, export_error = self._exports()
            self._unknown = None
            self._file_problems = None
            self._derived_cleared = False
            self._shared = {}
            facts = self._facts(exports, store, jobs)
            results = []
            plans = {job.name: plan(job, facts, self.settings) for job in jobs}
            total = sum(len(p.ready) for p in plans.values())
            with tqdm(total=total, unit="window", disable=self._bar(total), leave=False) as bar:
                for job in jobs:
                    bar.set_description(job.name)
                    results.append(
                        self._run_job(job, plans[job.name], store, exports, export_error,
                                      facts, full, bar)
                    )  # fmt: skip
            self._shared.clear()
            self._refresh_views()
            self._render_dashboards()
        return results

    def status(self) -> list[dict[str, Any]]:
        """Watermark summary and last run per job (see :meth:`WatermarkStore.status`)."""
        with self._lock, WatermarkStore(self.state_path) as store:
            known = {row["job"]: row for row in store.status()}
        return [known.get(name, {"job": name}) for name in JOBS]

    def prepare_exports(self) -> None:
        """Validate the product exports and tally the rows report windows read (for their
        digests): the per-export-version work a run otherwise does first, kept for the runs
        that follow. A benchmark or an operator can pay it when a new export file lands.

        Raises:
            analytics.exports.ExportError: an export is invalid.
            analytics.state.StateBusy: another process is running jobs on this warehouse.
        """
        with self._lock, WatermarkStore(self.state_path) as store:
            exports = load_cached(self.exports_dir, self.reports_root / "_exports")
            self._export_digests(exports, store, list(JOBS.values()))

    # -- one run -------------------------------------------------------------------------------

    def _select(self, names: Sequence[str] | None) -> list[Job]:
        if not names:
            return list(JOBS.values())
        unknown = [n for n in names if n not in JOBS]
        if unknown:
            raise UnknownJob(f"unknown job {', '.join(unknown)}; jobs are: {', '.join(JOBS)}")
        return [JOBS[n] for n in dict.fromkeys(names)]

    def _bar(self, total: int) -> bool | None:
        if self._progress is None:
            return None if total > 1 else True  # tqdm: None hides the bar when not a TTY
        return not self._progress

    def _exports(self) -> tuple[LazyExports, ExportError | None]:
        try:
            return load_cached(self.exports_dir, self.reports_root / "_exports"), None
        except ExportError as exc:
            log.error("product exports are invalid: %s", exc)
            no_users = pl.LazyFrame(schema={"user_id": pl.String, "first_active": pl.Date})
            empty = LazyExports(
                users=empty_frame("users").lazy(),
                activity=empty_frame("activity").lazy(),
                contexts=empty_frame("contexts").lazy(),
                context_views=empty_frame("context_views").lazy(),
                user_activity=no_users,
            )
            return empty, exc

    def _facts(self, exports: LazyExports, store: WatermarkStore, jobs: list[Job]) -> Facts:
        days = self.warehouse.days()
        return Facts(
            first_day=days[0] if days else None,
            horizon=self.warehouse.horizon(),
            activity_end=exports.activity.select(pl.col("date").max()).collect().item(),
            contexts=exports.contexts.collect(),
            now=self._clock(),
            exports=self._export_digests(exports, store, jobs),
        )

    def _export_digests(
        self, exports: LazyExports, store: WatermarkStore, jobs: list[Job]
    ) -> ExportDigests:
        """The export tallies the windows' digests are made of, computed once per version of
        the exports (and of Polars, whose row hash they use) and kept in the store."""
        if not any(job.exports for job in jobs):
            return ExportDigests()
        version = f"{exports.version}/polars {pl.__version__}" if exports.version else ""
        rows = store.export_digests(version) if version else None
        if rows is None:
            frame = digest_exports(exports.users, exports.activity, exports.context_views)
            if version:
                store.keep_export_digests(version, frame)
            rows = frame.rows()
        return ExportDigests.from_rows(rows)

    def _run_job(
        self, job: Job, planned: Plan, store: WatermarkStore, exports: LazyExports,
        export_error: ExportError | None, facts: Facts, full: bool, bar: tqdm,
    ) -> JobResult:  # fmt: skip
        result = JobResult(job.name)
        run_id = uuid.uuid4().hex[:12]
        mode = "full" if full else "incremental"
        store.run_started(run_id, job.name, mode)
        started = time.perf_counter()
        try:
            if export_error is not None and job.name not in USER_FREE_JOBS:
                # Planned on empty stand-ins for the invalid exports: its skips say nothing.
                raise ExportError(export_error.problems)
            result.notes.extend(f"window {k}: skipped: {why}" for k, why in planned.skipped)
            if job.name not in USER_FREE_JOBS:
                result.notes.extend(exports.notes)
                result.notes.extend(self._unknown_users(exports, facts))
            out_dir = self.reports_root / job.name
            if full:
                store.reset(job.name)
                shutil.rmtree(out_dir, ignore_errors=True)
                if not self._derived_cleared:
                    # Derived per-user state is rebuilt from the whole history on a full run.
                    shutil.rmtree(self.reports_root / "_derived", ignore_errors=True)
                    self._derived_cleared = True
            state = store.windows(job.name)
            for w in self._drop_gone(job, planned, state, store, out_dir, run_id):
                result.notes.append(f"window {w.key}: removed: no longer in the plan (its "
                                    "contexts moved or were removed, or the grid changed)")  # fmt: skip
                del state[w.key]
            todo = [p for p in planned.ready if not _settled(p, state.get(p.window.key))]
            older = self._older_shape(job, planned, todo, state, store, exports, facts)
            if older:
                result.notes.append(f"{len(older)} final windows written by an older release "
                                    "(other columns) computed again")  # fmt: skip
                due = older | {p.window.key for p in todo}
                todo = [p for p in planned.ready if p.window.key in due]
            bar.update(len(planned.ready) - len(todo))
            by_key = {p.window.key: p for p in todo}
            for chunk in self._chunks(job, [p.window for p in todo]):
                store.started(job.name, chunk, run_id)
                t0 = time.perf_counter()
                inputs = self._inputs(exports, chunk, facts)
                frame = job.build(inputs).collect(engine="streaming")
                seconds = time.perf_counter() - t0
                for w in chunk:
                    part = frame.filter(pl.col("window") == w.key)
                    write_parquet_atomic(part, out_dir / f"{w.key}.parquet")
                    store.done(job.name, w, final=by_key[w.key].final, rows=part.height,
                               seconds=seconds / len(chunk), run_id=run_id,
                               inputs=by_key[w.key].inputs, columns=part.columns)  # fmt: skip
                    if part.height == 0:
                        result.notes.append(f"window {w.key}: no rows (no data in it)")
                    result.rows += part.height
                    result.windows += 1
                    bar.update(1)
            if not planned.ready:
                result.status = "skipped"
        except Exception as exc:  # a failing job must not stop the others; its windows stay STARTED
            if isinstance(exc, ExportError):  # says what is wrong and where: no traceback
                log.error("job %s failed: %s", job.name, exc)
            else:
                log.exception("job %s failed", job.name)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
            if isinstance(exc, pl.exceptions.PolarsError):
                found = self._warehouse_problems()
                if found:
                    result.error += "\n" + "\n".join(found[:10]) + (
                        f"\n... and {len(found) - 10} more" if len(found) > 10 else "")
        result.seconds = time.perf_counter() - started
        store.run_finished(run_id, job.name, status=result.status, windows=result.windows,
                           rows=result.rows, seconds=result.seconds, notes=result.notes,
                           error=result.error)  # fmt: skip
        log.info("job %s %s: %d windows, %d rows in %.2f s", job.name, result.status,
                 result.windows, result.rows, result.seconds)  # fmt: skip
        return result

    def _warehouse_problems(self) -> list[str]:
        """The warehouse files a failed job may have tripped on (read once per run)."""
        if self._file_problems is None:
            self._file_problems = self.warehouse.problems()
        return self._file_problems

    def _older_shape(
        self, job: Job, planned: Plan, todo: list[Planned], state: dict[str, WindowState],
        store: WatermarkStore, exports: LazyExports, facts: Facts,
    ) -> set[str]:  # fmt: skip
        """Keys of the settled windows whose file has other columns than the job writes now.

        An older release wrote them (a column added since, a definition column the
        dashboards read): they are computed again by this run instead of waiting for
        ``jobs run --full``. What the job writes now is read off its LazyFrame's schema for
        the first chunk due (whose shared intermediates the run then reuses) or, when none
        is due, for the last settled window, probed (:attr:`JobInputs.probe`: nothing of it
        is collected; collecting its cohort table took most of an incremental run). A window
        whose columns were not recorded (a watermark of a release before this) has its file's
        own read once and recorded.
        """
        due = {p.window.key for p in todo}
        settled = [p.window for p in planned.ready if p.window.key not in due]
        if not settled:
            return set()
        if todo:
            inputs = self._inputs(exports, self._chunks(job, [p.window for p in todo])[0], facts)
        else:
            inputs = replace(self._inputs(exports, [settled[-1]], facts), probe=True)
        now = job.build(inputs).collect_schema().names()
        out_dir = self.reports_root / job.name
        columns: dict[str, list[str]] = {}
        found: dict[str, list[str]] = {}
        for w in settled:
            recorded = state[w.key].columns
            if recorded is None:
                path = out_dir / f"{w.key}.parquet"
                recorded = list(pl.read_parquet_schema(path)) if path.exists() else []
                found[w.key] = recorded
            columns[w.key] = recorded
        store.record_columns(job.name, {k: c for k, c in found.items() if c})
        return {key for key, cols in columns.items() if cols != now}

    def _drop_gone(
        self, job: Job, planned: Plan, state: dict[str, WindowState], store: WatermarkStore,
        out_dir: Path, run_id: str,
    ) -> list[Window]:  # fmt: skip
        """Remove the files and watermarks of the windows ``planned`` no longer has.

        Their rows would otherwise stay in the report next to the new ones (a context moved
        to another day counted on both). Only windows the plan no longer has are touched, and
        each is marked STARTED before its file goes: a crash in between leaves a watermark
        that is recomputed if the window comes back, or dropped again, never a DONE window
        without its file.
        """
        gone = planned.gone(s.window for s in state.values())
        if gone:
            store.started(job.name, gone, run_id)
            for w in gone:
                (out_dir / f"{w.key}.parquet").unlink(missing_ok=True)
            store.drop(job.name, [w.key for w in gone])
        return gone

    def _unknown_users(self, exports: LazyExports, facts: Facts) -> list[str]:
        """Notes on community users missing from the users export and on erased users
        (computed once per run).

        Counted over users who took part (opened, reacted, voted, posted), from the
        incrementally kept per-user summary, so it costs little on every run. Erased users'
        events carry pseudonyms (``erased-<hash>``, keyed: the reports cannot compute them from
        a product id), so they are never in the users export; they get a note of their own,
        since their product rows, if the product still exports them, are counted as users who
        never used the community, which is the churn report's reference segment.
        """
        if self._unknown is None and facts.first_day is not None and facts.horizon is not None:
            end = facts.horizon + timedelta(microseconds=1)
            window = Window("all", day_start(facts.first_day), end)
            summary = user_event_summary(self._inputs(exports, [window], facts))
            people = summary.group_by("user_id").agg(pl.col("first").min(), pl.col("last").max())
            erased = pl.col("user_id").str.starts_with(ERASED_PREFIX)
            missing = (
                people.filter(~erased).select("user_id")
                .join(exports.users.select("user_id"), on="user_id", how="anti")
                .select(pl.len(), pl.col("user_id").sort().head(3).str.join(", "))
                .collect()
            )  # fmt: skip
            n, sample = missing.row(0)
            self._unknown = [] if n == 0 else [
                f"{n} users in events are missing from the users export (e.g. {sample}); left out"
            ]  # fmt: skip
            gone = (
                people.filter(erased)
                .select(pl.len(), pl.col("first").min().dt.date(), pl.col("last").max().dt.date())
                .collect()
            )
            n, first, last = gone.row(0)
            if n:
                self._unknown.append(
                    f"{n} erased users (community events under {ERASED_PREFIX}… pseudonyms) were "
                    f"active in the community from {first} to {last}: the reports cannot match "
                    "a pseudonym to a product user, so if the product's exports still hold "
                    "them, their product rows count as users who never used the community "
                    "(never_opened in churn_posting, the reference segment); drop erased users "
                    "from the users and activity exports too"
                )
        return self._unknown or []

    def _chunks(self, job: Job, windows: list[Window]) -> list[list[Window]]:
        if job.windowing == "snapshot":
            return [windows] if windows else []
        size = self.settings.chunk_windows
        out: list[list[Window]] = []
        for w in windows:
            # Only consecutive windows share a chunk, so one chunk scans one contiguous range.
            if out and len(out[-1]) < size and out[-1][-1].end == w.start:
                out[-1].append(w)
            else:
                out.append([w])
        return out

    def _inputs(self, exports: LazyExports, chunk: list[Window], facts: Facts) -> JobInputs:
        assert facts.horizon is not None
        return JobInputs(
            warehouse=self.warehouse,
            users=exports.users,
            activity=exports.activity,
            contexts=exports.contexts,
            context_views=exports.context_views,
            user_activity=exports.user_activity,
            exports_version=exports.version,
            windows=chunk,
            settings=self.settings,
            horizon=facts.horizon,
            cache=self._shared,
        )

    def _refresh_views(self) -> None:
        try:
            names = write_views_file(self.reports_root, self.views_path)
            log.debug("report views in %s: %s", self.views_path, ", ".join(names))
        except Exception as exc:  # views are a convenience; the Parquet files are the result
            log.warning("could not refresh the report views in %s: %s", self.views_path, exc)

    def _render_dashboards(self) -> None:
        if self.dashboards is None:
            return
        try:
            from dashboards.render import render_all

            render_all(self.dashboards)
        except Exception as exc:  # dashboards are a view of the reports; a run never fails for them
            log.warning("could not render the dashboards: %s", exc)
