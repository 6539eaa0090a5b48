"""Rooms, room modes and roles: the vocabulary of authorisation (pure, no I/O)."""

from __future__ import annotations

import enum
import re

import msgspec

ROOM_KIND = r"[a-z][a-z0-9_-]{0,31}"
"""A room kind (``match``): the part of a room id before its colon."""
ROOM_KEY = r"[A-Za-z0-9._~@+-]{1,128}"
"""A room's key (``123``): the part of a room id after its colon."""
ROOM_ID_RE = re.compile(rf"(?P<kind>{ROOM_KIND}):(?P<key>{ROOM_KEY})")
"""A room id, matched whole with ``fullmatch`` (``$`` would accept a trailing newline)."""
ROOM_ID_PATTERN = rf"^{ROOM_KIND}:{ROOM_KEY}$(?!\n)"
"""The same rule as a JSON Schema ``pattern`` (searched, so anchored; ``(?!\n)`` keeps a
Python-regex reader from taking a trailing newline)."""


class RoomMode(enum.StrEnum):
    """What a room allows right now."""

    OPEN = "open"
    REACTIONS_ONLY = "reactions-only"
    SPEAKERS_ONLY = "speakers-only"
    CLOSED = "closed"


class Role(enum.StrEnum):
    """Roles in increasing power; each includes what the ones before it may do."""

    VIEWER = "viewer"
    USER = "user"
    SPEAKER = "speaker"
    MODERATOR = "moderator"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 0, Role.USER: 1, Role.SPEAKER: 2, Role.MODERATOR: 3}


class RoomSettings(msgspec.Struct, kw_only=True):
    """The mutable settings of one room; starts as its kind's policy, changed by events."""

    mode: RoomMode = RoomMode.OPEN
    slow_mode_seconds: int = 0
    max_message_length: int = 500


class RoomState(msgspec.Struct, kw_only=True):
    """A room as the service sees it: projection of its policy plus its events."""

    room_id: str
    kind: str
    settings: RoomSettings
    pinned_message_id: str | None = None
    last_seq: int = 0
    closed_by_admin: bool = False
    """Closed through the admin API (the host's archive): only the admin API reopens it."""


def room_kind(room_id: str) -> str | None:
    """The kind of a syntactically valid room id (``match:123`` → ``match``), else None."""
    m = ROOM_ID_RE.fullmatch(room_id)
    return m.group("kind") if m else None
