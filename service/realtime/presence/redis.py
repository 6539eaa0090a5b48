"""Presence shared by every node through Redis sorted sets.

One ZSET per room; a member is one (node, user, name) and its score the expiry time (Unix
seconds). Reads first drop members whose score has passed, so a dead node's users disappear
one TTL after its last heartbeat. The key itself also expires, so idle rooms leave nothing.
A user connected through two nodes is two members: counts of small rooms dedupe by user;
above the list threshold the count is the number of members (documented as approximate).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence

import msgspec

from service.realtime.presence.base import Entry, RoomPresence
from service.realtime.redis_client import connect

_decode_member = msgspec.json.Decoder(tuple[str, str, str]).decode
_encode = msgspec.json.Encoder().encode


class RedisPresence:
    """This node's view of presence in a shared Redis."""

    def __init__(
        self, url: str, node_id: str, ttl_seconds: float, *, prefix: str = "sideline",
        clock: Callable[[], float] = time.time, timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._node = node_id
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._clock = clock
        self._mine: dict[tuple[str, str], str] = {}

    def _key(self, room: str) -> str:
        return f"{self._prefix}:presence:{room}"

    def _member(self, user_id: str, name: str) -> bytes:
        return _encode((self._node, user_id, name))

    async def add(self, room: str, user_id: str, name: str) -> None:
        self._mine[(room, user_id)] = name
        await self.refresh([(room, user_id, name)])

    async def remove(self, room: str, user_id: str, name: str) -> None:
        if self._mine.get((room, user_id)) == name:  # not the entry a rename just added
            del self._mine[(room, user_id)]
        await self._redis.zrem(self._key(room), self._member(user_id, name))

    async def refresh(self, entries: Collection[Entry]) -> None:
        if not entries:
            return
        expires = self._clock() + self._ttl
        ttl = max(1, int(self._ttl) + 1)
        async with self._redis.pipeline(transaction=False) as pipe:
            for room, user_id, name in entries:
                pipe.zadd(self._key(room), {self._member(user_id, name): expires})
            for room in {e[0] for e in entries}:
                pipe.expire(self._key(room), ttl)
            await pipe.execute()

    async def snapshot(self, rooms: Sequence[str], list_max: int) -> dict[str, RoomPresence]:
        if not rooms:
            return {}
        now = self._clock()
        async with self._redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.zremrangebyscore(self._key(room), "-inf", now)
                pipe.zcard(self._key(room))
            found = await pipe.execute()
        sizes = dict(zip(rooms, found[1::2], strict=True))
        small = [room for room, n in sizes.items() if n <= 2 * list_max]
        listed: dict[str, list[bytes]] = {}
        if small:
            async with self._redis.pipeline(transaction=False) as pipe:
                for room in small:
                    pipe.zrange(self._key(room), 0, -1)
                listed = dict(zip(small, await pipe.execute(), strict=True))
        out: dict[str, RoomPresence] = {}
        for room in rooms:
            if room not in listed:
                out[room] = RoomPresence(count=int(sizes[room]))
                continue
            users = {user: name for _, user, name in map(_decode_member, listed[room])}
            out[room] = RoomPresence(
                count=len(users), members=users if len(users) <= list_max else None
            )
        return out

    async def close(self) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for (room, user_id), name in self._mine.items():
                    pipe.zrem(self._key(room), self._member(user_id, name))
                await pipe.execute()
        finally:
            self._mine.clear()
            await self._redis.aclose()
