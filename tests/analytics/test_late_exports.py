"""Product exports that change after a window went final: the window is computed again when
the export rows it reads changed (late activity, a corrected users export, late views), and
only then. Answers worked out by hand over the golden world of conftest.py."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from analytics import runner as runner_module
from analytics.exports import ExportError
from analytics.runner import Runner
from analytics.state import WatermarkStore
from tests.analytics.test_runner import export_more


def append(runner: Runner, export: str, rows: str) -> None:
    path = runner.exports_dir / f"{export}.csv"
    path.write_text(path.read_text() + rows)


def segments(runner: Runner) -> dict[str, tuple[int, int, int]]:
    df = pl.read_parquet(runner.reports_root / "churn_posting" / "2026-01-05.parquet")
    return {r[0]: r[1:] for r in df.select("segment", "users", "churned", "retained").rows()}


def cohort_runs(runner: Runner) -> int:
    [result] = runner.run(["churn_posting"])
    assert result.status == "ok", result.error
    return result.windows


def test_late_activity_and_users_reach_a_final_cohort(golden: Runner) -> None:
    # One event after the 19th's start + grace: the cohort 5th..19th is final.
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    assert cohort_runs(golden) == 1
    # c (reactors only) has no activity after the period: churned, not retained.
    assert segments(golden)["reactors_only"] == (1, 1, 0)
    assert segments(golden)["never_opened"] == (2, 1, 0)  # e churned, f back on the 30th
    assert cohort_runs(golden) == 0

    # The activity export gains c's use on the 22nd, late: within 28 days (not churned) and
    # within 7 days (retained) of the period's end, the 19th.
    append(golden, "activity", "c,2026-01-22,2,5\n")
    assert cohort_runs(golden) == 1
    assert segments(golden)["reactors_only"] == (1, 0, 1)
    assert cohort_runs(golden) == 0

    # Rows the cohort does not read change nothing: activity after its churn horizon (the 19th
    # + 28 days = 15 February), minutes of a day, a user signed up after the period.
    append(golden, "activity", "a,2026-02-20,1,1\n")
    activity = golden.exports_dir / "activity.csv"
    activity.write_text(activity.read_text().replace("c,2026-01-22,2,5", "c,2026-01-22,2,50"))
    append(golden, "users", "n,2026-02-01T00:00:00Z,free,GB\n")
    assert cohort_runs(golden) == 0

    # e leaves the users export (an erasure): the never_opened segment is f alone.
    users = golden.exports_dir / "users.csv"
    users.write_text(users.read_text().replace("e,2025-12-01T00:00:00Z,free,GB\n", ""))
    assert cohort_runs(golden) == 1
    assert segments(golden)["never_opened"] == (1, 0, 0)
    incremental = segments(golden)
    golden.run(["churn_posting"], full=True)
    assert segments(golden) == incremental


def engagement_runs(runner: Runner) -> dict[str, int]:
    results = runner.run(["engagement", "engagement_timeline"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
    return {r.job: r.windows for r in results}


def test_late_views_reach_a_final_context_day(golden: Runner) -> None:
    def match_2() -> tuple[object, ...]:
        df = pl.read_parquet(golden.reports_root / "engagement" / "2026-01-09.parquet")
        return df.select("viewers", "opened_share").row(0)

    # The 6th and the 9th are final; the 5th (team:x, until the 20th) stays open.
    assert engagement_runs(golden) == {"engagement": 3, "engagement_timeline": 3}
    assert match_2() == (3, 1.0)  # d, h, e viewed; d, h, x opened
    assert engagement_runs(golden) == {"engagement": 1, "engagement_timeline": 1}
    # A view of match:2 (18:00-19:50 UTC on the 9th) arrives late, during the match: the 9th
    # is computed again, 3 openers / 4 viewers. The timeline does not read views.
    append(golden, "context_views", "a,match:2,2026-01-09T18:30:00Z,20\n")
    assert engagement_runs(golden) == {"engagement": 2, "engagement_timeline": 1}
    assert match_2() == (4, 0.75)
    with WatermarkStore(golden.state_path) as store:
        assert store.windows("engagement")["2026-01-09"].final
    assert engagement_runs(golden) == {"engagement": 1, "engagement_timeline": 1}


def test_a_crash_while_recomputing_loses_no_late_rows(golden: Runner, monkeypatch) -> None:
    export_more(golden, datetime(2026, 1, 19, 2, tzinfo=UTC), "n2")
    assert cohort_runs(golden) == 1
    append(golden, "activity", "c,2026-01-22,2,5\n")

    def crash(self: WatermarkStore, *args: object, **kwargs: object) -> None:
        raise RuntimeError("killed mid-run")

    # Killed after the new file is in place, before the window is marked DONE with the new
    # digest: the window stays STARTED, so the next run computes it again.
    monkeypatch.setattr(WatermarkStore, "done", crash)
    [result] = golden.run(["churn_posting"])
    assert result.status == "failed" and "killed mid-run" in (result.error or "")
    with WatermarkStore(golden.state_path) as store:
        assert store.windows("churn_posting")["2026-01-05"].status == "STARTED"
    monkeypatch.undo()
    assert cohort_runs(golden) == 1
    assert segments(golden)["reactors_only"] == (1, 0, 1)
    assert cohort_runs(golden) == 0


def test_the_tallies_are_kept_per_version_of_the_exports(golden: Runner, monkeypatch) -> None:
    calls: list[int] = []
    real = runner_module.digest_exports

    def counted(*frames: pl.LazyFrame) -> pl.DataFrame:
        calls.append(1)
        return real(*frames)

    monkeypatch.setattr(runner_module, "digest_exports", counted)
    golden.run(["churn_posting"])
    golden.run(["churn_posting", "engagement"])
    assert len(calls) == 1  # the exports did not change
    golden.run(["community_health"])
    assert len(calls) == 1  # no job that reads them
    append(golden, "context_views", "a,match:2,2026-01-09T18:30:00Z,20\n")
    golden.run(["churn_posting"])
    assert len(calls) == 2
    with WatermarkStore(golden.state_path) as store:
        versions = store.con.execute(
            "SELECT count(DISTINCT version) FROM export_digests"
        ).fetchone()
    assert versions == (1,)  # the earlier version's tallies are gone


def test_prepare_exports_pays_the_tallies_before_a_run(golden: Runner, monkeypatch) -> None:
    calls: list[int] = []
    real = runner_module.digest_exports
    monkeypatch.setattr(runner_module, "digest_exports", lambda *f: calls.append(1) or real(*f))
    golden.prepare_exports()
    assert len(calls) == 1
    golden.run(["churn_posting"], full=True)  # a full refresh keeps them: same export version
    assert len(calls) == 1
    append(golden, "users", "nonsense\n")
    with pytest.raises(ExportError):
        golden.prepare_exports()
