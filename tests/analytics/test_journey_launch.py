"""The journey's totals: every signup, and the signups from the week the community launched on.
Answers worked out by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, at


def test_since_launch_counts_the_signups_from_the_launch_week(tmp_path: Path) -> None:
    # The first event is on Tuesday 6 January 2026: the launch week starts Monday 5 January.
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\n"
        "u1,2025-12-01T12:00:00Z,,\n"  # long before: waited for the launch
        "u4,2026-01-05T08:00:00Z,,\n"  # the launch week, a day before the first event
        "u2,2026-01-07T00:00:00Z,,\n"
        "u3,2026-01-08T00:00:00Z,,\n"  # never opens a room
    )
    (exports / "activity.csv").write_text("user_id,date,sessions,minutes\nu2,2026-01-08,1,3\n")
    (exports / "contexts.csv").write_text(
        "context_id,kind,title,starts_at,ends_at,viewers\n"
        "m:1,match,final,2026-01-06T12:00:00Z,2026-01-06T13:00:00Z,10\n"
    )
    write_warehouse([
        new_event(T.ROOM_JOINED, user_id="u1", room_id="m:1", occurred_at=at(1, 6, 12)),
        new_event(T.ROOM_JOINED, user_id="u4", room_id="m:1", occurred_at=at(1, 6, 12)),
        new_event(T.ROOM_JOINED, user_id="u2", room_id="m:1", occurred_at=at(1, 9, 12)),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    [result] = runner.run(["journey"])
    assert result.status == "ok", result.error
    df = pl.read_parquet(runner.reports_root / "journey" / "*.parquet")
    totals = {r["scope"]: r for r in df.filter(pl.col("signup_week").is_null()).iter_rows(named=True)}
    u4, u2 = 1 + 4 / 24, 2.5  # days from signup to the first open (u1: 36.5)
    since = totals["since_launch"]
    assert (since["signups"], since["opened"], since["opened_within_7_days"]) == (3, 2, 2)
    assert since["days_to_open_median"] == pytest.approx((u4 + u2) / 2)
    everyone = totals["all"]
    assert (everyone["signups"], everyone["opened"], everyone["opened_within_7_days"]) == (4, 3, 2)
    assert everyone["days_to_open_median"] == pytest.approx(u2)
    assert set(df["launch_week"]) == {date(2026, 1, 5)}
    weeks = df.filter(pl.col("scope") == "week").sort("signup_week")
    assert weeks.select("signup_week", "signups").rows() == [
        (date(2025, 12, 1), 1), (date(2025, 12, 8), 0), (date(2025, 12, 15), 0),
        (date(2025, 12, 22), 0), (date(2025, 12, 29), 0), (date(2026, 1, 5), 3),
    ]
