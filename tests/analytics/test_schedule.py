"""The scheduler wiring: one coalescing, non-overlapping cron job per configured report, run
in a child process, one child at a time, jobs that fire meanwhile batched into the next."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from analytics.schedule import JobQueue, ScheduledJobs, ScheduleError, build_scheduler
from analytics.settings import DEFAULT_SCHEDULE, AnalyticsSettings
from service.settings import load_settings
from tests.analytics.conftest import golden_runner


def settings(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(data_dir="data", analytics=AnalyticsSettings(**kw))


def test_every_default_job_is_scheduled() -> None:
    queue = JobQueue(settings())
    scheduler = build_scheduler(settings(), queue)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {f"analytics:{n}" for n in DEFAULT_SCHEDULE}
    job = jobs["analytics:churn_posting"]
    assert (job.coalesce, job.max_instances) == (True, 1)
    assert str(job.trigger) == "cron[month='*', day='*', day_of_week='*', hour='3', minute='30']"
    assert (job.func, job.args) == (queue.run, ("churn_posting",))
    assert build_scheduler(settings(schedule_enabled=False), queue).get_jobs() == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"churn": "0 3 * * *"}, "unknown job 'churn' - at `$.analytics.schedule.churn`"),
        ({"funnel": "61 * * * *"}, "bad cron expression '61 * * * *'"),
    ],
)
def test_bad_entries_name_their_key(schedule: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("*", r"\*").replace("$", r"\$")):
        build_scheduler(settings(schedule=schedule), JobQueue(settings()))


def golden_service_settings(root: Path):
    """Service settings whose data folder holds the golden warehouse and exports."""
    golden_runner(root)
    return load_settings(environ={}, data_dir=str(root), analytics={"strata": 2})


def children_of_this_process() -> list[int]:
    """Pids of running ``analytics.child`` processes started by this one."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"analytics.child" in cmdline:
            found.append(int(entry.name))
    return found


async def test_a_scheduled_run_happens_in_a_child_and_never_raises(tmp_path: Path, caplog) -> None:
    queue = JobQueue(golden_service_settings(tmp_path))
    await queue.run("community_health")
    assert (tmp_path / "warehouse" / "reports" / "community_health" / "2026-01-18.parquet").is_file()
    assert queue.last_pid not in (None, os.getpid())
    assert (tmp_path / "dashboards" / "overview.html").is_file()  # rendered by the child
    (tmp_path / "exports" / "users.csv").write_text("nonsense\n")
    # a deadline, that it never hangs; not a speed: this run took 32 s at a load of 4 on 2 cores
    await asyncio.wait_for(queue.run("journey"), 180)
    assert "scheduled job journey failed: ExportError" in caplog.text
    caplog.clear()
    await queue.run("no_such_job")
    assert "scheduled jobs no_such_job could not run: unknown job no_such_job" in caplog.text


async def test_jobs_that_fire_during_a_run_share_the_next_child(tmp_path: Path, capfd) -> None:
    queue = JobQueue(golden_service_settings(tmp_path))
    await asyncio.gather(queue.run("community_health"), queue.run("engagement"),
                         queue.run("moderation_daily"))  # fmt: skip
    err = capfd.readouterr().err
    assert err.count("rendered 5 dashboards") == 2  # [community_health], then the other two
    for job in ("community_health", "engagement", "moderation_daily"):
        assert any((tmp_path / "warehouse" / "reports" / job).glob("*.parquet")), job


async def test_stopping_the_service_kills_a_running_child(tmp_path: Path) -> None:
    queue = JobQueue(golden_service_settings(tmp_path))
    jobs = ScheduledJobs(build_scheduler(settings(schedule_enabled=False), queue), queue)
    running = asyncio.create_task(queue.run("churn_posting"))
    for _ in range(200):
        if children := children_of_this_process():
            break
        await asyncio.sleep(0.02)
    assert children
    await jobs.stop()
    assert running.cancelled()
    assert children_of_this_process() == []
    assert not Path(f"/proc/{children[0]}").exists()  # reaped, not a zombie


async def test_a_started_schedule_says_once_which_jobs_it_holds(caplog) -> None:
    queue = JobQueue(settings())
    jobs = ScheduledJobs(build_scheduler(settings(), queue), queue)
    caplog.set_level("INFO", logger="analytics.schedule")
    await jobs.start()
    try:
        lines = [r.getMessage() for r in caplog.records if r.name == "analytics.schedule"]
        assert len(lines) == 1
        assert lines[0].startswith(f"analytics schedule started: {len(DEFAULT_SCHEDULE)} jobs (")
        assert all(name in lines[0] for name in DEFAULT_SCHEDULE) and "; next " in lines[0]
    finally:
        await jobs.stop()
