"""Golden answers of the two report jobs the dashboards added: per-minute timelines and
retention curves, on a hand-built world run through the real runner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import SENT

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def events() -> list:
    e = new_event
    msg = lambda user, room, when: e(T.MESSAGE_SENT, user_id=user, room_id=room,  # noqa: E731
                                     occurred_at=when, payload={"text": "x", **SENT})
    react = lambda user, room, when: e(T.REACTION_ADDED, user_id=user, room_id=room,  # noqa: E731
                                       occurred_at=when, message_id="m", payload={"emoji": "⚽"})
    return [
        e(T.ROOM_JOINED, user_id="a", room_id="team:x", occurred_at=at(1, 5, 9)),
        msg("a", "team:x", at(1, 6)),  # cohort week 1
        msg("a", "team:x", at(1, 13)),  # cohort week 2: a posts weekly
        # match:1 runs 18:00-19:50 on 9 Jan; its room counts from 17:00 to 20:50.
        msg("z", "match:1", at(1, 9, 16, 55)),  # 65 minutes early: outside
        msg("z", "match:1", at(1, 9, 17, 10)),  # minute -50
        msg("z", "match:1", at(1, 9, 18, 30, 10)),  # minute 30
        react("y", "match:1", at(1, 9, 18, 30, 30)),
        react("x", "match:1", at(1, 9, 18, 30, 59)),
        e(T.POLL_VOTED, user_id="y", room_id="match:1", occurred_at=at(1, 9, 18, 45),
          payload={"poll_id": "p", "option": 0}),  # minute 45
        msg("z", "match:1", at(1, 9, 20, 49, 59)),  # minute 169, the last one counted
        msg("z", "match:1", at(1, 9, 20, 50)),  # the margin is half-open: outside
        msg("z", "match:2", at(1, 9, 18, 31)),  # another context's room
        react("a", "team:x", at(1, 20)),  # keeps the warehouse horizon past the period
    ]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("jobs")
    exports = root / "exports"
    exports.mkdir()
    pl.DataFrame({"user_id": ["a", "b", "c"], "signed_up_at": ["2025-12-01T00:00:00Z"] * 3,
                  "plan": ["free"] * 3, "country": ["GB"] * 3}).write_csv(exports / "users.csv")
    activity = [("a", "2026-01-06"), ("b", "2026-01-06"), ("c", "2026-01-07"),
                ("a", "2026-01-20"), ("a", "2026-02-03"),  # weeks 1 and 3 after the period
                ("b", "2026-01-27"), ("b", "2026-02-15")]  # weeks 2 and 4; c never again
    pl.DataFrame({"user_id": [u for u, _ in activity], "date": [d for _, d in activity],
                  "sessions": [1] * len(activity), "minutes": [5.0] * len(activity)}
                 ).write_csv(exports / "activity.csv")  # fmt: skip
    pl.DataFrame({"context_id": ["match:1", "match:2"], "kind": ["match", "match"],
                  "title": ["A v B", "C v D"],
                  "starts_at": ["2026-01-09T18:00:00Z", "2026-01-09T18:00:00Z"],
                  "ends_at": ["2026-01-09T19:50:00Z", "2026-01-09T19:50:00Z"],
                  "viewers": [10, 10]}).write_csv(exports / "contexts.csv")  # fmt: skip
    write_warehouse(events(), root / "warehouse")
    results = Runner(root / "warehouse", exports, clock=lambda: NOW, progress=False).run(
        ["engagement", "engagement_timeline", "retention_curve"])
    assert [r.status for r in results] == ["ok", "ok", "ok"], [r.error for r in results]
    return root / "warehouse" / "reports"


def test_engagement_timeline_minutes(ran: Path):
    t = pl.read_parquet(ran / "engagement_timeline" / "*.parquet").filter(
        pl.col("context_id") == "match:1")
    rows = t.select("minute", "messages", "reactions", "poll_votes", "interactions").rows()
    assert rows == [(-50, 1, 0, 0, 1), (30, 1, 2, 0, 3), (45, 0, 0, 1, 1), (169, 1, 0, 0, 1)]
    assert set(t["window"]) == {"2026-01-09"} and set(t["kind"]) == {"match"}
    other = pl.read_parquet(ran / "engagement_timeline" / "*.parquet").filter(
        pl.col("context_id") == "match:2")
    assert other.select("minute", "messages").rows() == [(31, 1)]
    engagement = pl.read_parquet(ran / "engagement" / "*.parquet").filter(
        pl.col("context_id") == "match:1").row(0, named=True)
    assert (engagement["messages"], engagement["reactions"], engagement["poll_votes"]) == (
        int(t["messages"].sum()), int(t["reactions"].sum()), int(t["poll_votes"].sum()))
    assert engagement["peak_minute"] == 30


def test_retention_curve_weeks(ran: Path):
    curve = pl.read_parquet(ran / "retention_curve" / "*.parquet").sort("segment_order", "week")
    assert set(curve["window"]) == {"2026-01-05"}
    got = curve.select("segment", "week", "users", "active").rows()
    assert got == [
        ("weekly_posters", 1, 1, 1), ("weekly_posters", 2, 1, 0), ("weekly_posters", 3, 1, 1),
        ("weekly_posters", 4, 1, 0),
        ("never_opened", 1, 2, 0), ("never_opened", 2, 2, 1), ("never_opened", 3, 2, 0),
        ("never_opened", 4, 2, 1),
    ]
    week2 = curve.filter((pl.col("segment") == "never_opened") & (pl.col("week") == 2)).row(0, named=True)
    assert week2["active_share"] == 0.5
    assert week2["active_share_low"] == pytest.approx(0.0945, abs=1e-4)  # Wilson, 1 of 2
    assert week2["active_share_high"] == pytest.approx(0.9055, abs=1e-4)
