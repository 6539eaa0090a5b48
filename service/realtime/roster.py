"""This node's side of presence: local refcounts, the heartbeat, and batched diffs per room.

Joins and leaves only change the shared store; members learn about them from a diff sent
per room at most every ``interval`` (never per join: N members joining one by one would
otherwise cost N² frames). Small rooms get who joined and left; rooms above the list
threshold get only the count. Every node computes diffs from the same shared store, so
members on different nodes see the same room.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.protocol import frames as f
from service.realtime.presence.base import PresenceStore, RoomPresence

log = logging.getLogger(__name__)


def diff(room: str, before: RoomPresence | None, now: RoomPresence) -> f.Presence | None:
    """The frame that turns ``before`` into ``now`` for a client; None when nothing changed."""
    if now.members is None:
        if before is not None and before.members is None and before.count == now.count:
            return None
        return f.Presence(room=room, count=now.count)
    if before is None or before.members is None:
        return full(room, now)
    joined = [f.Member(user_id=u, name=n) for u, n in sorted(now.members.items())
              if before.members.get(u) != n]  # fmt: skip
    left = sorted(u for u in before.members if u not in now.members)
    if not joined and not left:
        return None
    return f.Presence(room=room, count=now.count, joined=joined or None, left=left or None)


def full(room: str, now: RoomPresence, joiner: tuple[str, str] | None = None) -> f.Presence:
    """``now`` as a full list; with ``joiner`` (user id, name), the list a joining member is
    shown: ``now`` is the room's last diff baseline, which may predate them, and they are here.
    (A room above the list threshold gives only a count, which may or may not hold them.)"""
    members = None
    count = now.count
    if now.members is not None:
        shown = now.members
        if joiner is not None and joiner[0] not in shown:
            shown, count = {**shown, joiner[0]: joiner[1]}, count + 1
        members = [f.Member(user_id=u, name=n) for u, n in sorted(shown.items())]
    return f.Presence(room=room, count=count, full=True, members=members)


class Roster:
    """Local members by room, and the last presence each room's members were shown."""

    def __init__(
        self, store: PresenceStore, list_max: int, send: Callable[[str, str], None]
    ) -> None:
        self.store = store
        self._list_max = list_max
        self._send = send
        self._local: dict[tuple[str, str], tuple[str, int]] = {}
        self.shown: dict[str, RoomPresence] = {}

    async def add(self, room: str, user_id: str, name: str) -> None:
        key = (room, user_id)
        _, refs = self._local.get(key, (name, 0))
        self._local[key] = (name, refs + 1)
        if refs == 0:
            await self.store.add(room, user_id, name)

    async def remove(self, room: str, user_id: str) -> None:
        key = (room, user_id)
        found = self._local.get(key)
        if found is None:
            return
        name, refs = found
        if refs > 1:
            self._local[key] = (name, refs - 1)
            return
        del self._local[key]
        await self.store.remove(room, user_id, name)

    async def rename(self, room: str, user_id: str, name: str) -> None:
        """``user_id`` on this node is now shown in ``room`` as ``name`` (a refreshed token).

        The entry under the new name is added before the old one is removed, so the user never
        looks absent in between; the next diff shows them under the new name."""
        key = (room, user_id)
        found = self._local.get(key)
        if found is None or found[0] == name:
            return
        old, refs = found
        self._local[key] = (name, refs)
        await self.store.add(room, user_id, name)
        await self.store.remove(room, user_id, old)

    def holds(self, room: str, user_id: str) -> bool:
        """Is a socket of ``user_id`` on this node in ``room`` (joined or joining)?"""
        return (room, user_id) in self._local

    def size(self, room: str) -> int:
        """Members last shown for ``room`` (0 before the first tick)."""
        shown = self.shown.get(room)
        return shown.count if shown is not None else 0

    async def heartbeat(self) -> None:
        await self.store.refresh([(r, u, n) for (r, u), (n, _) in self._local.items()])

    async def current(self, room: str) -> RoomPresence:
        """What a new member of ``room`` is shown: the last diff baseline, or a fresh read."""
        shown = self.shown.get(room)
        if shown is None:
            shown = (await self.store.snapshot([room], self._list_max))[room]
            self.shown[room] = shown
        return shown

    async def tick(self, rooms: list[str]) -> None:
        """Send one diff per room whose presence changed since it was last shown."""
        if not rooms:
            return
        found = await self.store.snapshot(rooms, self._list_max)
        for room, now in found.items():
            frame = diff(room, self.shown.get(room), now)
            self.shown[room] = now
            if frame is not None:
                self._send(room, f.encode(frame))

    def forget(self, room: str) -> None:
        self.shown.pop(room, None)
