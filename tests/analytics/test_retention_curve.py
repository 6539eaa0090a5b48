"""Retention curve weeks stay inside what the activity export covers when the cohort window is
ready: with ``churn_days = 30`` only weeks 1-4 (floor(30 / 7)); week 5 would be partial yet
final. Answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, at

# Cohort period 2026-01-05 .. 2026-01-19; week k after it is 01-19 + 7(k-1) .. 01-19 + 7k.
# u1 (lurker: opened a room in the period) is active in week 4 (02-09) and on 02-17, the
# last day churn needs (01-19 + 29), which is in week 5; u2 (never opened) in week 2 (01-26).
ACTIVITY = (
    "user_id,date,sessions,minutes\n"
    "u1,2026-01-06,1,1\nu2,2026-01-07,1,1\n"
    "u2,2026-01-26,1,1\nu1,2026-02-09,1,1\nu1,2026-02-17,1,1\n"
)
EXPECTED = [
    ("lurkers", 1, 1, 0), ("lurkers", 2, 1, 0), ("lurkers", 3, 1, 0), ("lurkers", 4, 1, 1),
    ("never_opened", 1, 1, 0), ("never_opened", 2, 1, 1), ("never_opened", 3, 1, 0),
    ("never_opened", 4, 1, 0),
]  # fmt: skip


def curve(runner: Runner) -> list[tuple[object, ...]]:
    df = pl.read_parquet(runner.reports_root / "retention_curve" / "*.parquet")
    assert set(df["window"]) == {"2026-01-05"}
    return df.sort("segment_order", "week").select("segment", "week", "users", "active").rows()


def test_only_weeks_the_activity_export_covers(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\nu1,2025-12-01T00:00:00Z,,\nu2,2025-12-01T00:00:00Z,,\n"
    )
    (exports / "activity.csv").write_text(ACTIVITY)
    (exports / "contexts.csv").write_text("context_id,kind,title,starts_at,ends_at\n")
    write_warehouse([
        new_event(T.ROOM_JOINED, user_id="u1", room_id="m:1", occurred_at=at(1, 5, 12)),
        # after the period: only carries the warehouse horizon past its end
        new_event(T.ROOM_JOINED, user_id="u2", room_id="m:1", occurred_at=at(1, 19, 12)),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(churn_days=30),
                    clock=lambda: NOW, progress=False)  # fmt: skip
    [result] = runner.run(["retention_curve"])
    assert (result.status, result.windows) == ("ok", 1), result.error
    assert curve(runner) == EXPECTED
    # The export grows: u2 used the product on 02-20 (week 5). Nothing reported changes, and
    # the incremental report (window final, not recomputed) equals a full recomputation.
    (exports / "activity.csv").write_text(ACTIVITY + "u2,2026-02-20,1,1\n")
    runner.run(["retention_curve"])
    assert curve(runner) == EXPECTED
    runner.run(["retention_curve"], full=True)
    assert curve(runner) == EXPECTED
