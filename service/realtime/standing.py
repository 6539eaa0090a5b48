"""What a node that starts learns from the others: their standing decisions and recent events.

Pub/sub carries events between running nodes, but a node that starts (or restarts) rebuilds
its state from its own log shard only. Without more it would not know of a ban, a mute, a
shadow-ban, a room mode, a pin, a role grant, a moderation policy or a poll's close set through
another node before it started, and would let a banned user post; and its rooms' history would lack the
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

A running node reads the stream again when envelopes were lost on their way to it (hub.py,
``Hub._recover``). Its state already holds most of what the stream holds, and applying a
message twice would put it in history twice, so each entry also names the envelope that
carried the event (its publisher's node, process and number, envelope.py): the node reads
back from the newest entry only until it meets, for each publisher concerned, an envelope it
had already received (:meth:`RedisStanding.since`), and applies only the newer ones.

One node with the memory broker has nothing to share: :class:`LocalStanding` keeps nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec
from redis.exceptions import RedisError

from service.domain.events import Event, EventType
from service.realtime.redis_client import connect

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Event).decode


STANDING_TYPES = frozenset({
    EventType.USER_MUTED, EventType.USER_UNMUTED, EventType.USER_BANNED, EventType.USER_UNBANNED,
    EventType.USER_SHADOW_BANNED, EventType.ROLE_GRANTED, EventType.ROLE_REVOKED,
    EventType.ROOM_MODE_CHANGED, EventType.MESSAGE_PINNED, EventType.MODERATION_POLICY_CHANGED,
    EventType.POLL_CLOSED,
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
        case EventType.POLL_CLOSED:
            return f"poll|{e.payload.get('poll_id', '')}"
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


Position = tuple[str, int]
"""Where an envelope stands among its publisher's: its process (``boot``, a uuid7, so later
processes sort later) and its number in that process."""

_PAGE = 1_000
"""Stream entries read per round trip when reading back."""


class ReadBack(msgspec.Struct, kw_only=True):
    """What the recent stream holds after the positions a node had received."""

    events: list[Event] = msgspec.field(default_factory=list)
    """Events of envelopes after those positions, in publication order."""
    carried: list[Position] = msgspec.field(default_factory=list)
    """The envelope (its publisher's position) that carried each of ``events``, in step."""
    newest: dict[str, Position] = msgspec.field(default_factory=dict)
    """Publisher node -> the newest envelope of it in the stream (of the publishers read)."""
    complete: bool = True
    """False when entries after a position may have been trimmed away (or the stream is off)."""


class Standing(Protocol):
    """Where nodes leave the standing-setting events for nodes that start later."""

    async def remember(self, events: list[Event]) -> None:
        """Record the events among ``events`` that set a subject's standing."""

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        """Queue committed events, carried by envelope ``n`` of process ``boot``, for the
        recent stream; returns at once."""

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        """Every subject's latest standing event, oldest first, then the recent events; the
        newest envelope of each publisher in the stream goes into ``newest``."""

    async def since(
        self, known: Mapping[str, Position], origins: Collection[str] | None, own: str
    ) -> ReadBack:
        """The recent events of ``origins`` (None: every node but ``own``) carried by
        envelopes after the ``known`` position of their publisher (all of an unknown one's)."""

    async def close(self) -> None: ...


class LocalStanding:
    """One node: its own log already holds everything."""

    async def remember(self, events: list[Event]) -> None:
        return None

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        return None

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        return []

    async def since(
        self, known: Mapping[str, Position], origins: Collection[str] | None, own: str
    ) -> ReadBack:
        return ReadBack()  # one node: no other node's envelopes to lose

    async def close(self) -> None:
        return None


class RedisStanding:
    """The hash ``<prefix>:standing`` and the stream ``<prefix>:recent`` in one Redis."""

    lost = 0
    """Events that could not be recorded (Redis unreachable); logged each time."""

    def __init__(
        self, url: str, *, prefix: str = "sideline", recent_events: int = 50_000,
        timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._key = f"{prefix}:standing"
        self._recent_key = f"{prefix}:recent"
        self._recent_max = recent_events
        self._set_if_newer = self._redis.register_script(_SET_IF_NEWER)
        self._pending: list[dict[Any, Any]] = []
        """Stream entries to write: the event, and the envelope that carried it."""
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

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        if self._recent_max <= 0:
            return
        self._pending += [
            {"e": _encode(e), "o": e.node_id, "b": boot, "n": n} if n else {"e": _encode(e)}
            for e in events
        ]  # fmt: skip
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_recent())

    async def _write_recent(self) -> None:
        """One pipelined round trip for whatever events queued up meanwhile."""
        while self._pending:
            batch, self._pending = self._pending, []
            pipe = self._redis.pipeline(transaction=False)
            for fields in batch:
                pipe.xadd(self._recent_key, fields, maxlen=self._recent_max, approximate=True)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                type(self).lost += len(batch)
                log.error("could not record %d events for nodes that start later: %s", len(batch), exc)

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        entries = await self._redis.hgetall(self._key)
        ordered = sorted(v if isinstance(v, bytes) else v.encode() for v in entries.values())
        events = [_decode(v[_ORDER_WIDTH + 1 :]) for v in ordered]
        if self._recent_max > 0:
            for _, fields in await self._redis.xrange(self._recent_key) or []:
                data = (fields or {}).get(b"e")
                if isinstance(data, bytes):
                    events.append(_decode(data))
                if newest is not None and (at := _carried_by(fields)) is not None:
                    origin, position = at
                    newest[origin] = max(newest.get(origin, position), position)
        return events

    async def since(
        self, known: Mapping[str, Position], origins: Collection[str] | None, own: str
    ) -> ReadBack:
        """Reads back from the newest entry, a page at a time, until every publisher of
        ``origins`` (every known one when None) has shown an entry at or before its known
        position: its older entries are older still (one writer per node, in order). So it
        reads about what was published since the loss, the whole stream at worst (capped).

        Complete unless a publisher's known position was not met, it has newer entries and
        the first of them does not follow that position, and the stream is full: Redis
        trims it only then (from the oldest entry), so entries after the position may be gone.
        Entries written without a position (before envelopes were numbered) are skipped."""
        if self._recent_max <= 0:
            return ReadBack(complete=False)
        pending = {o for o in (known if origins is None else origins) if o != own}
        newer: list[tuple[str, Position, bytes]] = []
        read = ReadBack()
        top, total, whole = "+", 0, False
        while True:
            page = await self._redis.xrevrange(self._recent_key, max=top, min="-", count=_PAGE) or []
            total += len(page)
            for entry_id, entry in page:
                top = f"({entry_id.decode() if isinstance(entry_id, bytes) else entry_id}"
                fields: Mapping[Any, Any] = entry or {}
                at = _carried_by(fields)
                if at is None or at[0] == own or (origins is not None and at[0] not in origins):
                    continue
                origin, position = at
                read.newest.setdefault(origin, position)  # newest first
                mark = known.get(origin)
                if mark is not None and position <= mark:
                    pending.discard(origin)
                elif isinstance(data := fields.get(b"e"), bytes):
                    newer.append((origin, position, data))
            if len(page) < _PAGE:
                whole = True
                break
            if not pending:
                break
        newer.reverse()
        read.events = [_decode(data) for _, _, data in newer]
        read.carried = [position for _, position, _ in newer]
        if whole and total >= self._recent_max:
            first = {o: p for o, p, _ in reversed(newer)}  # the oldest newer entry per origin
            read.complete = all(
                o not in first or follows(first[o], known[o]) for o in pending if o in known
            )  # fmt: skip
        return read

    async def close(self) -> None:
        if self._writer is not None:
            await asyncio.wait({self._writer}, timeout=5)
        await self._redis.aclose()


def _carried_by(fields: Mapping[Any, Any] | None) -> tuple[str, Position] | None:
    """The publisher and position of the envelope that carried a stream entry's event."""
    fields = fields or {}
    origin, boot, n = fields.get(b"o"), fields.get(b"b"), fields.get(b"n")
    if not origin or not boot or n is None:
        return None
    return origin.decode(), (boot.decode(), int(n))


def follows(position: Position, last: Position) -> bool:
    """Is ``position`` the envelope numbered right after ``last`` of the same publisher? A new
    process of the publisher (another boot) starts again at 1."""
    return position[1] == (last[1] + 1 if position[0] == last[0] else 1)
