"""The presence port.

Entries are (room, node, user) with a name and an expiry. The node that holds a user's socket
adds the entry, refreshes it on a heartbeat and removes it when the last socket leaves; if the
node dies its entries simply expire, so counts stay right without anyone cleaning up.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import msgspec

Entry = tuple[str, str, str]
"""(room, user_id, name)."""


class RoomPresence(msgspec.Struct, frozen=True):
    """A room's presence: unique users, and who they are while the room is small."""

    count: int
    members: dict[str, str] | None = None
    """user_id -> name, or None when the room is above the list threshold."""


class PresenceStore(Protocol):
    """One node's handle on the shared presence state."""

    async def add(self, room: str, user_id: str, name: str) -> None:
        """This node now holds ``user_id`` in ``room``."""

    async def remove(self, room: str, user_id: str, name: str) -> None:
        """This node's last socket of ``user_id`` left ``room``; or, after an ``add`` of the
        user under a new name, their entry under the old ``name`` goes (only that entry)."""

    async def refresh(self, entries: Collection[Entry]) -> None:
        """Heartbeat: push the expiry of all of this node's entries forward."""

    async def snapshot(self, rooms: Sequence[str], list_max: int) -> dict[str, RoomPresence]:
        """Current presence of ``rooms``, with member lists for rooms of at most ``list_max``."""
        ...

    async def close(self) -> None:
        """Remove this node's entries and release connections."""
