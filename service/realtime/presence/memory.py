"""Presence in this process (one node): the same expiry rules as Redis, with an injectable clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence

from service.realtime.presence.base import Entry, RoomPresence


class MemoryPresence:
    """Entries keyed by (node, user) per room; expired entries are dropped on read."""

    def __init__(
        self, node_id: str, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._node = node_id
        self._ttl = ttl_seconds
        self._clock = clock
        self._rooms: dict[str, dict[tuple[str, str], tuple[str, float]]] = {}

    async def add(self, room: str, user_id: str, name: str) -> None:
        self._rooms.setdefault(room, {})[(self._node, user_id)] = (name, self._clock() + self._ttl)

    async def remove(self, room: str, user_id: str, name: str) -> None:
        entries = self._rooms.get(room)
        if entries is not None:
            found = entries.get((self._node, user_id))
            if found is not None and found[0] == name:  # not the entry a rename just added
                del entries[(self._node, user_id)]
            if not entries:
                del self._rooms[room]

    async def refresh(self, entries: Collection[Entry]) -> None:
        expires = self._clock() + self._ttl
        for room, user_id, name in entries:
            self._rooms.setdefault(room, {})[(self._node, user_id)] = (name, expires)

    async def snapshot(self, rooms: Sequence[str], list_max: int) -> dict[str, RoomPresence]:
        now = self._clock()
        out: dict[str, RoomPresence] = {}
        for room in rooms:
            entries = self._rooms.get(room, {})
            for key in [k for k, (_, exp) in entries.items() if exp <= now]:
                del entries[key]
            users = {user: name for (_, user), (name, _) in entries.items()}
            members = users if len(users) <= list_max else None
            out[room] = RoomPresence(count=len(users), members=members)
        return out

    async def close(self) -> None:
        for room in list(self._rooms):
            entries = self._rooms[room]
            for key in [k for k in entries if k[0] == self._node]:
                del entries[key]
