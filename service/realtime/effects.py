"""Per-socket effects of committed events on the sockets of the user they concern.

They run on every node that holds such a socket, whichever node committed the event: a user
muted through node A learns it on node B; the sockets of a banned user, and of a user who left
the room through HTTP, leave it; a granted role shows up in the recipient's panel at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.actions.access import restriction_left
from service.domain.events import Event, EventType
from service.domain.rooms import Role
from service.identity import Identity
from service.protocol import frames as f
from service.realtime.connection import Connection

if TYPE_CHECKING:
    from service.realtime.hub import Hub


def _until(e: Event) -> str:
    until = e.payload.get("until")
    return f"until {until}" if until else "until lifted"


async def apply(hub: Hub, conn: Connection, room: str, e: Event) -> None:
    """Tell ``conn`` (a socket of ``e.user_id`` in ``room``) what ``e`` changed for it."""
    match e.event_type:
        case EventType.USER_MUTED:
            conn.send(f.Notice(
                room=room, code="user_muted", message=f"you are muted {_until(e)}",
                retry_after=restriction_left(hub.c, "mute", room, conn.user_id),
            ))  # fmt: skip
        case EventType.USER_UNMUTED:
            conn.send(f.Notice(room=room, code="user_unmuted", message="you can post again"))
        case EventType.USER_BANNED:
            conn.send(f.Error(
                room=room, code="user_banned", message=f"you are banned from {room} {_until(e)}",
                retry_after=restriction_left(hub.c, "ban", room, conn.user_id),
            ))  # fmt: skip
            conn.send(f.Left(room=room, reason="banned"))
            await hub.leave_room(conn, room)
        case EventType.ROLE_GRANTED | EventType.ROLE_REVOKED if room == e.room_id:
            conn.send(room_frame(hub, conn, room))
        case EventType.ROOM_LEFT if e.payload.get("via") == "http" and not _member(hub, e):
            conn.send(f.Left(room=room, reason="left"))
            await hub.leave_room(conn, room)
        case _:
            pass


def _member(hub: Hub, e: Event) -> bool:
    """Is ``e``'s user a member of its room again (joined after the leave was committed)?"""
    return e.room_id in hub.c.state.memberships.get(e.user_id, ())


def role_of(hub: Hub, who: Identity, room: str) -> Role:
    """``who``'s role in ``room``: a granted role, else what their token says."""
    return hub.c.state.role_in(room, who.user_id, who.token_role(room))


def room_frame(hub: Hub, conn: Connection, room: str) -> f.Room:
    """The room's settings with ``conn``'s role in it (its role changed)."""
    s = hub.c.state.room(room)
    return f.Room(
        room=room, mode=s.settings.mode.value, slow_mode_seconds=s.settings.slow_mode_seconds,
        max_message_length=s.settings.max_message_length, pinned_message_id=s.pinned_message_id,
        role=role_of(hub, conn.identity, room).value,
    )  # fmt: skip
