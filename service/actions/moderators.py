"""Moderator tools: delete, pin, mute/unmute, ban/unban, shadow-ban.

Callable by a room moderator (token or granted role) or through the admin API (actor
``system:admin``). Each is one event, so every moderator action is auditable and measurable.
A restriction's end is stored as ``until``; it lapses by time, with no event needed. Every
event of these names the moderator (or ``system:admin``) as ``actor_id``, and a restriction
and its lift carry the reason given.

A room moderator restricts users of lower roles only: muting, banning or shadow-banning a
fellow moderator of the room, or lifting such a restriction, is the admin API's (the host
backend's) to do, so one moderator cannot silence or lock out another.

A pin is shown to the whole room (every client gets a ``room`` frame naming the message), so
only a message the whole room sees can be pinned, and a pinned message that leaves the room's
view (deleted, hidden by reports) is unpinned by an event of its own, written with the event
that removes it. Pins and deletions of a room run one at a time (:func:`pin_lock`), so a pin
never lands on a message a concurrent deletion has just removed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from service.actions.access import check_room_id
from service.actions.context import Community
from service.actions.messages import check_message
from service.domain.events import Event, EventType, acted_by, new_event
from service.domain.records import GLOBAL, MessageRef
from service.domain.rooms import Role
from service.errors import ErrorCode, SidelineError
from service.protocol.http import RestrictIn

T = TypeVar("T")
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

    async def delete() -> int:
        deleted = new_event(
            EventType.MESSAGE_DELETED, user_id=ref.user_id if ref else actor, room_id=room_id,
            actor_id=actor, message_id=message_id,
            payload={"reason": reason.strip() or "moderator", "review": review},
        )  # fmt: skip
        committed = await c.commit([deleted, *unpin_if_pinned(c, room_id, message_id, actor, "deleted")])
        return committed[0].seq

    with c.reserving(key):
        return await pin_lock(c, room_id, delete)


def pin_lock(c: Community, room_id: str, work: Callable[[], Awaitable[T]]) -> Awaitable[T]:
    """Run ``work`` after the room's earlier pins and deletions (``Community.serially``)."""
    return c.serially(("pin", room_id), work)


def unpin_if_pinned(c: Community, room_id: str, message_id: str, actor: str, reason: str) -> list[Event]:
    """The event that unpins ``message_id`` when it is the room's pinned message (none
    otherwise), to commit with the event that takes it out of the room's view: ``reason`` says
    which (``deleted``, ``hidden by reports``)."""
    if c.state.room(room_id).pinned_message_id != message_id:
        return []
    return [_pin_event(c, actor, room_id, message_id, pinned=False, reason=reason)]


def _pin_event(
    c: Community, actor: str, room_id: str, message_id: str, *, pinned: bool, reason: str = ""
) -> Event:
    """A pin or unpin: the subject is the message's author (the actor when this node does not
    hold the message), ``actor_id`` who pinned or unpinned, as for a deletion."""
    ref = c.state.messages.get(message_id)
    payload: dict[str, object] = {"pinned": pinned}
    if reason:
        payload["reason"] = reason
    event = new_event(
        EventType.MESSAGE_PINNED, user_id=ref.user_id if ref else actor, room_id=room_id,
        message_id=message_id, payload=payload,
    )  # fmt: skip
    return acted_by(event, actor)  # also when a moderator pins their own message


def _not_shown(room_id: str, message_id: str) -> SidelineError:
    return SidelineError(
        ErrorCode.NOT_FOUND,
        f"message {message_id[:64]!r} is not shown to room {room_id} (held for review, hidden "
        "by reports, or a shadow-banned author's): only a message everyone in the room sees "
        "can be pinned",
        at="$.message_id",
    )


