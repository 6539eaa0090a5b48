"""A context that started before the community's first event day but whose timeline reaches
into it is reported: a match kicking off at 23:50 the evening before the first event, a team
room whose season began before the launch. Its room's events are community history like any
other (docs/analytics.md: one row per context of the contexts export). Only days whose
contexts' timelines (end + margin) all ended before the first event day are skipped, with the
note saying so. Answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, SENT, at, two_user_exports


def test_contexts_started_before_the_first_event_day(tmp_path: Path) -> None:
    exports = two_user_exports(tmp_path, (
        # Kick-off 10 minutes before midnight; the first event comes at 00:05 (minute 15).
        "match:late,match,Late,2026-01-04T23:50:00Z,2026-01-05T01:40:00Z,20\n"
        # A season-long team room that began a week before the launch.
        "team:s,team,Season,2025-12-29T00:00:00Z,2026-03-01T00:00:00Z,\n"
        # A match over two days before the first event day: no community history.
        "match:old,match,Old,2026-01-02T21:00:00Z,2026-01-02T22:30:00Z,5\n"
        # A match ending exactly the margin before the first event day: none either.
        "match:edge,match,Edge,2026-01-03T20:00:00Z,2026-01-04T23:00:00Z,5\n"
    ))  # fmt: skip
    e = new_event
    write_warehouse([
        e(T.ROOM_JOINED, user_id="u1", room_id="match:late", occurred_at=at(1, 5, 0, 5)),
        e(T.MESSAGE_SENT, user_id="u1", room_id="match:late", occurred_at=at(1, 5, 0, 6),
          message_id="a", payload={"text": "x", **SENT}),
        e(T.MESSAGE_SENT, user_id="u2", room_id="team:s", occurred_at=at(1, 6, 9),
          message_id="b", payload={"text": "y", **SENT}),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    results = {r.job: r for r in runner.run(["engagement", "engagement_daily"])}
    assert all(r.status == "ok" for r in results.values()), results

    rows = pl.read_parquet(runner.reports_root / "engagement" / "*.parquet")
    got = rows.sort("context_id").select("window", "context_id", "openers", "messages",
                                         "peak_minute").rows()  # fmt: skip
    assert got == [
        ("2026-01-04", "match:late", 1, 1, 16),
        ("2025-12-29", "team:s", 0, 1, 8 * 1440 + 9 * 60),
    ]
    daily = pl.read_parquet(runner.reports_root / "engagement_daily" / "*.parquet")
    assert daily.filter(pl.col("messages") > 0).select("context_id", "day").sort("day").rows() == [
        ("match:late", at(1, 5).date()), ("team:s", at(1, 6).date())]  # fmt: skip
    notes = results["engagement"].notes
    assert ("window *: skipped: 2 days of contexts end before the first event day (2026-01-05), "
            "timeline margin included; they have no community history") in notes
