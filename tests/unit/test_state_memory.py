"""What the projection keeps in memory: reads store nothing, and per-(room, user) and
per-message side tables are bounded (docs/event-log.md, "Memory")."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import msgspec

from service.domain import state as state_module
from service.domain.events import EventType, new_event
from service.domain.rooms import RoomMode, RoomSettings
from service.domain.state import CommunityState
from service.protocol.http import RoomConfigIn

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _state(**kw) -> CommunityState:
    return CommunityState(
        {"match": RoomSettings(max_message_length=300), "team": RoomSettings(slow_mode_seconds=7)},
        history_size={"match": 3},
        **kw,
    )


def _apply(state: CommunityState, event_type: EventType, seq: int, **kw):
    e = new_event(event_type, user_id=kw.pop("user_id", "u1"), room_id=kw.pop("room_id", "match:1"), **kw)
    e.seq = seq
    state.apply(e)
    return e


def _send(state: CommunityState, seq: int, mid: str, *, at: datetime = T0, **kw):
    payload = {"text": "hi", "visibility": "public", **kw.pop("payload", {})}
    return _apply(state, EventType.MESSAGE_SENT, seq, message_id=mid, payload=payload, occurred_at=at, **kw)


# -- 1. reading a room stores nothing ------------------------------------------------------


def test_reading_an_unseen_room_stores_nothing_and_answers_its_kinds_defaults():
    state = _state()
    room = state.room("team:never-used")
    assert state.rooms == {}
    assert room.room_id == "team:never-used" and room.kind == "team"
    assert room.settings == RoomSettings(slow_mode_seconds=7) and room.pinned_message_id is None
    assert not room.closed_by_admin and room.last_seq == 0
    # a fresh default each time: nothing read is shared with the policy or kept
    room.settings.slow_mode_seconds = 99
    assert state.room("team:never-used").settings.slow_mode_seconds == 7
    assert state._policies["team"].slow_mode_seconds == 7
    assert state.rooms == {}


def test_an_event_creates_the_room_and_reads_then_see_the_stored_one():
    state = _state()
    _apply(state, EventType.ROOM_MODE_CHANGED, 1, room_id="team:a", payload={
        "mode": "closed", "slow_mode_seconds": 3, "max_message_length": 50, "cause": "admin"})
    _send(state, 2, "m1", room_id="match:1")
    _apply(state, EventType.MESSAGE_PINNED, 3, room_id="match:2", message_id="m9", payload={"pinned": True})
    assert sorted(state.rooms) == ["match:1", "match:2", "team:a"]
    assert state.room("team:a") is state.rooms["team:a"]
    assert state.room("team:a").settings.mode is RoomMode.CLOSED and state.room("team:a").closed_by_admin
    assert state.room("match:2").pinned_message_id == "m9"
    assert state.room("match:1").last_seq == 2


# -- 2. side tables of messages ------------------------------------------------------------


def test_reading_reactions_and_reporters_inserts_nothing():
    state = _state()
    _send(state, 1, "m1")
    assert state.reactions_by("m1", "u1") == []
    assert state.reactions.get("nope", {}).get("x", set()) == set()
    assert list(state.reported_awaiting()) == []
    for table in (state.reactions, state.reporters):
        assert not isinstance(table, defaultdict)
        try:
            table["never"]
        except KeyError:
            pass
        else:  # pragma: no cover - the failure being shown
            raise AssertionError("a read of a missing key made an entry")
    assert state.reactions == {} and state.reporters == {}


def test_report_times_leave_with_the_message_index():
    """``reported_at`` is read only for messages in the index (the review queue's ``since``):
    it goes when its message leaves the index. The reporters stay (a report of an older message
    is still refused once, and a history page read from the log still marks it reported)."""
    state = _state(message_index_size=2)
    for i in range(2):
        _send(state, i + 1, f"m{i}")
    _apply(state, EventType.MESSAGE_REPORTED, 3, message_id="m0", user_id="r1", payload={"hide": False})
    assert [m for m, _, _ in state.reported_awaiting()] == ["m0"]
    _send(state, 4, "m2")  # m0 leaves the index
    assert "m0" not in state.messages
    assert "m0" not in state.reported_at
    assert state.reporters["m0"] == {"r1"}


def test_reactions_of_messages_older_than_the_index_are_kept():
    """History pages and single-message reads of messages older than the index (read from the
    log) show their counts from here, and reacting to one goes on from its counts: not trimmed."""
    state = _state(message_index_size=1)
    _send(state, 1, "m0")
    _apply(state, EventType.REACTION_ADDED, 2, message_id="m0", user_id="u2", payload={"emoji": "⚽"})
    _send(state, 3, "m1")
    assert "m0" not in state.messages
    assert state.reactions["m0"] == {"⚽": {"u2"}}


# -- 3. last posts -------------------------------------------------------------------------


def test_longest_slow_mode_is_what_the_api_accepts():
    msgspec.convert({"slow_mode_seconds": state_module.LONGEST_SLOW_MODE_SECONDS}, RoomConfigIn)
    try:
        msgspec.convert({"slow_mode_seconds": state_module.LONGEST_SLOW_MODE_SECONDS + 1}, RoomConfigIn)
    except msgspec.ValidationError:
        pass
    else:  # pragma: no cover
        raise AssertionError(f"the API accepts a slow mode past {state_module.LONGEST_SLOW_MODE_SECONDS}")


def test_last_posts_older_than_the_longest_slow_mode_are_swept():
    state = _state()
    horizon = state.last_post_horizon
    assert horizon >= timedelta(seconds=state_module.LONGEST_SLOW_MODE_SECONDS)
    old = 5_000
    for i in range(old):  # one post each of many users, long ago
        _send(state, i + 1, f"old{i}", user_id=f"u{i}", at=T0)
    assert len(state.last_post) == old
    later = T0 + horizon + timedelta(seconds=1)
    for i in range(old):  # then others post, past the horizon
        _send(state, old + i + 1, f"new{i}", user_id=f"v{i % 100}", at=later)
    assert all(at == later for at in state.last_post.values())
    assert len(state.last_post) == 100


def test_last_posts_inside_the_horizon_are_kept():
    state = _state()
    horizon = state.last_post_horizon
    for i in range(5_000):
        _send(state, i + 1, f"m{i}", user_id=f"u{i}", at=T0 + i * (horizon - timedelta(seconds=1)) / 5_000)
    assert len(state.last_post) == 5_000  # all still within the longest slow mode


def test_the_horizon_covers_a_longer_policy_and_a_longer_slow_mode_in_the_log():
    state = CommunityState({"match": RoomSettings(slow_mode_seconds=2 * state_module.LONGEST_SLOW_MODE_SECONDS)})
    assert state.last_post_horizon > timedelta(seconds=2 * state_module.LONGEST_SLOW_MODE_SECONDS)
    state = _state()
    _apply(state, EventType.ROOM_MODE_CHANGED, 1, payload={
        "mode": "open", "slow_mode_seconds": 3 * state_module.LONGEST_SLOW_MODE_SECONDS, "max_message_length": 50})
    assert state.last_post_horizon > timedelta(seconds=3 * state_module.LONGEST_SLOW_MODE_SECONDS)


# -- recent history: bounded across rooms ---------------------------------------------------


def _histories(state: CommunityState) -> dict[str, list[str]]:
    return {room: [e.message_id for e in h] for room, h in state.history.items()}


def test_history_past_the_budget_lets_go_of_the_rooms_idle_the_longest():
    state = _state(history_budget=5)  # match rooms keep 3 messages, other kinds 100
    _send(state, 1, "a1", room_id="match:a")
    _send(state, 2, "b1", room_id="match:b")
    _send(state, 3, "a2", room_id="match:a")
    _send(state, 4, "c1", room_id="team:c")
    _send(state, 5, "c2", room_id="team:c")
    assert state.history_held == 5 and state.history_complete("match:b")
    _send(state, 6, "c3", room_id="team:c")  # 6 > 5: match:b had its message longest ago
    assert _histories(state) == {"match:a": ["a1", "a2"], "team:c": ["c1", "c2", "c3"]}
    assert state.history_held == 5
    assert not state.history_complete("match:b")  # its pages read the log now
    assert state.history_complete("match:a") and state.recent("match:b") == []
    _send(state, 7, "b2", room_id="match:b")  # it comes back with its new messages only
    assert _histories(state) == {"team:c": ["c1", "c2", "c3"], "match:b": ["b2"]}
    assert not state.history_complete("match:b") and not state.history_complete("match:a")
    assert state.history_held == 4


def test_a_full_window_moves_no_count_and_deletes_give_room_back():
    state = _state(history_budget=4)
    for i in range(5):  # a full match window: 3 held, older ones trimmed by the window
        _send(state, i + 1, f"a{i}", room_id="match:a")
    assert state.history_held == 3 and _histories(state) == {"match:a": ["a2", "a3", "a4"]}
    _apply(state, EventType.MESSAGE_DELETED, 6, room_id="match:a", message_id="a3")
    assert state.history_held == 2
    _send(state, 7, "b1", room_id="match:b")
    _send(state, 8, "b2", room_id="match:b")
    assert state.history_held == 4 and set(state.history) == {"match:a", "match:b"}


def test_one_window_larger_than_the_budget_is_kept_whole():
    state = _state(history_budget=2)
    for i in range(3):
        _send(state, i + 1, f"a{i}", room_id="match:a")
    assert _histories(state) == {"match:a": ["a0", "a1", "a2"]} and state.history_held == 3


def test_the_budget_is_the_same_for_a_rebuilt_state():
    served, rebuilt, events = _state(history_budget=7), _state(history_budget=7), []
    for i in range(40):
        events.append(_send(served, i + 1, f"m{i}", room_id=f"match:{i * 7 % 5}"))
    rebuilt.apply_all(events)
    assert rebuilt.snapshot() == served.snapshot() and rebuilt.history_truncated == served.history_truncated
    assert served.history_held == sum(len(h) for h in served.history.values()) <= 7


def test_the_count_follows_every_change_of_history():
    import random

    rng, state, sent = random.Random(7), _state(history_budget=20), []
    for seq in range(1, 2_000):
        room = f"{rng.choice(['match', 'team'])}:{rng.randrange(6)}"
        roll = rng.random()
        if roll < 0.6 or not sent:
            e = _send(state, seq, f"m{seq}", room_id=room, at=T0 + timedelta(seconds=seq),
                      payload={"visibility": rng.choice(["public", "public", "held"])})  # fmt: skip
            sent.append(e)
        else:
            target = rng.choice(sent)
            kind = rng.choice([EventType.MESSAGE_DELETED, EventType.MESSAGE_REPORTED, EventType.MESSAGE_APPROVED])
            payload = {"hide": True} if kind is EventType.MESSAGE_REPORTED else {"decision": "approve"}
            _apply(state, kind, seq, room_id=target.room_id, message_id=target.message_id,
                   user_id=f"r{seq}", payload=payload)  # fmt: skip
        assert state.history_held == sum(len(h) for h in state.history.values())
        assert state.history_held <= 20 or len(state.history) == 1


def test_a_user_who_left_every_room_takes_no_memory():
    state = _state()
    _apply(state, EventType.ROOM_JOINED, 1, user_id="u1", room_id="match:1")
    _apply(state, EventType.ROOM_JOINED, 2, user_id="u1", room_id="match:2")
    _apply(state, EventType.ROOM_LEFT, 3, user_id="u1", room_id="match:1")
    assert state.memberships == {"u1": {"match:2"}}
    _apply(state, EventType.ROOM_LEFT, 4, user_id="u1", room_id="match:2")
    _apply(state, EventType.ROOM_LEFT, 5, user_id="u2", room_id="match:2")  # never joined
    assert dict(state.memberships) == {}
