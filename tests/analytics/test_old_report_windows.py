"""Report windows written by an older release: after an upgrade, a final window whose file
lacks a column the job writes now (or has one it no longer writes) is computed again by the
next incremental run, not only by ``jobs run --full``; one whose file already has the
current columns is not."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics import runner as runner_module
from analytics.jobs import JOBS
from analytics.jobs.base import JobInputs
from analytics.runner import Runner
from analytics.state import WatermarkStore
from analytics.windows import plan
from tests.analytics.test_runner import export_more, files


def forget_recorded_columns(runner: Runner) -> None:
    """The watermark file as a release before the columns were recorded left it."""
    con = duckdb.connect(str(runner.state_path))
    try:
        con.execute("ALTER TABLE job_windows DROP COLUMN IF EXISTS columns")
    finally:
        con.close()


def final_keys(runner: Runner, job: str) -> list[str]:
    con = duckdb.connect(str(runner.state_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT window_key FROM job_windows WHERE job = ? AND status = 'DONE' AND final "
            "ORDER BY 1", [job],
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def make_old(path: Path, column: str) -> None:
    """Rewrite a window file as the release before ``column`` existed wrote it."""
    pl.read_parquet(path).drop(column).write_parquet(path)


@pytest.mark.parametrize(
    ("job", "column"),
    [
        ("moderation_daily", "attempted"),  # day windows, the open day computed each run
        ("churn_posting", "churn_days"),  # cohort windows, nothing else to compute
        ("engagement", "timeline_margin_minutes"),  # context days
    ],
)
def test_an_old_shape_final_window_is_recomputed(golden: Runner, job: str, column: str) -> None:
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    golden.run([job])
    [key, *_] = final_keys(golden, job)
    path = golden.reports_root / job / f"{key}.parquet"
    expected = pl.read_parquet(path)
    make_old(path, column)
    forget_recorded_columns(golden)
    [again] = golden.run([job])
    [normal] = golden.run([job])
    assert column in pl.read_parquet_schema(path)
    assert pl.read_parquet(path).equals(expected)
    assert again.windows == normal.windows + 1  # that window, once
    with duckdb.connect(str(golden.views_path), read_only=True) as con:
        nulls = con.execute(
            f'SELECT count(*) FROM "{job}" WHERE "window" = ? AND "{column}" IS NULL', [key]
        ).fetchone()
    assert nulls == (0,)


def test_old_watermarks_of_current_files_are_not_recomputed(golden: Runner) -> None:
    """A store without the recorded columns whose files have the current ones: nothing is
    computed again (the file's own columns are read once and recorded)."""
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    golden.run(["community_health", "churn_posting"])
    before = files(golden, "community_health")
    forget_recorded_columns(golden)
    results = {r.job: r for r in golden.run(["community_health", "churn_posting"])}
    assert (results["community_health"].windows, results["churn_posting"].windows) == (1, 0)
    after = files(golden, "community_health")
    assert {k: v for k, v in after.items() if k != "2026-01-19.parquet"} == {
        k: v for k, v in before.items() if k != "2026-01-19.parquet"
    }


def test_a_column_added_by_a_later_release_recomputes_final_windows(
    golden: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next upgrade: windows this release recorded are compared with what the job
    writes now, also when no window of the job is due otherwise."""
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    golden.run(["churn_posting", "community_health"])
    finals = {job: len(final_keys(golden, job)) for job in ("churn_posting", "community_health")}
    for name in finals:
        real = JOBS[name]

        def newer(inputs: JobInputs, real: runner_module.Job = real) -> pl.LazyFrame:
            return real.build(inputs).with_columns(pl.lit(1).alias("added_later"))

        monkeypatch.setitem(runner_module.JOBS, name, dataclasses.replace(real, build=newer))
    results = {r.job: r for r in golden.run(["churn_posting", "community_health"])}
    assert results["churn_posting"].windows == finals["churn_posting"]
    assert results["community_health"].windows == finals["community_health"] + 1  # + the 19th
    for name in finals:
        for path in (golden.reports_root / name).glob("*.parquet"):
            assert "added_later" in pl.read_parquet_schema(path), path
    again = {r.job: r for r in golden.run(["churn_posting", "community_health"])}
    assert (again["churn_posting"].windows, again["community_health"].windows) == (0, 1)


def derived_files(runner: Runner) -> dict[str, int]:
    folder = runner.reports_root / "_derived"
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*")} if folder.exists() else {}


@pytest.mark.parametrize("name", list(JOBS))
def test_a_probe_has_the_columns_of_a_build_and_collects_nothing(golden: Runner, name: str) -> None:
    """With no window due, what a job writes now is read off a probe of its last settled
    window: the same columns as building it for real, but none of its intermediates collected
    (collecting the cohort table of a settled window was most of an incremental run) and no
    derived state stored."""
    golden.run()
    job = JOBS[name]
    with WatermarkStore(golden.state_path) as store:
        exports, error = golden._exports()
        assert error is None
        facts = golden._facts(exports, store, [job])
    ready = plan(job, facts, golden.settings).ready
    assert ready, "the golden world has windows of every job"
    inputs = golden._inputs(exports, [ready[-1].window], facts)
    probe = dataclasses.replace(inputs, probe=True, cache={})
    before = derived_files(golden)
    probed = job.build(probe).collect_schema().names()
    assert probe.cache == {}
    assert derived_files(golden) == before
    built = job.build(dataclasses.replace(inputs, cache={})).collect()
    assert probed == built.columns
