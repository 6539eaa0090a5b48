"""Engagement rates whose denominator is zero: a context without viewers or without duration
has no rate (null), not ``inf``. Answers worked out by hand."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event
from tests.analytics.conftest import NOW, SENT, at, two_user_exports


def test_zero_viewers_and_zero_duration_give_null_rates(tmp_path: Path) -> None:
    # m:0 and d:1 last no time and have no viewers; m:1 runs ten minutes before four viewers.
    exports = two_user_exports(tmp_path, (
        "m:0,match,zero,2026-01-06T12:00:00Z,2026-01-06T12:00:00Z,0\n"
        "m:1,match,ten,2026-01-06T12:00:00Z,2026-01-06T12:10:00Z,4\n"
        "d:1,dashboard,zero,2026-01-06T15:00:00Z,2026-01-06T15:00:00Z,0\n"
    ))
    e = new_event
    msg = lambda user, room, when: e(T.MESSAGE_SENT, user_id=user, room_id=room,  # noqa: E731
                                     occurred_at=when, payload={"text": "x", **SENT})
    write_warehouse([
        e(T.ROOM_JOINED, user_id="u1", room_id="m:0", occurred_at=at(1, 6, 11, 59)),
        msg("u1", "m:0", at(1, 6, 12)),
        e(T.ROOM_JOINED, user_id="u2", room_id="m:1", occurred_at=at(1, 6, 12, 1)),
        msg("u2", "m:1", at(1, 6, 12, 2)),
        e(T.REACTION_ADDED, user_id="u1", room_id="m:1", occurred_at=at(1, 6, 12, 3),
          message_id="m", payload={"emoji": "⚽"}),
        e(T.ROOM_JOINED, user_id="u1", room_id="d:1", occurred_at=at(1, 6, 15)),
        msg("u1", "d:1", at(1, 6, 15)),
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    results = runner.run(["engagement", "engagement_kind"])
    assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]

    rates = ["opened_share", "interactions_per_viewer", "messages_per_minute",
             "reactions_per_minute"]  # fmt: skip
    per_context = pl.read_parquet(runner.reports_root / "engagement" / "*.parquet")
    got = {r[0]: r[1:] for r in per_context.select("context_id", *rates).rows()}
    assert got == {
        "m:0": (None, None, None, None),  # 1 opener / 0 viewers, 1 message / 0 minutes
        "m:1": (0.25, 0.5, 0.1, 0.1),  # 1 / 4, (1 + 1) / 4, 1 / 10, 1 / 10
        "d:1": (None, None, None, None),
    }

    kinds = pl.read_parquet(runner.reports_root / "engagement_kind" / "*.parquet")
    got = {r[0]: r[1:] for r in kinds.select("kind", "viewers", "minutes", "opened_share",
                                             "messages_per_minute", "reactions_per_minute",
                                             "messages_per_context").rows()}  # fmt: skip
    assert got == {
        # match: 2 openers over 0 + 4 viewers, 2 messages and 1 reaction over 0 + 10 minutes
        "match": (4, 10.0, 0.5, 0.2, 0.1, 1.0),
        # dashboard: 1 opener over 0 viewers, 1 message over 0 minutes
        "dashboard": (0, 0.0, None, None, None, 1.0),
    }


def test_durations_keep_their_fractions_of_a_second(tmp_path: Path) -> None:
    """A context's minutes were counted from whole seconds: 90.6 s read as 1.5 minutes, and a
    context of half a second as none at all (its rates null, as if it lasted no time)."""
    exports = two_user_exports(tmp_path, (
        "m:1,match,long,2026-01-06T12:00:00Z,2026-01-06T12:01:30.600Z,4\n"
        "m:2,match,blink,2026-01-06T13:00:00Z,2026-01-06T13:00:00.500Z,4\n"
    ))
    write_warehouse([
        new_event(T.MESSAGE_SENT, user_id="u1", room_id=room, occurred_at=when,
                  payload={"text": "x", **SENT})
        for room, when in (("m:1", at(1, 6, 12, 1)), ("m:2", at(1, 6, 13)))
    ], tmp_path / "warehouse")  # fmt: skip
    runner = Runner(tmp_path / "warehouse", exports, AnalyticsSettings(), clock=lambda: NOW,
                    progress=False)  # fmt: skip
    [result] = runner.run(["engagement"])
    assert result.status == "ok", result.error
    per_context = pl.read_parquet(runner.reports_root / "engagement" / "*.parquet")
    got = {r[0]: r[1:] for r in per_context.select(
        "context_id", "duration_minutes", "messages_per_minute").rows()}  # fmt: skip
    assert got["m:1"] == (pytest.approx(90.6 / 60), pytest.approx(60 / 90.6))
    assert got["m:2"] == (pytest.approx(0.5 / 60), pytest.approx(120.0))
