"""A node's own decisions about other nodes' messages and polls survive its restart.

At start a node folds its own log first and applies other nodes' events after: its delete of
another node's message, or its vote in another node's poll, meets nothing to apply to. The
state keeps such events while it starts, and applies them again once the other nodes' events
are in (``place_unplaced``, called by the hub's start).
"""

from __future__ import annotations

from service.domain.events import EventType, new_event
from service.domain.rooms import RoomSettings
from service.domain.state import CommunityState


def ev(event_type: EventType, user: str, message: str | None = None, node: str = "a", seq: int = 1, **payload):
    e = new_event(event_type, user_id=user, room_id="match:1", message_id=message, payload=payload)
    e.node_id, e.seq = node, seq
    return e


def test_own_decisions_about_other_nodes_things_are_placed_once_those_arrive() -> None:
    state = CommunityState({"match": RoomSettings()})
    E = EventType
    # node a's own log: it deleted b's message, hid another by report, voted and closed b's poll
    state.apply_all([
        ev(E.MESSAGE_DELETED, "mod", "mb1", seq=1),
        ev(E.MESSAGE_REPORTED, "r1", "mb2", seq=2, reason="spam", hide=True),
        ev(E.POLL_VOTED, "u1", seq=3, poll_id="pb", option=1),
        ev(E.POLL_CLOSED, "mod", seq=4, poll_id="pb"),
        ev(E.MESSAGE_DELETED, "mod", "gone-for-good", seq=5),
    ])  # fmt: skip
    assert len(state.unplaced) == 5
    # then node b's events, from the recent stream
    for e in [
        ev(E.MESSAGE_SENT, "u2", "mb1", node="b", seq=1, text="one", visibility="public"),
        ev(E.MESSAGE_SENT, "u2", "mb2", node="b", seq=2, text="two", visibility="public"),
        ev(E.POLL_CREATED, "u2", node="b", seq=3, poll_id="pb", question="?", options=["x", "y"]),
    ]:  # fmt: skip
        state.apply_remote(e)
    assert [m.message_id for m in state.history["match:1"]] == ["mb1", "mb2"]

    assert state.place_unplaced() == 4
    assert list(state.history["match:1"]) == []
    assert state.messages["mb1"].deleted and state.messages["mb2"].hidden_by_reports
    assert state.polls["pb"].votes == {"u1": 1} and state.polls["pb"].closed
    assert not state.unplaced

    # running, the node keeps none (it acts only on what it knows)
    state.apply(ev(E.MESSAGE_DELETED, "mod", "unknown", seq=6))
    assert not state.unplaced
