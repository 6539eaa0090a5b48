"""Engagement counts the events of a context's room: a user whose token's ``ctx`` is another
context (who reached the room through the token's per-room ``roles``) still counts for the room
they acted in, not for the context they came from. Answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, SENT, at, two_user_exports


def test_events_count_for_the_room_they_happened_in(tmp_path: Path) -> None:
    # The match and the dashboard page that u1's token is for run at the same time.
    exports = two_user_exports(tmp_path, (
        "m:1,match,final,2026-01-06T12:00:00Z,2026-01-06T13:00:00Z,10\n"
        "d:1,dashboard,home,2026-01-06T12:00:00Z,2026-01-06T13:00:00Z,10\n"
    ))
    e = new_event
    from_d1 = {"room_id": "m:1", "context_id": "d:1"}  # u1's token: ctx d:1, roles for m:1
    write_warehouse([
        e(T.ROOM_JOINED, user_id="u1", occurred_at=at(1, 6, 12, 1), **from_d1),
        e(T.MESSAGE_SENT, user_id="u1", occurred_at=at(1, 6, 12, 2), message_id="a",
          payload={"text": "x", **SENT}, **from_d1),
        e(T.MESSAGE_MODERATED, user_id="u1", occurred_at=at(1, 6, 12, 2), message_id="a",
          payload={"action": "mask", "score": 0.9, "reasons": []}, **from_d1),
        e(T.REACTION_ADDED, user_id="u1", occurred_at=at(1, 6, 12, 3), message_id="b",
          payload={"emoji": "⚽"}, **from_d1),
        e(T.ROOM_JOINED, user_id="u2", room_id="m:1", occurred_at=at(1, 6, 12, 1)),
        e(T.MESSAGE_SENT, user_id="u2", room_id="m:1", occurred_at=at(1, 6, 12, 3),
          message_id="b", payload={"text": "y", **SENT}),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    results = runner.run(["engagement", "engagement_timeline"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]

    counts = ["openers", "posters", "messages", "reactions", "moderated", "peak_minute",
              "peak_interactions"]  # fmt: skip
    rows = pl.read_parquet(runner.reports_root / "engagement" / "*.parquet")
    got = {r[0]: r[1:] for r in rows.select("context_id", *counts).rows()}
    assert got == {"m:1": (2, 2, 2, 1, 1, 3, 2), "d:1": (0, 0, 0, 0, 0, None, None)}

    timeline = pl.read_parquet(runner.reports_root / "engagement_timeline" / "*.parquet")
    assert timeline.select("context_id", "minute", "messages", "reactions").sort("minute").rows() == [
        ("m:1", 2, 1, 0),
        ("m:1", 3, 1, 1),
    ]
