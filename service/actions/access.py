"""Authorisation: may this identity do this in this room, given its role and the room's mode.

Pure reads of the in-memory state (no I/O), so it is cheap on every action.
"""

from __future__ import annotations

import enum
from datetime import datetime

import msgspec

from service.actions.context import Community
from service.domain.records import GLOBAL
from service.domain.rooms import Role, RoomMode, RoomState, room_kind
from service.errors import ErrorCode, SidelineError
from service.identity import Identity


class Intent(enum.Enum):
    """What the caller means to do in a room; :func:`check_access` holds the rule of each.

    ``READ`` needs only entry (not banned). ``MODERATE`` needs the moderator role and, like
    reading, works in a closed room. Every other intent is taking part: role ``user`` or
    above in a room that is not closed; ``POST`` also needs not muted and a mode that lets
    the role post.
    """

    READ = "read"
    REACT = "react"
    VOTE = "vote"
    REPORT = "report"
    CLOSE_OWN_POLL = "close_own_poll"
    """A creator closing their poll; a moderator closes any poll under ``MODERATE``."""
    POST = "post"
    MODERATE = "moderate"


class Access(msgspec.Struct, frozen=True):
    room: RoomState
    role: Role


def check_room_id(c: Community, room_id: str, at: str = "$.room_id") -> str:
    """Validate a room id's syntax and kind; return the kind."""
    kind = room_kind(room_id)
    if kind is None:
        raise SidelineError(
            ErrorCode.INVALID_ROOM_ID,
            f"room id {room_id[:80]!r} is not of the form kind:key (e.g. match:123)",
            at=at,
        )
    if kind not in c.settings.rooms:
        known = ", ".join(sorted(c.settings.rooms))
        raise SidelineError(
            ErrorCode.UNKNOWN_ROOM_KIND, f"room kind {kind!r} is not configured (known: {known})", at=at
        )
    return kind


def _until(when: datetime | None) -> str:
    return "until lifted" if when is None else f"until {when.isoformat()}"


def restriction_end(
    c: Community, kind: str, room: str, user_id: str, now: datetime
) -> tuple[bool, datetime | None]:
    """Whether ``user_id`` has an active ``kind`` (mute, ban) in ``room``, the room's or a
    global one, and when the later of them ends (None: one lasts until lifted)."""
    ends = [
        r.until for scope in (room, GLOBAL)
        if (r := c.state.restrictions.get((kind, scope, user_id))) is not None and r.active(now)
    ]  # fmt: skip
    if not ends:
        return False, None
    return True, None if None in ends else max(e for e in ends if e)


def restriction_left(c: Community, kind: str, room: str, user_id: str) -> float | None:
    """Seconds until ``user_id``'s ``kind`` (mute, ban) in ``room`` ends, whichever scope (the
    room's or global) holds it longest: a client's ``retry_after``. None when one of them lasts
    until lifted, or none is active.

    A timed restriction runs out without an event (no ``user_unmuted`` is sent), so this is
    how a client learns when it may post, or join, again.
    """
    now = c.now()
    _, end = restriction_end(c, kind, room, user_id, now)
    return None if end is None else round((end - now).total_seconds(), 3)


def check_access(c: Community, who: Identity, room_id: str, intent: Intent) -> Access:
    """Authorise ``intent`` in ``room_id`` for ``who``; raise a SidelineError saying why not."""
    check_room_id(c, room_id)
    if not who.may_enter(room_id):
        raise SidelineError(
            ErrorCode.ROOM_NOT_ALLOWED, f"this token does not open room {room_id!r}", at="$.room_id"
        )
    state, now = c.state, c.now()
    room = state.room(room_id)
    role = state.role_in(room_id, who.user_id, who.token_role(room_id))
    if (ban := state.restriction("ban", room_id, who.user_id, now)) is not None:
        raise SidelineError(
            ErrorCode.USER_BANNED, f"you are banned from this room {_until(ban.until)}",
            retry_after=restriction_left(c, "ban", room_id, who.user_id),
        )
    if intent is Intent.READ:
        return Access(room, role)
    if intent is Intent.MODERATE:
        if role is not Role.MODERATOR:
            raise SidelineError(ErrorCode.ROLE_TOO_LOW, "this needs the moderator role")
        return Access(room, role)
    mode = room.settings.mode
    if mode is RoomMode.CLOSED:
        raise SidelineError(ErrorCode.ROOM_CLOSED, "this room is closed (read-only archive)")
    if role is Role.VIEWER:
        raise SidelineError(ErrorCode.ROLE_TOO_LOW, "viewers can read but not take part")
    if intent is Intent.POST:
        if (mute := state.restriction("mute", room_id, who.user_id, now)) is not None:
            raise SidelineError(
                ErrorCode.USER_MUTED, f"you are muted {_until(mute.until)}",
                retry_after=restriction_left(c, "mute", room_id, who.user_id),
            )
        if mode is RoomMode.REACTIONS_ONLY and role is not Role.MODERATOR:
            raise SidelineError(ErrorCode.REACTIONS_ONLY, "this room takes reactions only right now")
        if mode is RoomMode.SPEAKERS_ONLY and role.rank < Role.SPEAKER.rank:
            raise SidelineError(ErrorCode.SPEAKERS_ONLY, "only speakers can post right now")
    return Access(room, role)
