"""The runner: watermarks, crash recovery, open windows, full refresh, bad exports, views."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics import runner as runner_module
from analytics.demo import write_warehouse
from analytics.jobs import JOBS
from analytics.jobs.base import JobInputs
from analytics.runner import Runner, UnknownJob
from analytics.settings import AnalyticsSettings
from analytics.state import WatermarkStore
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW


def files(runner: Runner, job: str) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (runner.reports_root / job).glob("*")}


def export_more(runner: Runner, when: datetime, node: str, user: str = "x") -> None:
    """The warehouse sink exports one more event (a room opened at ``when``), as node ``node``."""
    event = new_event(T.ROOM_JOINED, user_id=user, room_id="team:x", occurred_at=when)
    write_warehouse([event], runner.warehouse.root, node_id=node)


def test_second_run_computes_nothing_final(golden: Runner) -> None:
    # The golden export ends at noon on the 18th; one event after the 18th's end + grace makes
    # the 18th (and the cohort ending on the 19th) final, while the 19th stays open.
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    first = {r.job: r for r in golden.run()}
    assert first["community_health"].windows == 15
    before = files(golden, "community_health")
    again = {r.job: r for r in golden.run()}
    assert again["community_health"].windows == 1  # the 19th: the export reaches no further
    assert again["churn_posting"].windows == 0
    # Snapshots are never final: recomputed (replaced) on every run.
    assert again["journey"].windows == 1
    after = files(golden, "community_health")
    assert {k: v for k, v in after.items() if k != "2026-01-19.parquet"} == {
        k: v for k, v in before.items() if k != "2026-01-19.parquet"
    }
    status = {s["job"]: s for s in golden.status()}
    assert (status["community_health"]["final_windows"],
            status["community_health"]["open_windows"]) == (14, 1)  # fmt: skip
    assert status["journey"]["open_windows"] == 1


def test_crash_redoes_only_the_chunk_in_flight(golden: Runner, monkeypatch) -> None:
    golden.settings = AnalyticsSettings(strata=2, chunk_windows=7)
    real = JOBS["community_health"]

    def crashing(inputs: JobInputs) -> pl.LazyFrame:
        if any(w.key == "2026-01-12" for w in inputs.windows):
            raise RuntimeError("killed mid-run")
        return real.build(inputs)

    monkeypatch.setitem(runner_module.JOBS, "community_health",
                        dataclasses.replace(real, build=crashing))  # fmt: skip
    [result] = golden.run(["community_health"])
    assert result.status == "failed" and "killed mid-run" in (result.error or "")
    assert result.windows == 7  # the first chunk (5th..11th) made it
    done = files(golden, "community_health")
    assert sorted(done) == [f"2026-01-{d:02d}.parquet" for d in range(5, 12)]
    [status] = [s for s in golden.status() if s["job"] == "community_health"]
    assert (status["final_windows"], status["started_windows"]) == (7, 7)
    monkeypatch.setitem(runner_module.JOBS, "community_health", real)
    [result] = golden.run(["community_health"])
    assert (result.status, result.windows) == ("ok", 7)
    after = files(golden, "community_health")
    assert {k: after[k] for k in done} == done  # DONE windows were not written again
    assert len(after) == 14
    assert not list((golden.reports_root / "community_health").glob(".*"))  # no temp files


def test_open_windows_are_recomputed_until_final(golden: Runner) -> None:
    golden._clock = lambda: datetime(2026, 1, 18, 20, tzinfo=UTC)
    [first] = golden.run(["community_health"])
    assert first.windows == 14
    [second] = golden.run(["community_health"])
    assert second.windows == 1  # the 18th is not over + grace yet
    golden._clock = lambda: NOW
    [third] = golden.run(["community_health"])
    # The clock is past, but the export still ends at noon on the 18th (as when the warehouse
    # sink stalls): the 18th stays open.
    assert third.windows == 1
    export_more(golden, datetime(2026, 1, 19, 0, 59, 59, tzinfo=UTC), "n2")
    [fourth] = golden.run(["community_health"])
    assert fourth.windows == 2  # the 18th (export 1 s short of end + grace) and the 19th
    export_more(golden, datetime(2026, 1, 19, 1, tzinfo=UTC), "n3")
    [fifth] = golden.run(["community_health"])
    assert fifth.windows == 2  # the 18th, now final, once more; the 19th
    [sixth] = golden.run(["community_health"])
    assert sixth.windows == 1  # only the 19th
    [status] = [s for s in golden.status() if s["job"] == "community_health"]
    assert (status["final_windows"], status["open_windows"]) == (14, 1)


def test_a_day_stays_open_until_the_export_catches_up(golden: Runner) -> None:
    """The warehouse sink stalls after noon on the 18th; the clock is long past the day."""

    def dau() -> list[int]:
        df = pl.read_parquet(golden.reports_root / "community_health" / "2026-01-18.parquet")
        return df["dau"].to_list()

    golden.run(["community_health"])
    assert dau() == [1]  # x, at noon
    # The sink catches up: d opened a room that evening, and the export moves on to the 19th.
    export_more(golden, datetime(2026, 1, 18, 19, tzinfo=UTC), "n2", user="d")
    export_more(golden, datetime(2026, 1, 19, 3, tzinfo=UTC), "n3")
    golden.run(["community_health"])
    assert dau() == [2]  # x and d: recomputed, it was not final
    golden.run(["community_health"], full=True)
    assert dau() == [2]


def test_full_refresh_recomputes_everything(golden: Runner) -> None:
    golden.run(["moderation_daily"])
    stale = golden.reports_root / "moderation_daily" / "1999-01-01.parquet"
    stale.write_bytes(b"not parquet")
    [result] = golden.run(["moderation_daily"], full=True)
    assert result.windows == 14
    assert not stale.exists()


def test_skips_are_reported(golden: Runner) -> None:
    activity = golden.exports_dir / "activity.csv"
    activity.write_text(activity.read_text() + "z,2026-01-10,1,1\na,2026-01-20,5,5\n")
    results = {r.job: r for r in golden.run(["churn_posting", "moderation_checks"])}
    notes = results["churn_posting"].notes
    assert "activity: skipped 1 rows of users missing from the users export" in notes
    assert ("activity.csv: skipped 1 rows with a duplicate user_id+date (the first one is kept; "
            "first duplicate at row 24: user_id=a, date=2026-01-20)") in notes  # fmt: skip
    assert "1 users in events are missing from the users export (e.g. x); left out" in notes
    assert "window 2026-01-05: no rows (no data in it)" in results["moderation_checks"].notes
    golden._clock = lambda: datetime(2026, 1, 18, 20, tzinfo=UTC)
    events = golden.warehouse.events_root
    (events / "event_date=2026-01-18").rename(events / "event_date=2026-01-18.moved")
    [late] = golden.run(["churn_posting"], full=True)
    assert "window 2026-01-05: skipped: the period is not over (ends 2026-01-19)" in late.notes


def test_churn_waits_for_the_activity_export(golden: Runner, tmp_path: Path) -> None:
    activity = golden.exports_dir / "activity.csv"
    lines = [ln for ln in activity.read_text().splitlines() if "2026-02-15" not in ln]
    activity.write_text("\n".join(lines) + "\n")
    [result] = golden.run(["churn_posting"])
    assert result.status == "skipped"
    assert ("window 2026-01-05: skipped: churn needs activity through 2026-02-15; the activity "
            "export ends 2026-02-10") in result.notes  # fmt: skip


def test_bad_exports_fail_user_jobs_only(golden: Runner) -> None:
    activity = golden.exports_dir / "activity.csv"
    activity.write_text(activity.read_text().replace("b,2026-02-10,1,2", "b,2026-02-10,1,abc"))
    results = {r.job: r for r in golden.run()}
    assert results["community_health"].status == "ok"
    assert results["churn_posting"].status == "failed"
    assert 'activity.csv row 18: column "minutes": expected a number, got "abc"' in (
        results["churn_posting"].error or ""
    )


def test_a_job_failed_by_bad_exports_has_no_notes_about_their_stand_in(golden: Runner) -> None:
    # The run plans on empty exports while they are invalid; notes from that plan ("the
    # activity export ends nowhere (empty)") would tell the analyst the export is empty.
    activity = golden.exports_dir / "activity.csv"
    activity.write_text(activity.read_text().replace("b,2026-02-10,1,2", "b,2026-02-10,1,abc"))
    for result in golden.run(["churn_posting", "engagement", "funnel"]):
        assert result.status == "failed" and "expected a number" in (result.error or "")
        assert result.notes == [], result.notes
        [row] = [r for r in golden.status() if r["job"] == result.job]
        assert row["notes"] == []


def test_export_changes_are_picked_up(golden: Runner) -> None:
    golden.run(["funnel"])
    views = golden.exports_dir / "context_views.csv"
    views.write_text(views.read_text() + "a,match:2,2026-01-09T18:00:00Z,5\n")
    golden.run(["funnel"])
    funnel = pl.read_parquet(golden.reports_root / "funnel" / "all.parquet").sort("step_order")
    assert funnel["users"][0] == 4


def test_views_file(golden: Runner) -> None:
    golden.run(["funnel", "community_health"])
    con = duckdb.connect(str(golden.views_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM community_health").fetchone() == (14,)
        assert con.execute("SELECT users FROM funnel WHERE step = 'opened'").fetchone() == (2,)
    finally:
        con.close()


def test_unknown_job_and_empty_warehouse(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runner = Runner(tmp_path / "w", tmp_path / "e", AnalyticsSettings(), progress=False)
    with pytest.raises(UnknownJob, match="unknown job nope; jobs are: churn_posting"):
        runner.run(["nope"])
    results = runner.run(["community_health", "journey"])
    assert [r.status for r in results] == ["skipped", "failed"]
    assert results[0].notes[0].startswith("window *: skipped: the warehouse has no events yet")
    assert "exports folder" in (results[1].error or "") and "does not exist" in results[1].error
    # an export problem is named in one line, not a traceback every scheduled run
    failed = [r for r in caplog.records if r.getMessage().startswith("job journey failed")]
    assert failed and not any(r.exc_info for r in failed), failed


def test_snapshots_follow_new_days_and_rewritten_history(golden: Runner) -> None:
    def opened() -> int:
        df = pl.read_parquet(golden.reports_root / "journey" / "all.parquet")
        return df.filter(pl.col("scope") == "all")["opened"].item()

    golden.run(["journey"])
    assert opened() == 2
    late = new_event(T.ROOM_JOINED, user_id="e", room_id="match:2",
                     occurred_at=datetime(2026, 1, 19, 9, tzinfo=UTC))  # fmt: skip
    write_warehouse([late], golden.warehouse.root, node_id="n2")
    golden.run(["journey"])
    assert opened() == 3  # merged into the kept summary
    meta = golden.reports_root / "_derived" / "user_event_summary.json"
    assert '"through": "2026-01-19T09:00:00.000001+00:00"' in meta.read_text()
    # An earlier day rewritten (as an erasure would): the summary is rebuilt, not merged.
    for f in (golden.warehouse.events_root / "event_date=2026-01-09").rglob("*.parquet"):
        f.unlink()
    golden.run(["journey"])
    assert opened() == 1


def test_journey_sessions_follow_the_activity_export(golden: Runner) -> None:
    def median() -> float:
        df = pl.read_parquet(golden.reports_root / "journey" / "all.parquet")
        return df.filter(pl.col("scope") == "all")["sessions_to_open_median"].item()

    golden.run(["journey"])
    assert median() == 2.5
    golden.run(["journey"])  # from the kept per-user counts
    assert median() == 2.5
    activity = golden.exports_dir / "activity.csv"
    activity.write_text(activity.read_text().replace("d,2025-12-20,1,", "d,2025-12-20,5,"))
    golden.run(["journey"])
    assert median() == 4.5  # d: 5 + 1, h: 2 + 1


def move_match_2(runner: Runner, old: int, new: int) -> None:
    """Reschedule match:2 (7 pm CET, on the 9th in the golden export) from day ``old`` to ``new``."""
    contexts = runner.exports_dir / "contexts.csv"
    hours = "2026-01-{:02d}T19:00:00+01:00,2026-01-{:02d}T20:50:00+01:00"
    text = contexts.read_text()
    assert hours.format(old, old) in text
    contexts.write_text(text.replace(hours.format(old, old), hours.format(new, new)))


def engagement_rows(runner: Runner) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(runner.views_path), read_only=True)
    try:
        return con.execute('SELECT "window", context_id, openers, reactions FROM engagement '
                           "ORDER BY context_id, 1").fetchall()  # fmt: skip
    finally:
        con.close()


@pytest.mark.parametrize("clock", [datetime(2026, 1, 9, 21, tzinfo=UTC), NOW],
                         ids=["old-day-open", "old-day-final"])  # fmt: skip
def test_a_context_moved_to_another_day_is_counted_once(golden: Runner, clock: datetime) -> None:
    golden._clock = lambda: clock
    golden.run(["engagement"])
    assert engagement_rows(golden) == [
        ("2026-01-06", "match:1", 0, 0), ("2026-01-09", "match:2", 3, 3),
        ("2026-01-05", "team:x", 1, 1),
    ]  # fmt: skip
    move_match_2(golden, 9, 10)
    [result] = golden.run(["engagement"])
    assert result.status == "ok"
    assert ("window 2026-01-09: removed: no longer in the plan (its contexts moved or were "
            "removed, or the grid changed)") in result.notes  # fmt: skip
    # On the 10th nothing happened in its room: no openers, no reactions.
    assert engagement_rows(golden) == [
        ("2026-01-06", "match:1", 0, 0), ("2026-01-10", "match:2", 0, 0),
        ("2026-01-05", "team:x", 1, 1),
    ]  # fmt: skip
    assert sorted(files(golden, "engagement")) == [
        "2026-01-05.parquet", "2026-01-06.parquet", "2026-01-10.parquet"]
    with WatermarkStore(golden.state_path) as store:
        assert sorted(store.windows("engagement")) == ["2026-01-05", "2026-01-06", "2026-01-10"]


def test_history_outside_the_export_is_kept(golden: Runner) -> None:
    golden.run(["community_health", "engagement"])
    # The export no longer holds the 5th (its first day): the windows of the 5th are history
    # the plan no longer looks at, not windows that stopped existing.
    shutil.rmtree(golden.warehouse.events_root / "event_date=2026-01-05")
    results = golden.run(["community_health", "engagement"])
    assert [r.status for r in results] == ["ok", "ok"]
    assert not [n for r in results for n in r.notes if "removed" in n]
    assert "2026-01-05.parquet" in files(golden, "community_health")
    assert "2026-01-05.parquet" in files(golden, "engagement")
    with WatermarkStore(golden.state_path) as store:
        assert store.windows("engagement")["2026-01-05"].status == "DONE"


def test_a_crash_while_removing_loses_no_window(golden: Runner, monkeypatch) -> None:
    golden.run(["engagement"])
    move_match_2(golden, 9, 10)

    def crash(self: WatermarkStore, job: str, keys: list[str]) -> None:
        raise RuntimeError("killed mid-run")

    monkeypatch.setattr(WatermarkStore, "drop", crash)
    [result] = golden.run(["engagement"])
    assert result.status == "failed" and "killed mid-run" in (result.error or "")
    assert "2026-01-09.parquet" not in files(golden, "engagement")  # the file went first
    with WatermarkStore(golden.state_path) as store:
        assert store.windows("engagement")["2026-01-09"].status == "STARTED"
    monkeypatch.undo()
    # The match moves back before the next run: its window is planned again and, being
    # STARTED rather than DONE and final, is computed again instead of lost.
    move_match_2(golden, 10, 9)
    [result] = golden.run(["engagement"])
    assert result.status == "ok"
    assert ("2026-01-09", "match:2", 3, 3) in engagement_rows(golden)
    assert "2026-01-10.parquet" not in files(golden, "engagement")


def test_a_context_moved_away_from_a_final_day_that_keeps_others(golden: Runner) -> None:
    contexts = golden.exports_dir / "contexts.csv"
    contexts.write_text(contexts.read_text()
                        + "match:3,match,E v F,2026-01-09T10:00:00Z,2026-01-09T11:00:00Z,5\n")
    [first] = golden.run(["engagement"])
    assert first.windows == 3
    [again] = golden.run(["engagement"])
    assert again.windows == 1  # only the 5th: team:x runs until the 20th, past the export
    move_match_2(golden, 9, 10)
    [result] = golden.run(["engagement"])
    # The 9th is final but its contexts changed: computed again, with match:3 alone; the
    # 10th is new. Nothing is removed: the 9th is still planned.
    assert result.windows == 3
    assert not [n for n in result.notes if "removed" in n]
    assert engagement_rows(golden) == [
        ("2026-01-06", "match:1", 0, 0), ("2026-01-10", "match:2", 0, 0),
        ("2026-01-09", "match:3", 0, 0), ("2026-01-05", "team:x", 1, 1),
    ]  # fmt: skip
    [after] = golden.run(["engagement"])
    assert after.windows == 1


def test_watermarks_from_before_the_inputs_digest(golden: Runner) -> None:
    """A watermark file without the ``inputs`` column opens; its context days are redone once."""
    golden.run(["engagement"])
    con = duckdb.connect(str(golden.state_path))
    try:
        con.execute("ALTER TABLE job_windows DROP COLUMN inputs")
    finally:
        con.close()
    [result] = golden.run(["engagement"])
    assert result.windows == 3  # no digest recorded: computed once more
    [result] = golden.run(["engagement"])
    assert result.windows == 1  # the open 5th only
