"""Committed events -> the frames clients see, encoded once per event.

Visibility is decided here, from the event's own payload: a ``public`` message goes to the
room, a ``shadow`` message only to its sender, a ``held`` message to no one until a
``community_message_approved`` event with ``decision: approve`` publishes it. Deletions and
report-hides become ``deleted`` frames; room setting changes and pins become ``room`` frames.
What changes the review queue (a hold, a report, a decision, a deletion) also gives the room's
moderators a ``review`` frame: a signal without text or seq, so they fetch the queue at once.
Reactions and polls are not rendered per event: they are coalesced per room (coalesce.py).
The same function renders live fan-out and resume replay, so both show the same thing.
"""

from __future__ import annotations

from service.actions.context import Community
from service.domain.events import Event, EventType
from service.protocol import frames as f
from service.realtime.envelope import MODERATORS, Out


def message_frame(c: Community, e: Event) -> f.Message:
    p = e.payload
    assert e.message_id is not None
    reactions = c.state.reactions.get(e.message_id, {})
    return f.Message(
        room=e.room_id, message_id=e.message_id, seq=e.seq, epoch=e.epoch, user_id=e.user_id,
        name=p.get("name") or e.user_id, role=p.get("role", "user"), text=p.get("text", ""),
        masked=bool(p.get("masked")), reply_to=p.get("reply_to"),
        client_msg_id=p.get("client_msg_id", ""), at=e.occurred_at,
        reactions={emoji: len(users) for emoji, users in reactions.items() if users},
    )  # fmt: skip


def room_frame(c: Community, e: Event) -> f.Room:
    room = c.state.room(e.room_id)
    s = room.settings
    return f.Room(
        room=e.room_id, mode=s.mode.value, slow_mode_seconds=s.slow_mode_seconds,
        max_message_length=s.max_message_length, pinned_message_id=room.pinned_message_id,
        seq=e.seq, epoch=e.epoch,
    )  # fmt: skip


def _out(e: Event, frame: f.Message | f.Deleted | f.Room, to: str | None = None) -> Out:
    return Out(room=e.room_id, to=to, text=f.encode(frame), seq=e.seq, epoch=e.epoch)


def _deleted(e: Event, reason: str) -> Out:
    assert e.message_id is not None
    frame = f.Deleted(
        room=e.room_id, message_id=e.message_id, seq=e.seq, epoch=e.epoch, reason=reason
    )
    return _out(e, frame)


def _review(e: Event, change: str) -> Out:
    assert e.message_id is not None
    frame = f.Review(room=e.room_id, message_id=e.message_id, change=change)
    return Out(room=e.room_id, to=MODERATORS, text=f.encode(frame))


def _approved(c: Community, e: Event) -> list[Out]:
    if e.payload.get("decision") != "approve":
        return []
    original = next((m for m in c.state.recent(e.room_id) if m.message_id == e.message_id), None)
    if original is None:  # fell out of memory: clients see it in history pages instead
        return []
    frame = message_frame(c, original)
    # Stamped with the approval's position, so a client that resumes after it sees it once.
    frame.seq, frame.epoch = e.seq, e.epoch
    ref = c.state.messages.get(original.message_id or "")
    shadow = ref.visibility == "shadow" if ref else original.payload.get("visibility") == "shadow"
    to = original.user_id if shadow else None  # a shadow-ban is not lifted by an approval
    return [_out(e, frame, to)]


def render(c: Community, e: Event) -> list[Out]:
    """The frames ``e`` produces; empty for events clients do not see as such."""
    match e.event_type:
        case EventType.MESSAGE_SENT:
            visibility = e.payload.get("visibility", "public")
            if visibility == "held":
                return [_review(e, "held")]
            to = e.user_id if visibility == "shadow" else None
            return [_out(e, message_frame(c, e), to)]
        case EventType.MESSAGE_DELETED:
            return [_deleted(e, e.payload.get("reason") or "deleted"), _review(e, "decided")]
        case EventType.MESSAGE_REPORTED:
            hidden = [_deleted(e, "hidden pending review")] if e.payload.get("hide") else []
            return [*hidden, _review(e, "reported")]
        case EventType.MESSAGE_APPROVED:
            return [*_approved(c, e), _review(e, "decided")]
        case EventType.ROOM_MODE_CHANGED | EventType.MESSAGE_PINNED:
            return [_out(e, room_frame(c, e))]
        case _:
            return []


EFFECT_TYPES = frozenset({
    EventType.REACTION_ADDED, EventType.REACTION_REMOVED, EventType.POLL_CREATED,
    EventType.POLL_VOTED, EventType.POLL_CLOSED, EventType.USER_MUTED, EventType.USER_UNMUTED,
    EventType.USER_BANNED, EventType.ROLE_GRANTED, EventType.ROLE_REVOKED,
})  # fmt: skip
"""Events that make every node do per-room or per-socket work besides sending frames."""


def has_effects(e: Event) -> bool:
    """Must every node see ``e`` itself, not only its frames? The ``EFFECT_TYPES``, and a leave
    through HTTP, which takes the user's sockets out of the room (a socket's own leave does
    not: it is frequent, and its sockets are out already)."""
    return e.event_type in EFFECT_TYPES or (
        e.event_type is EventType.ROOM_LEFT and e.payload.get("via") == "http"
    )
