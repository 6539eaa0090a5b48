"""Reactions on messages: one per user per emoji; add and remove are events."""

from __future__ import annotations

from service.actions.access import Intent, check_access
from service.actions.context import Community
from service.actions.messages import metadata_of
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import ClientMetadata, ReactionOut


async def check_message(c: Community, room_id: str, message_id: str) -> None:
    """The message exists in this room, is not deleted, and may be seen."""
    ref = c.state.messages.get(message_id)
    if ref is None:
        event = await c.log.find_message(message_id)
        found_room = event.room_id if event is not None else None
    else:
        found_room = None if ref.deleted else ref.room_id
    if found_room != room_id:
        raise SidelineError(
            ErrorCode.NOT_FOUND, f"message {message_id[:64]!r} is not in room {room_id}",
            at="$.message_id",
        )  # fmt: skip


async def set_reaction(
    c: Community, who: Identity, room_id: str, message_id: str, emoji: str, *,
    add: bool, metadata: ClientMetadata | None = None,
) -> ReactionOut:  # fmt: skip
    """Add or remove ``emoji``; adding twice or removing what is not there changes nothing."""
    check_access(c, who, room_id, Intent.REACT)
    await check_message(c, room_id, message_id)
    await c.ensure_exposure(who.user_id, room_id, who.context_id)
    users = c.state.reactions.get(message_id, {}).get(emoji, set())
    key = ("reaction", message_id, emoji, who.user_id)
    if (who.user_id in users) == add or key in c.reserved:
        return ReactionOut(message_id=message_id, emoji=emoji, count=len(users), seq=0)
    c.reserved.add(key)
    try:
        event_type = EventType.REACTION_ADDED if add else EventType.REACTION_REMOVED
        committed = await c.commit([
            new_event(
                event_type, user_id=who.user_id, room_id=room_id, context_id=who.context_id,
                message_id=message_id, metadata=metadata_of(metadata, "reaction"),
                payload={"emoji": emoji},
            )
        ])  # fmt: skip
    finally:
        c.reserved.discard(key)
    count = len(c.state.reactions[message_id][emoji])
    return ReactionOut(message_id=message_id, emoji=emoji, count=count, seq=committed[0].seq)
