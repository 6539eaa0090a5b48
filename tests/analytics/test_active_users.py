"""Who is active in community health: opened a room, posted, reacted, voted or reported.
Taking a reaction back is not reacting: it does not make a user active (as leaving a room
does not), so DAU/WAU/MAU agree with the churn segments, the funnel and the journey, which
never counted it either. Answers worked out by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, SENT, at


def test_removing_a_reaction_is_not_activity(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\np,2025-12-01T00:00:00Z,,\nr,2025-12-01T00:00:00Z,,\n"
    )
    (exports / "activity.csv").write_text("user_id,date,sessions,minutes\n")
    (exports / "contexts.csv").write_text("context_id,kind,title,starts_at,ends_at\n")
    e = new_event
    write_warehouse([
        e(T.ROOM_JOINED, user_id="p", room_id="team:x", occurred_at=at(1, 5, 12)),
        e(T.MESSAGE_SENT, user_id="p", room_id="team:x", occurred_at=at(1, 5, 12, 5),
          message_id="m1", payload={"text": "hi", **SENT}),
        e(T.REACTION_ADDED, user_id="r", room_id="team:x", occurred_at=at(1, 6, 9),
          message_id="m1", payload={"emoji": "🔥"}),
        # r's only event after the 6th: the reaction taken back eight days later.
        e(T.REACTION_REMOVED, user_id="r", room_id="team:x", occurred_at=at(1, 14, 9),
          message_id="m1", payload={"emoji": "🔥"}),
        e(T.MESSAGE_SENT, user_id="p", room_id="team:x", occurred_at=at(1, 14, 10),
          message_id="m2", payload={"text": "again", **SENT}),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    [result] = runner.run(["community_health"])
    assert result.status == "ok", result.error

    df = pl.read_parquet(runner.reports_root / "community_health" / "*.parquet")
    got = {
        r[0]: r[1:]
        for r in df.select("day", "dau", "wau", "mau", "posters", "poster_share",
                           "stickiness").rows()
    }  # fmt: skip
    # Active days: p on the 5th and 14th, r on the 6th only.
    assert got[date(2026, 1, 6)] == (1, 2, 2, 0, 0.0, 0.5)  # r; the week 5th..6th: p, r
    # The 14th: p alone (dau 1, posted); the week 8th..14th: p only (r's last active day is
    # the 6th); the month from the 5th: p and r. Stickiness 1 / 2, poster share 1 / 1.
    assert got[date(2026, 1, 14)] == (1, 1, 2, 1, 1.0, 0.5)
    assert got[date(2026, 1, 13)][:3] == (0, 0, 2)  # the week 7th..13th: nobody active