async def pin_message(c: Community, actor: str, room_id: str, message_id: str | None) -> None:
    """Pin one message the whole room sees (replacing the previous pin), or unpin with None.

    A message the room does not see (held, hidden by reports, a shadow-banned author's) is
    refused as ``not_found``: pinning it would name it to every client in a ``room`` frame.
    """
    check_room_id(c, room_id)
    ref: MessageRef | None = None
    if message_id is not None:
        ref = await check_message(c, room_id, message_id, reader=None)
        if not ref.visible_to(None):
            raise _not_shown(room_id, message_id)

    async def pin() -> None:
        pinned = c.state.room(room_id).pinned_message_id
        if pinned == message_id:  # already pinned, or nothing to unpin: nothing to write
            return
        if message_id is None:
            assert pinned is not None
            await c.commit([_pin_event(c, actor, room_id, pinned, pinned=False)])
            return
        now = c.state.messages.get(message_id, ref)  # as it is now, after earlier deletions
        if now is None or now.deleted or not now.visible_to(None):
            raise _not_shown(room_id, message_id)
        await c.commit([_pin_event(c, actor, room_id, message_id, pinned=True)])

    await pin_lock(c, room_id, pin)


def check_not_peer(c: Community, actor: str, room_id: str, user_id: str, what: str) -> None:
    """Refuse a room moderator acting on a moderator of the room (``role_too_low`` at
    ``$.user_id``); the admin API and the service's own actors (``system:*``) may.

    The service knows a user moderates the room by a role granted through the admin API, else
    by the role their latest message in the room was sent with (a token's role is known only
    from what its holder does).
    """
    if actor.startswith("system:"):
        return
    if c.state.recorded_role(room_id, user_id) is Role.MODERATOR:
        raise SidelineError(
            ErrorCode.ROLE_TOO_LOW,
            f"{user_id[:64]!r} is a moderator of {room_id}: a room moderator cannot {what} a "
            "fellow moderator (the admin API can)",
            at="$.user_id",
        )  # fmt: skip


async def restrict(c: Community, actor: str, room_id: str, kind: str, body: RestrictIn) -> str | None:
    """Mute, ban or shadow-ban ``body.user_id``; returns the ISO end time (None: until lifted)."""
    check_room_id(c, room_id)
    if kind not in _ON:
        raise SidelineError(ErrorCode.NOT_FOUND, f"unknown restriction {kind!r}")
    if body.scope not in ("room", "global"):
        raise SidelineError(ErrorCode.INVALID_BODY, "scope must be room or global", at="$.scope")
    if body.user_id == actor:
        raise SidelineError(ErrorCode.CONFLICT, "moderators cannot restrict themselves", at="$.user_id")
    check_not_peer(c, actor, room_id, body.user_id, "restrict")
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


async def lift(
    c: Community, actor: str, room_id: str, kind: str, user_id: str, scope: str = "room",
    reason: str = "",
) -> bool:  # fmt: skip
    """Unmute or unban (unban also lifts a shadow-ban); False, writing nothing, when nothing of
    it is active in that scope (never set, lifted already, or run out). ``reason`` is recorded
    on the event, as a restriction's is. A moderator lifting their own is ``conflict``, as
    restricting themselves is: it would undo the admin API's (or a peer's) decision."""
    check_room_id(c, room_id)
    if kind not in _OFF:
        raise SidelineError(ErrorCode.NOT_FOUND, f"unknown restriction {kind!r}")
    if user_id == actor and not actor.startswith("system:"):  # undoing the admin's (or a peer's) decision
        raise SidelineError(
            ErrorCode.CONFLICT, "moderators cannot lift their own restriction (the admin API can)",
            at="$.user_id",
        )  # fmt: skip
    check_not_peer(c, actor, room_id, user_id, "lift a restriction of")
    key_scope = GLOBAL if scope == "global" else room_id

    def active(what: str) -> bool:  # one that ran out is kept in the state, but lifts nothing
        found = c.state.restrictions.get((what, key_scope, user_id))
        return found is not None and found.active(c.now())

    async def lift_one() -> bool:
        if not active(kind) and not (kind == "ban" and active("shadow")):
            return False
        await c.commit([
            new_event(_OFF[kind], user_id=user_id, room_id=room_id, actor_id=actor,
                      payload={"scope": scope, "reason": reason.strip()})
        ])  # fmt: skip
        return True

    return await c.serially(("lift", kind, key_scope, user_id), lift_one)
