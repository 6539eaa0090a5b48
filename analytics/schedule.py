"""APScheduler wiring of the report jobs; nothing else lives here.

Each job gets its cron trigger (UTC) from ``analytics.schedule``. ``coalesce=True`` turns a
backlog of missed firings into one run and ``max_instances=1`` never overlaps a job with
itself; the runner's own lock serialises different jobs, and each run happens on a worker
thread so the service's event loop never waits for Polars.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from analytics.jobs import JOBS
from analytics.runner import Runner
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


async def run_job(runner: Runner, name: str) -> None:
    """One scheduled run of one job, on a worker thread; failures are logged, never raised."""
    try:
        results = await asyncio.to_thread(runner.run, [name])
    except Exception:  # the scheduler must keep firing the other jobs
        log.exception("scheduled job %s could not run", name)
        return
    for r in results:
        if r.status == "failed":
            log.error("scheduled job %s failed: %s", r.job, r.error)


def build_scheduler(settings: Any, runner: Runner) -> AsyncIOScheduler:
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
            run_job,
            trigger,
            args=[runner, name],
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

    def __init__(self, scheduler: AsyncIOScheduler) -> None:
        self.scheduler = scheduler

    async def start(self) -> None:
        self.scheduler.start()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
