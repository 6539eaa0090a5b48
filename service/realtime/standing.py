"""What a node that starts learns from the others: their standing decisions and recent events.

Pub/sub carries events between running nodes, but a node that starts (or restarts) rebuilds
its state from its own log shard only. Without more it would not know of a ban, a mute, a
shadow-ban, a room mode, a pin, a role grant or a moderation policy set through another node
before it started, and would let a banned user post; and its rooms' history would lack the
other nodes' messages. So each node also records in Redis:

- per subject (a user's ban in a room, a room's mode ...), the latest standing event, in one
  hash: a newer event replaces an older one whatever order the nodes write in (compared by
  time, then by event id, inside Redis), so nothing standing ever ages out;
- every committed event, in a stream capped at ``redis_recent_events`` entries (about, as
  Redis trims whole nodes of the stream): recent messages, reactions, polls and deletions.

A starting node reads both and applies what other nodes recorded (standing events oldest
first, then the stream in publication order) before it subscribes to live events. Applying
an event twice is harmless: every standing event sets a value, and the stream's events of a
subject end with its newest.

One node with the memory broker has nothing to share: :class:`LocalStanding` keeps nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.domain.events import Event, EventType

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Event).decode


STANDING_TYPES = frozenset({
    EventType.USER_MUTED, EventType.USER_UNMUTED, EventType.USER_BANNED, EventType.USER_UNBANNED,
    EventType.USER_SHADOW_BANNED, EventType.ROLE_GRANTED, EventType.ROLE_REVOKED,
    EventType.ROOM_MODE_CHANGED, EventType.MESSAGE_PINNED, EventType.MODERATION_POLICY_CHANGED,
})  # fmt: skip
"""Event types that set a subject's standing (see :func:`standing_key`)."""


def standing_key(e: Event) -> str | None:
    """The subject whose standing ``e`` sets, or None for events that set none."""
    scope = "*" if e.payload.get("scope") == "global" else e.room_id
    match e.event_type:
        case EventType.USER_MUTED | EventType.USER_UNMUTED:
            return f"mute|{scope}|{e.user_id}"
        case EventType.USER_BANNED | EventType.USER_UNBANNED:
            return f"ban|{scope}|{e.user_id}"
        case EventType.USER_SHADOW_BANNED:
            return f"shadow|{scope}|{e.user_id}"
        case EventType.ROLE_GRANTED | EventType.ROLE_REVOKED:
            return f"role|{e.room_id}|{e.user_id}"
        case EventType.ROOM_MODE_CHANGED:
            return f"mode|{e.room_id}"
        case EventType.MESSAGE_PINNED:
            return f"pin|{e.room_id}"
        case EventType.MODERATION_POLICY_CHANGED:
            return f"policy|{e.payload.get('kind', '')}"
        case _:
            return None


def order_key(e: Event) -> str:
    """Sorts events of one subject in time order (fixed width: microseconds, then the id)."""
    micros = (e.occurred_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros:020d}{e.event_id:0>36}"


_ORDER_WIDTH = 56

# Replace the subject's entry only with a newer one; entries are "<order key>|<event JSON>".
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and string.sub(current, 1, string.len(ARGV[2])) >= ARGV[2] then
    return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
return 1
"""


class Standing(Protocol):
    """Where nodes leave the standing-setting events for nodes that start later."""

    async def remember(self, events: list[Event]) -> None:
        """Record the events among ``events`` that set a subject's standing."""

    def add_recent(self, events: Sequence[Event]) -> None:
        """Queue committed events for the recent stream; returns at once."""

    async def recall(self) -> list[Event]:
        """Every subject's latest standing event, oldest first, then the recent events."""

    async def close(self) -> None: ...


class LocalStanding:
    """One node: its own log already holds everything."""

    async def remember(self, events: list[Event]) -> None:
        return None

    def add_recent(self, events: Sequence[Event]) -> None:
        return None

    async def recall(self) -> list[Event]:
        return []

    async def close(self) -> None:
        return None


class RedisStanding:
    """The hash ``<prefix>:standing`` and the stream ``<prefix>:recent`` in one Redis."""

    lost = 0
    """Events that could not be recorded (Redis unreachable); logged each time."""

    def __init__(self, url: str, *, prefix: str = "sideline", recent_events: int = 50_000) -> None:
        self._redis = Redis.from_url(url)
        self._key = f"{prefix}:standing"
        self._recent_key = f"{prefix}:recent"
        self._recent_max = recent_events
        self._set_if_newer = self._redis.register_script(_SET_IF_NEWER)
        self._pending: list[bytes] = []
        self._writer: asyncio.Task[None] | None = None

    async def remember(self, events: list[Event]) -> None:
        for e in events:
            subject = standing_key(e)
            if subject is None:
                continue
            try:
                await self._set_if_newer(keys=[self._key], args=[subject, order_key(e), _encode(e)])
            except (RedisError, OSError) as exc:
                type(self).lost += 1
                log.error("could not record %s for nodes that start later: %s", subject, exc)

    def add_recent(self, events: Sequence[Event]) -> None:
        if self._recent_max <= 0:
            return
        self._pending += [_encode(e) for e in events]
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_recent())

    async def _write_recent(self) -> None:
        """One pipelined round trip for whatever events queued up meanwhile."""
        while self._pending:
            batch, self._pending = self._pending, []
            pipe = self._redis.pipeline(transaction=False)
            for data in batch:
                pipe.xadd(self._recent_key, {"e": data}, maxlen=self._recent_max, approximate=True)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                type(self).lost += len(batch)
                log.error("could not record %d events for nodes that start later: %s", len(batch), exc)

    async def recall(self) -> list[Event]:
        entries = await self._redis.hgetall(self._key)
        ordered = sorted(v if isinstance(v, bytes) else v.encode() for v in entries.values())
        events = [_decode(v[_ORDER_WIDTH + 1 :]) for v in ordered]
        if self._recent_max > 0:
            for _, fields in await self._redis.xrange(self._recent_key) or []:
                data = (fields or {}).get(b"e")
                if isinstance(data, bytes):
                    events.append(_decode(data))
        return events

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.wait({self._writer}, timeout=5)
        await self._redis.aclose()
