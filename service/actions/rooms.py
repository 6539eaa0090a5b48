"""Rooms: join and leave, room settings and modes, role grants, closing a room.

Room settings change through the admin API (server to server), by a room moderator or by crowd
control; each change is a ``room_mode_changed`` event carrying the full new settings and its
``cause``, so the room's state is a projection of its log. Its ``actor_id`` (and ``user_id``:
a room is no user) is who changed it.
"""

from __future__ import annotations

from typing import Literal

from service.actions.access import Intent, check_access, check_room_id
from service.actions.context import Community
from service.domain.events import EventType, acted_by, new_event
from service.domain.rooms import Role, RoomMode, RoomState
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import RoomConfigIn, RoomOut

ADMIN_ACTOR = "system:admin"
LeaveVia = Literal["http", "socket"]
"""Where a ``community_room_left`` came from (its payload's ``via``)."""


def room_out(room: RoomState, role: Role | None = None) -> RoomOut:
    s = room.settings
    return RoomOut(
        room_id=room.room_id, kind=room.kind, mode=s.mode.value,
        slow_mode_seconds=s.slow_mode_seconds, max_message_length=s.max_message_length,
        pinned_message_id=room.pinned_message_id, role=role.value if role else None,
    )  # fmt: skip


def get_room(c: Community, who: Identity, room_id: str) -> RoomOut:
    access = check_access(c, who, room_id, Intent.READ)
    return room_out(access.room, access.role)


async def join(c: Community, who: Identity, room_id: str) -> RoomOut:
    """Enter a room (an event, once per membership)."""
    access = check_access(c, who, room_id, Intent.READ)
    await c.ensure_exposure(who.user_id, room_id, who.context_id)
    key = ("member", room_id, who.user_id)
    if room_id not in c.state.memberships.get(who.user_id, ()) and key not in c.reserved:
        with c.reserving(key):
            await c.commit([
                new_event(EventType.ROOM_JOINED, user_id=who.user_id, room_id=room_id,
                          context_id=who.context_id)
            ])  # fmt: skip
    return room_out(access.room, access.role)


async def leave(c: Community, who: Identity, room_id: str, *, via: LeaveVia = "http") -> None:
    """End the membership (an event, once). ``via`` is recorded in the payload: a leave through
    HTTP takes the user's sockets out of the room on every node (service.realtime.effects),
    while a socket's own leave (``socket``) is recorded once the user's last socket on that
    node is out of the room, and must not take out their sockets elsewhere."""
    check_room_id(c, room_id)
    key = ("leave", room_id, who.user_id)
    if room_id in c.state.memberships.get(who.user_id, ()) and key not in c.reserved:
        with c.reserving(key):
            await c.commit([
                new_event(EventType.ROOM_LEFT, user_id=who.user_id, room_id=room_id,
                          context_id=who.context_id, payload={"via": via})
            ])  # fmt: skip


def rooms_of(c: Community, who: Identity) -> list[str]:
    return sorted(c.state.memberships.get(who.user_id, ()))


async def configure(
    c: Community, room_id: str, body: RoomConfigIn, *, actor: str, cause: str = "admin"
) -> RoomOut:
    """Change mode, slow mode or max length; writes nothing when nothing changes.

    Changes of one room run one at a time: each event carries the room's full settings, so
    two computed from the same old settings would each undo the other's change.
    """
    check_room_id(c, room_id)
    return await c.serially(
        ("room settings", room_id), lambda: _configure(c, room_id, body, actor, cause)
    )


async def _configure(c: Community, room_id: str, body: RoomConfigIn, actor: str, cause: str) -> RoomOut:
    room = c.state.room(room_id)
    s = room.settings
    mode = body.mode if body.mode is not None else s.mode
    slow = body.slow_mode_seconds if body.slow_mode_seconds is not None else s.slow_mode_seconds
    length = body.max_message_length if body.max_message_length is not None else s.max_message_length
    if (mode, slow, length) != (s.mode, s.slow_mode_seconds, s.max_message_length):
        changed = new_event(
            EventType.ROOM_MODE_CHANGED, user_id=actor, room_id=room_id,
            payload={"mode": mode.value, "slow_mode_seconds": slow,
                     "max_message_length": length, "cause": cause},
        )  # fmt: skip
        await c.commit([acted_by(changed, actor)])
    return room_out(c.state.room(room_id))


async def moderator_configure(c: Community, who: Identity, room_id: str, body: RoomConfigIn) -> RoomOut:
    access = check_access(c, who, room_id, Intent.MODERATE)
    if access.room.closed_by_admin:
        raise SidelineError(
            ErrorCode.ROOM_CLOSED,
            "this room was closed through the admin API (a read-only archive); only the admin API "
            "reopens it or changes its settings",
        )  # fmt: skip
    await configure(c, room_id, body, actor=who.user_id, cause="moderator")
    return room_out(c.state.room(room_id), access.role)


async def close_room(c: Community, room_id: str, *, actor: str = ADMIN_ACTOR) -> RoomOut:
    return await configure(c, room_id, RoomConfigIn(mode=RoomMode.CLOSED), actor=actor)


async def grant_role(c: Community, room_id: str, user_id: str, role: Role) -> None:
    """Grant ``role``; granting the role a user already has writes nothing."""
    check_room_id(c, room_id)

    async def grant() -> None:
        if c.state.grants.get((room_id, user_id)) is role:
            return
        await c.commit([
            new_event(EventType.ROLE_GRANTED, user_id=user_id, room_id=room_id,
                      actor_id=ADMIN_ACTOR, payload={"role": role.value})
        ])  # fmt: skip

    await c.serially(("role", room_id, user_id), grant)


async def revoke_role(c: Community, room_id: str, user_id: str) -> bool:
    """Revoke a granted role; False (nothing written) when there was none."""
    check_room_id(c, room_id)

    async def revoke() -> bool:
        if (room_id, user_id) not in c.state.grants:
            return False
        await c.commit([
            new_event(EventType.ROLE_REVOKED, user_id=user_id, room_id=room_id, actor_id=ADMIN_ACTOR)
        ])  # fmt: skip
        return True

    return await c.serially(("role", room_id, user_id), revoke)
