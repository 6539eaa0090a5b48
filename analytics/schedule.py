"""APScheduler wiring of the report jobs; nothing else lives here.

Each job gets its cron trigger (UTC) from ``analytics.schedule``. ``coalesce=True`` turns a
backlog of missed firings into one run and ``max_instances=1`` never overlaps a job with
itself. Runs happen in a child process (``analytics.child``), one at a time: jobs that fire
while one runs (several share a minute by default) wait and then run together in the next
child, so the dashboards are rendered once for them, not once per job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from analytics.child import ChildFailed, run_in_child
from analytics.jobs import JOBS
from analytics.settings import analytics_settings

log = logging.getLogger(__name__)


class ScheduleError(ValueError):
    """A schedule entry names an unknown job or has a bad cron expression; names the key."""


def triggers(schedule: dict[str, str]) -> dict[str, CronTrigger]:
    """A cron trigger per job name.

    Raises:
        ScheduleError: with the key path of the bad entry.
    """
    out = {}
    for name, expr in schedule.items():
        if name not in JOBS:
            raise ScheduleError(f"unknown job {name!r} - at `$.analytics.schedule.{name}`")
        try:
            out[name] = CronTrigger.from_crontab(expr, timezone="UTC")
        except ValueError as exc:
            raise ScheduleError(
                f"bad cron expression {expr!r}: {exc} - at `$.analytics.schedule.{name}`"
            ) from exc
    return out


class JobQueue:
    """Runs scheduled jobs in child processes, one child at a time, batching what fired
    meanwhile. Failures are logged, never raised: the scheduler must keep firing."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._pending: dict[str, None] = {}
        self._lock = asyncio.Lock()
        self._running: asyncio.Task[Any] | None = None
        self.last_pid: int | None = None
        """The pid of the latest child (for tests and logs)."""

    async def run(self, name: str) -> None:
        """Run ``name`` now, or with the next batch when a child is already running."""
        self._pending[name] = None
        async with self._lock:
            names = list(self._pending)
            self._pending.clear()
            if not names:  # the holder before us ran it
                return
            self._running = asyncio.current_task()
            try:
                self.last_pid, results = await run_in_child(self.settings, names)
            except ChildFailed as exc:
                log.error("scheduled jobs %s could not run: %s", ", ".join(names), exc)
                return
            except Exception:
                log.exception("scheduled jobs %s could not run", ", ".join(names))
                return
            finally:
                self._running = None
        for r in results:
            if r.status == "failed":
                log.error("scheduled job %s failed: %s", r.job, r.error)

    async def stop(self) -> None:
        """Cut a running child short (killed; the next run redoes its windows) and reap it."""
        task = self._running
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_scheduler(settings: Any, queue: JobQueue) -> AsyncIOScheduler:
    """A scheduler (not started) with one cron job per entry of ``analytics.schedule``.

    Raises:
        ScheduleError: a schedule entry is invalid.
    """
    a = analytics_settings(settings)
    scheduler = AsyncIOScheduler(timezone="UTC")
    if not a.schedule_enabled:
        return scheduler
    for name, trigger in triggers(a.schedule).items():
        scheduler.add_job(
            queue.run,
            trigger,
            args=[name],
            id=f"analytics:{name}",
            name=f"analytics job {name}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
            replace_existing=True,
        )
    return scheduler


class ScheduledJobs:
    """The scheduler as a background part of the service: started after the log is open."""

    def __init__(self, scheduler: AsyncIOScheduler, queue: JobQueue) -> None:
        self.scheduler = scheduler
        self.queue = queue

    async def start(self) -> None:
        self.scheduler.start()
        jobs = self.scheduler.get_jobs()
        if jobs:
            first = min(jobs, key=lambda job: job.next_run_time)
            log.info(
                "analytics schedule started: %d jobs (%s); next %s at %s",
                len(jobs), ", ".join(job.args[0] for job in jobs), first.args[0],
                first.next_run_time.isoformat(timespec="seconds"),
            )  # fmt: skip

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.queue.stop()
