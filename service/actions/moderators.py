"""Moderator tools: delete, pin, mute/unmute, ban/unban, shadow-ban.

Callable by a room moderator (token or granted role) or through the admin API (actor
``system:admin``). Each is one event, so every moderator action is auditable and measurable.
A restriction's end is stored as ``until``; it lapses by time, with no event needed.
"""

from __future__ import annotations

from datetime import timedelta

from service.actions.access import check_room_id
from service.actions.context import Community
from service.actions.messages import check_message
from service.domain.events import EventType, new_event
from service.domain.state import GLOBAL
from service.errors import ErrorCode, SidelineError
from service.protocol.http import RestrictIn

_ON = {"mute": EventType.USER_MUTED, "ban": EventType.USER_BANNED,
       "shadow": EventType.USER_SHADOW_BANNED}  # fmt: skip
_OFF = {"mute": EventType.USER_UNMUTED, "ban": EventType.USER_UNBANNED}


async def delete_message(
    c: Community, actor: str, room_id: str, message_id: str, reason: str = "", *, review: bool = False
) -> int:
    """Delete a message (an event); deleting it again changes nothing. Returns the seq.

    ``review`` is set only by the review queue's ``delete`` decision and written as the payload's
    ``review``: that, not the reason text, is what tells analytics the delete was a review, so
    a moderator's own delete may give any reason (``review`` included) without passing for one.
    """
    check_room_id(c, room_id)
    await check_message(c, room_id, message_id, reader=None)
    key = ("delete", message_id)
    if key in c.reserved:
        raise SidelineError(
            ErrorCode.CONFLICT, f"message {message_id[:64]!r} is being deleted already",
            at="$.message_id",
        )  # fmt: skip
    ref = c.state.messages.get(message_id)
    with c.reserving(key):
        committed = await c.commit([
            new_event(
                EventType.MESSAGE_DELETED, user_id=ref.user_id if ref else actor, room_id=room_id,
                actor_id=actor, message_id=message_id,
                payload={"reason": reason.strip() or "moderator", "review": review},
            )
        ])  # fmt: skip
    return committed[0].seq


async def pin_message(c: Community, actor: str, room_id: str, message_id: str | None) -> None:
    """Pin one message (replacing the previous pin), or unpin with None."""
    check_room_id(c, room_id)
    if message_id is not None:
        await check_message(c, room_id, message_id, reader=None)

    async def pin() -> None:
        pinned = c.state.room(room_id).pinned_message_id
        if pinned == message_id:  # already pinned, or nothing to unpin: nothing to write
            return
        await c.commit([
            new_event(EventType.MESSAGE_PINNED, user_id=actor, room_id=room_id,
                      message_id=message_id or pinned, payload={"pinned": message_id is not None})
        ])  # fmt: skip

    await c.serially(("pin", room_id), pin)


async def restrict(c: Community, actor: str, room_id: str, kind: str, body: RestrictIn) -> str | None:
    """Mute, ban or shadow-ban ``body.user_id``; returns the ISO end time (None: until lifted)."""
    check_room_id(c, room_id)
    if kind not in _ON:
        raise SidelineError(ErrorCode.NOT_FOUND, f"unknown restriction {kind!r}")
    if body.scope not in ("room", "global"):
        raise SidelineError(ErrorCode.INVALID_BODY, "scope must be room or global", at="$.scope")
    if body.user_id == actor:
        raise SidelineError(ErrorCode.CONFLICT, "moderators cannot restrict themselves", at="$.user_id")
    until = None
    if body.duration_seconds is not None:
        until = (c.now() + timedelta(seconds=body.duration_seconds)).isoformat()
    await c.commit([
        new_event(
            _ON[kind], user_id=body.user_id, room_id=room_id, actor_id=actor,
            payload={"until": until, "scope": body.scope, "reason": body.reason.strip()},
        )
    ])  # fmt: skip
    return until


async def lift(c: Community, actor: str, room_id: str, kind: str, user_id: str, scope: str = "room") -> bool:
    """Unmute or unban (unban also lifts a shadow-ban); False, writing nothing, when nothing of
    it is active in that scope (never set, lifted already, or run out)."""
    check_room_id(c, room_id)
    if kind not in _OFF:
        raise SidelineError(ErrorCode.NOT_FOUND, f"unknown restriction {kind!r}")
    key_scope = GLOBAL if scope == "global" else room_id

    def active(what: str) -> bool:  # one that ran out is kept in the state, but lifts nothing
        found = c.state.restrictions.get((what, key_scope, user_id))
        return found is not None and found.active(c.now())

    async def lift_one() -> bool:
        if not active(kind) and not (kind == "ban" and active("shadow")):
            return False
        await c.commit([
            new_event(_OFF[kind], user_id=user_id, room_id=room_id, actor_id=actor,
                      payload={"scope": scope})
        ])  # fmt: skip
        return True

    return await c.serially(("lift", kind, key_scope, user_id), lift_one)
