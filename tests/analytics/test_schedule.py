"""The scheduler wiring: one coalescing, non-overlapping cron job per configured report."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from analytics.runner import Runner
from analytics.schedule import ScheduleError, build_scheduler, run_job
from analytics.settings import DEFAULT_SCHEDULE, AnalyticsSettings


def settings(**kw: object) -> SimpleNamespace:
    return SimpleNamespace(data_dir="data", analytics=AnalyticsSettings(**kw))


def test_every_default_job_is_scheduled(tmp_path: Path) -> None:
    runner = Runner(tmp_path / "w", tmp_path / "e")
    scheduler = build_scheduler(settings(), runner)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {f"analytics:{n}" for n in DEFAULT_SCHEDULE}
    job = jobs["analytics:churn_posting"]
    assert (job.coalesce, job.max_instances) == (True, 1)
    assert str(job.trigger) == "cron[month='*', day='*', day_of_week='*', hour='3', minute='30']"
    assert job.args == (runner, "churn_posting")
    assert build_scheduler(settings(schedule_enabled=False), runner).get_jobs() == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"churn": "0 3 * * *"}, "unknown job 'churn' - at `$.analytics.schedule.churn`"),
        ({"funnel": "61 * * * *"}, "bad cron expression '61 * * * *'"),
    ],
)
def test_bad_entries_name_their_key(tmp_path: Path, schedule: dict, message: str) -> None:
    with pytest.raises(ScheduleError, match=message.replace("*", r"\*").replace("$", r"\$")):
        build_scheduler(settings(schedule=schedule), Runner(tmp_path / "w", tmp_path / "e"))


async def test_a_scheduled_run_never_raises(golden: Runner, caplog) -> None:
    await run_job(golden, "community_health")
    assert (golden.reports_root / "community_health" / "2026-01-18.parquet").is_file()
    golden.exports_dir.joinpath("users.csv").write_text("nonsense\n")
    await asyncio.wait_for(run_job(golden, "journey"), 30)
    assert "scheduled job journey failed: ExportError" in caplog.text
