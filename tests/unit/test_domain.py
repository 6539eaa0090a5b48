import uuid
from datetime import UTC, datetime, timedelta

from service.domain.events import EventType, new_event, uuid7
from service.domain.rooms import RoomSettings, room_kind
from service.domain.state import CommunityState


def test_uuid7_is_version_7_and_time_ordered():
    a = uuid7(datetime(2026, 1, 1, tzinfo=UTC))
    b = uuid7(datetime(2026, 1, 2, tzinfo=UTC))
    assert uuid.UUID(a).version == 7 and uuid.UUID(a).variant == uuid.RFC_4122
    assert a < b


def test_uuid7_text_is_canonical_and_carries_the_milliseconds():
    at = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)
    for _ in range(200):
        text = uuid7(at)
        parsed = uuid.UUID(text)
        assert text == str(parsed)  # lower-case 8-4-4-4-12, zero-padded
        assert parsed.int >> 80 == int(at.timestamp() * 1000)


def test_room_kind_syntax():
    assert room_kind("match:123") == "match"
    assert room_kind("team:arsenal-fc") == "team"
    for bad in ("match", ":1", "Match:1", "match:", "match:a b", "x" * 40 + ":1", "match:1\n"):
        assert room_kind(bad) is None


def _state():
    return CommunityState({"match": RoomSettings()}, history_size={"match": 3})


def _apply(state, event_type, seq, **kw):
    e = new_event(event_type, room_id=kw.pop("room_id", "match:1"), **kw)
    e.seq = seq
    state.apply(e)
    return e


def test_history_is_bounded_and_deletions_forget():
    s = _state()
    for i in range(1, 6):
        _apply(s, EventType.MESSAGE_SENT, i, user_id="u", message_id=f"m{i}", payload={"text": "x", "visibility": "public"})
    assert [e.message_id for e in s.recent("match:1")] == ["m3", "m4", "m5"]
    assert not s.history_complete("match:1")
    _apply(s, EventType.MESSAGE_DELETED, 6, user_id="u", message_id="m4", payload={})
    assert [e.message_id for e in s.recent("match:1")] == ["m3", "m5"]
    assert s.messages["m4"].deleted


def test_timed_restrictions_lapse_by_time():
    s = _state()
    now = datetime.now(UTC)
    until = (now + timedelta(minutes=5)).isoformat()
    _apply(s, EventType.USER_MUTED, 1, user_id="u", payload={"until": until, "scope": "room"})
    assert s.restriction("mute", "match:1", "u", now) is not None
    assert s.restriction("mute", "match:1", "u", now + timedelta(minutes=6)) is None
    _apply(s, EventType.USER_BANNED, 2, user_id="v", room_id="match:9", payload={"until": None, "scope": "global"})
    assert s.restriction("ban", "match:1", "v", now) is not None  # global reaches every room
    _apply(s, EventType.USER_UNBANNED, 3, user_id="v", room_id="match:9", payload={"scope": "global"})
    assert s.restriction("ban", "match:1", "v", now) is None


def test_one_vote_per_user_even_if_the_log_had_two():
    s = _state()
    _apply(s, EventType.POLL_CREATED, 1, user_id="m", payload={"poll_id": "p", "question": "q", "options": ["a", "b"]})
    _apply(s, EventType.POLL_VOTED, 2, user_id="u", payload={"poll_id": "p", "option": 0})
    _apply(s, EventType.POLL_VOTED, 3, user_id="u", payload={"poll_id": "p", "option": 1})
    assert s.polls["p"].results() == [1, 0]


def test_a_logged_vote_for_no_option_of_its_poll_counts_for_none():
    """The service never writes one, but a log is a file (imports, older versions): a vote for
    an option the poll does not have is not counted, and does not take the user's one vote, nor
    break the results (an index past the end raised; a negative one counted for the last)."""
    s = _state()
    _apply(s, EventType.POLL_CREATED, 1, user_id="mod", payload={"poll_id": "p", "question": "q", "options": ["a", "b", "c"]})
    _apply(s, EventType.POLL_VOTED, 2, user_id="u1", payload={"poll_id": "p", "option": 3})
    _apply(s, EventType.POLL_VOTED, 3, user_id="u2", payload={"poll_id": "p", "option": -1})
    _apply(s, EventType.POLL_VOTED, 4, user_id="u1", payload={"poll_id": "p", "option": 1})
    assert s.polls["p"].results() == [0, 1, 0]


def test_an_approved_message_returns_to_its_place_in_time_among_other_nodes_messages():
    """With many nodes a room's history holds messages whose seqs are their nodes': node A's
    run far ahead of B's. A held message of B approved later goes back where its time puts it,
    and the others keep their order."""
    s = CommunityState({"match": RoomSettings()}, history_size={"match": 10})
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    sent = [("a1", 500, "public"), ("b1", 7, "held"), ("a2", 501, "public"), ("b2", 8, "public")]
    for i, (mid, seq, visibility) in enumerate(sent):
        e = new_event(EventType.MESSAGE_SENT, room_id="match:1", user_id="u", message_id=mid,
                      occurred_at=t0 + timedelta(seconds=i), payload={"text": mid, "visibility": visibility})  # fmt: skip
        e.seq = seq
        s.apply(e)
    assert [e.message_id for e in s.recent("match:1")] == ["a1", "a2", "b2"]
    _apply(s, EventType.MESSAGE_APPROVED, 9, user_id="mod", message_id="b1", payload={"decision": "approve"})
    assert [e.message_id for e in s.recent("match:1")] == ["a1", "b1", "a2", "b2"]
