"""A small hand-built world whose report answers are worked out by hand in the tests.

Cohort period 2026-01-05 .. 2026-01-19 (a grid Monday, two weeks). Users a..h are in the users
export, x only appears in events. Segments: a weekly poster, b occasional poster, c reactor,
d and h lurkers, e and f never opened, g held out. Strata (2 halves of pre-period sessions):
{e, d, h, c} and {f, b, a}.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.demo import write_warehouse
from analytics.runner import Runner
from analytics.settings import AnalyticsSettings
from service.domain.events import EventType as T
from service.domain.events import new_event

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def at(month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


SENT = {"client_msg_id": "c", "visibility": "public", "masked": False, "reply_to": None,
        "role": "user"}  # fmt: skip
"""The payload fields of a public message_sent event besides its text."""


def two_user_exports(tmp_path: Path, contexts: str) -> Path:
    """Product exports of two users (u1 active on 6 January 2026) and the contexts given as CSV
    rows after the header; returns their folder."""
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "users.csv").write_text(
        "user_id,signed_up_at,plan,country\n"
        "u1,2025-12-01T00:00:00Z,,\nu2,2025-12-01T00:00:00Z,,\n"
    )
    (exports / "activity.csv").write_text("user_id,date,sessions,minutes\nu1,2026-01-06,1,3\n")
    (exports / "contexts.csv").write_text("context_id,kind,title,starts_at,ends_at,viewers\n" + contexts)
    return exports


def golden_events() -> list:
    e = new_event
    sent = SENT
    return [
        e(T.EXPOSURE_ASSIGNED, user_id="g", room_id="team:x", occurred_at=at(1, 5, 9),
          payload={"group": "holdout", "unit": "user"}),
        e(T.EXPOSURE_ASSIGNED, user_id="a", room_id="match:1", occurred_at=at(1, 6, 12),
          payload={"group": "exposed", "unit": "user"}),
        e(T.MESSAGE_SENT, user_id="a", room_id="match:1", occurred_at=at(1, 6, 12, 5),
          message_id="m1", payload={"text": "hi", **sent}),
        e(T.MESSAGE_REPORTED, user_id="b", room_id="match:1", occurred_at=at(1, 6, 13),
          message_id="m1", payload={"reason": "abuse", "report_id": "r1"}),
        e(T.MESSAGE_SENT, user_id="b", room_id="team:x", occurred_at=at(1, 7, 9),
          message_id="m2", payload={"text": "yo", **sent}),
        e(T.MESSAGE_APPROVED, user_id="a", room_id="match:1", occurred_at=at(1, 7, 13),
          message_id="m1", actor_id="mod", payload={"decision": "reject", "source": "report"}),
        e(T.REACTION_ADDED, user_id="c", room_id="team:x", occurred_at=at(1, 8, 10),
          message_id="m2", payload={"emoji": "🔥"}),
        e(T.MESSAGE_MODERATED, user_id="c", room_id="team:x", occurred_at=at(1, 8, 11),
          message_id="m5", payload={"action": "block", "score": 1.0, "reasons": [
              {"check": "links", "code": "scam", "score": 1.0, "detail": ""}], "checks_ms": {}}),
        e(T.EXPOSURE_ASSIGNED, user_id="h", room_id="match:2", occurred_at=at(1, 9, 18, 2),
          payload={"group": "exposed", "unit": "user"}),
        e(T.ROOM_JOINED, user_id="d", room_id="match:2", occurred_at=at(1, 9, 18, 1)),
        e(T.ROOM_JOINED, user_id="h", room_id="match:2", occurred_at=at(1, 9, 18, 2)),
        e(T.ROOM_JOINED, user_id="x", room_id="match:2", occurred_at=at(1, 9, 18, 3)),
        e(T.REACTION_ADDED, user_id="x", room_id="match:2", occurred_at=at(1, 9, 18, 30),
          message_id="goal", payload={"emoji": "⚽"}),
        e(T.REACTION_ADDED, user_id="x", room_id="match:2", occurred_at=at(1, 9, 18, 30, 30),
          message_id="goal", payload={"emoji": "⚽"}),
        e(T.REACTION_ADDED, user_id="x", room_id="match:2", occurred_at=at(1, 9, 18, 45),
          message_id="goal", payload={"emoji": "⚽"}),
        e(T.MESSAGE_SENT, user_id="a", room_id="team:x", occurred_at=at(1, 13, 9),
          message_id="m3", payload={"text": "[email]", **sent, "masked": True}),
        e(T.MESSAGE_MODERATED, user_id="a", room_id="team:x", occurred_at=at(1, 13, 9),
          message_id="m3", payload={"action": "mask", "score": 0.7, "reasons": [
              {"check": "pii", "code": "email", "score": 0.7, "detail": ""}], "checks_ms": {}}),
        e(T.MESSAGE_SENT, user_id="a", room_id="team:x", occurred_at=at(1, 13, 10),
          message_id="m4", payload={"text": "****", **sent, "visibility": "held"}),
        e(T.MESSAGE_MODERATED, user_id="a", room_id="team:x", occurred_at=at(1, 13, 10),
          message_id="m4", payload={"action": "hold", "score": 0.8, "reasons": [
              {"check": "blocklist", "code": "profanity", "score": 0.8, "detail": ""},
              {"check": "pii", "code": "phone", "score": 0.5, "detail": ""}], "checks_ms": {}}),
        e(T.MESSAGE_APPROVED, user_id="a", room_id="team:x", occurred_at=at(1, 13, 10, 30),
          message_id="m4", actor_id="mod", payload={"decision": "approve", "source": "hold"}),
        e(T.ROOM_JOINED, user_id="x", room_id="team:x", occurred_at=at(1, 18, 12)),
    ]  # fmt: skip


PRE = {"a": 10, "b": 8, "c": 3, "d": 1, "f": 5, "h": 2, "g": 4}
PERIOD = {"a": 6, "b": 7, "c": 8, "d": 9, "e": 10, "f": 11, "g": 12, "h": 9}
AFTER = [("a", 1, 20), ("a", 2, 15), ("b", 2, 10), ("d", 1, 19), ("f", 1, 30), ("g", 1, 25)]


def write_golden_exports(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    users = ["user_id,signed_up_at,plan,country"]
    for u in "abcdeg h".replace(" ", ""):
        users.append(f"{u},2025-12-01T00:00:00Z,free,GB")
    users.append("f,2026-01-02T00:00:00+00:00,pro,DE")
    (folder / "users.csv").write_text("\n".join(users) + "\n")
    act = ["user_id,date,sessions,minutes"]
    act += [f"{u},2025-12-20,{n},{n * 3}.5" for u, n in PRE.items()]
    act += [f"{u},2026-01-{d:02d},1,4" for u, d in PERIOD.items()]
    act += [f"{u},2026-{m:02d}-{d:02d},1,2" for u, m, d in AFTER]
    act.append("e,2026-01-21,0,0")
    (folder / "activity.csv").write_text("\n".join(act) + "\n")
    (folder / "contexts.csv").write_text(
        "context_id,kind,title,starts_at,ends_at,viewers\n"
        "match:1,match,A v B,2026-01-06T12:00:00Z,2026-01-06T13:50:00Z,10\n"
        "match:2,match,C v D,2026-01-09T19:00:00+01:00,2026-01-09T20:50:00+01:00,\n"
        "team:x,team,Team X,2026-01-05T00:00:00Z,2026-01-20T00:00:00Z,\n"
    )
    (folder / "context_views.csv").write_text(
        "user_id,context_id,viewed_at,minutes\n"
        "d,match:2,2026-01-09T18:00:00Z,90\n"
        "h,match:2,2026-01-09T18:00:00Z,80\n"
        "e,match:2,2026-01-09T18:05:00Z,10\n"
    )


def golden_runner(root: Path) -> Runner:
    """A runner over the golden world written under ``root`` (strata = 2), not yet run."""
    write_golden_exports(root / "exports")
    write_warehouse(golden_events(), root / "warehouse", node_id="n1")
    settings = AnalyticsSettings(strata=2)
    return Runner(root / "warehouse", root / "exports", settings, clock=lambda: NOW,
                  progress=False)  # fmt: skip


@pytest.fixture()
def golden(tmp_path: Path) -> Runner:
    """A runner over the golden world, not yet run."""
    return golden_runner(tmp_path)
