"""Standing decisions' subjects (a user's ban in a room, a room's mode ...), their order,
and where an envelope stands among its publisher's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.events import Event, EventType
from service.eventlog.base import EventLog

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


STANDING_TYPES = frozenset({
    EventType.USER_MUTED, EventType.USER_UNMUTED, EventType.USER_BANNED, EventType.USER_UNBANNED,
    EventType.USER_SHADOW_BANNED, EventType.ROLE_GRANTED, EventType.ROLE_REVOKED,
    EventType.ROOM_MODE_CHANGED, EventType.MESSAGE_PINNED, EventType.MODERATION_POLICY_CHANGED,
    EventType.POLL_CLOSED,
})  # fmt: skip
"""Event types that set a subject's standing (see :func:`standing_key`)."""


def standing_key(e: Event) -> str | None:
    """The subject whose standing ``e`` sets, or None for events that set none."""
    scope = "*" if e.payload.get("scope") == "global" else e.room_id
    match e.event_type:
        case EventType.USER_MUTED | EventType.USER_UNMUTED:
            return f"mute|{scope}|{e.user_id}"
        case EventType.USER_BANNED | EventType.USER_UNBANNED:
            return f"ban|{scope}|{e.user_id}"
        case EventType.USER_SHADOW_BANNED:
            return f"shadow|{scope}|{e.user_id}"
        case EventType.ROLE_GRANTED | EventType.ROLE_REVOKED:
            return f"role|{e.room_id}|{e.user_id}"
        case EventType.ROOM_MODE_CHANGED:
            return f"mode|{e.room_id}"
        case EventType.MESSAGE_PINNED:
            return f"pin|{e.room_id}"
        case EventType.MODERATION_POLICY_CHANGED:
            return f"policy|{e.payload.get('kind', '')}"
        case EventType.POLL_CLOSED:
            return f"poll|{e.payload.get('poll_id', '')}"
        case _:
            return None


def order_key(e: Event) -> str:
    """Sorts events of one subject in time order (fixed width: microseconds, then the id)."""
    micros = (e.occurred_at - EPOCH) // timedelta(microseconds=1)
    return f"{micros:020d}{e.event_id:0>36}"


ORDER_WIDTH = 56


Position = tuple[str, int]
"""Where an envelope stands among its publisher's: its process (``boot``, a uuid7, so later
processes sort later) and its number in that process."""


def follows(position: Position, last: Position) -> bool:
    """Is ``position`` the envelope numbered right after ``last`` of the same publisher? A new
    process of the publisher (another boot) starts again at 1."""
    return position[1] == (last[1] + 1 if position[0] == last[0] else 1)


async def standing_in(event_log: EventLog) -> list[Event]:
    """The newest standing event of each subject in ``event_log``, oldest first."""
    events = await event_log.read_types(STANDING_TYPES)
    newest: dict[str, Event] = {}
    for e in events:
        subject = standing_key(e)
        if subject is not None and (
            subject not in newest or order_key(newest[subject]) < order_key(e)
        ):  # fmt: skip
            newest[subject] = e
    return sorted(newest.values(), key=order_key)
