"""The standing store in Redis: the hash of standing decisions, the recent stream, and what
waits to be written to them (the package docstring tells the whole design)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import msgspec
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from service.domain.events import Event, uuid7
from service.eventlog.base import EventLog
from service.realtime.redis_client import as_text, connect
from service.realtime.standing.port import ReadBack
from service.realtime.standing.scripts import ADD_RECENT, CHANGED_SINCE, SET_IF_NEWER
from service.realtime.standing.subjects import (
    ORDER_WIDTH,
    STANDING_TYPES,
    Position,
    follows,
    order_key,
    standing_in,
    standing_key,
)

log = logging.getLogger(__name__)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Event).decode

RETRY_SECONDS = 0.25
"""Longest pause between tries to write what waits for Redis: short, so that the entries are
in the stream by the time other nodes read back the envelopes they lost (recovery.py waits up to
0.75 s for them)."""

WATCH_SECONDS = 2.0
"""How often a node checks that Redis still holds its mark (did not come back empty)."""

REREAD_SECONDS = 2.0
"""How often a running node asks whether the standing hash changed (recovery.py): a decision that
reached Redis through the hash alone (a restart after an outage) is enforced within about as
long as a lost envelope takes to be noticed (a heartbeat interval, then the read back). An
unchanged hash costs one small script run per node per look (measured in the module
docstring), so a shorter period would cost little more; a longer one leaves a banned user
posting longer through the nodes that had not heard of the ban."""

_BATCH = 500
"""Stream entries written per round trip (one script run: Redis does nothing else meanwhile)."""

_PAGE = 1_000
"""Stream entries read per round trip when reading back."""


class RedisStanding:
    """The hash ``<prefix>:standing`` and the stream ``<prefix>:recent`` in one Redis.

    ``log``: this node's log, whose standing state is written to the hash at start, when Redis
    answers again after failing and when Redis lost it (None: never)."""

    lost = 0
    """Stream entries dropped unwritten: more than ``recent_events`` waited (Redis down)."""

    def __init__(
        self, url: str, *, prefix: str = "sideline", recent_events: int = 50_000,
        timeout_seconds: float = 5.0, log: EventLog | None = None,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._key = f"{prefix}:standing"
        self._version_keys = [self._key, f"{prefix}:standing-version", f"{prefix}:standing-changes"]
        self._recent_key = f"{prefix}:recent"
        self._marks_key = f"{prefix}:recent-written"
        self._recent_max = recent_events
        self._set_if_newer = self._redis.register_script(SET_IF_NEWER)
        self._changed_since = self._redis.register_script(CHANGED_SINCE)
        self._writer_id = uuid7()
        self._version: tuple[bytes, bytes] = (b"", b"0")
        """The hash's version when this node last read it (``recall``, ``changed``)."""
        self._known: dict[str, str] = {}
        """Subject -> order key of the newest standing event this node's state holds, of those
        it applied from other nodes and its own since it started (its log's: ``reconcile``)."""
        self._add_recent = self._redis.register_script(ADD_RECENT)
        self._log = log
        self._standing: dict[str, tuple[str, bytes]] = {}
        """Subject -> (order key, event JSON) of its newest standing event not written yet."""
        self._pending: deque[tuple[str, bytes, str, str, str]] = deque()
        """Stream entries not written yet, oldest first: (mark, event, origin, boot, n). A mark
        is ``boot|n|i|epoch|seq``: the entry's envelope, its place in it, and its event."""
        self._writer: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._failing = False
        """The last write failed: the next one that succeeds also reconciles the log."""
        self._reconciling: asyncio.Task[None] | None = None
        self._round: asyncio.Future[bool] | None = None
        """Resolved when the writer's current round trip is over: True if it succeeded."""

    async def remember(self, events: list[Event]) -> None:
        """Queue the standing events for the writer and wait until they are written, or until
        a write fails (they stay queued, written when Redis is back). Never raises."""
        queued = {}
        for e in events:
            if (subject := standing_key(e)) is not None:
                self._keep_newest(subject, order_key(e), _encode(e))
                queued[subject] = self._standing[subject]
        self._write()
        while any(self._standing.get(s) == held for s, held in queued.items()):
            if self._round is None or not await asyncio.shield(self._round):
                return

    def _keep_newest(self, subject: str, order: str, data: bytes) -> None:
        """Queue an own standing event (the state holds it) for the hash, unless a newer one is."""
        held = self._standing.get(subject)
        if held is None or held[0] < order:
            self._standing[subject] = (order, data)
        self._know(subject, order)

    def _know(self, subject: str, order: str) -> None:
        if self._known.get(subject, "") < order:
            self._known[subject] = order

    def reflect(self, events: Sequence[Event]) -> None:
        for e in events:
            if e.event_type in STANDING_TYPES and (subject := standing_key(e)) is not None:
                self._know(subject, order_key(e))

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        if self._recent_max <= 0:
            return
        for i, e in enumerate(events):
            mark = f"{boot}|{n:020d}|{i:06d}|{e.epoch}|{e.seq}" if n else ""
            self._pending.append((mark, _encode(e), e.node_id if n else "", boot if n else "", str(n)))
        if self._failing:
            self._trim()
        self._write()

    def _trim(self) -> None:
        """More entries waiting for a Redis that does not answer than the stream keeps: the
        oldest would be trimmed at once (only then: a writer merely behind writes them all)."""
        over = len(self._pending) - self._recent_max
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            type(self).lost += over
            log.error("dropped %d events waiting for Redis: more than redis_recent_events "
                      "(%d) waited; nodes that start later miss them", over, self._recent_max)  # fmt: skip

    def _write(self) -> None:
        if self._round is None or self._round.done():
            self._round = asyncio.get_running_loop().create_future()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_back())
        if self._watcher is None and self._log is not None:
            self._watcher = asyncio.create_task(self._watch())

    async def _write_back(self) -> None:
        """Write what waits, in order: standing events, then stream entries (a bounded batch
        per round trip); on a failure keep it all and try again, after 0.05 s, doubling up to
        ``RETRY_SECONDS``, until Redis takes it."""
        wait = 0.05
        while self._standing or self._pending:
            standing = dict(self._standing)
            batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
            pipe = self._redis.pipeline(transaction=False)
            for subject, (order, data) in standing.items():
                await self._set_if_newer(
                    keys=self._version_keys, args=(subject, order, data, self._writer_id), client=pipe
                )  # fmt: skip
            if batch:
                args: list[str | bytes | int] = [self._recent_max]
                for entry in batch:
                    args += entry
                await self._add_recent(keys=[self._recent_key, self._marks_key], args=args, client=pipe)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:
                self._end_round(False)
                self._pending.extendleft(reversed(batch))
                self._trim()
                if not self._failing:
                    self._failing = True
                    log.error("could not record %d standing events and %d recent events in Redis "
                              "for the other nodes (%s): kept, written when Redis is back",
                              len(standing), len(self._pending), exc)  # fmt: skip
                await asyncio.sleep(wait)
                wait = min(wait * 2, RETRY_SECONDS)
                continue
            wait = 0.05
            for subject, held in standing.items():
                if self._standing.get(subject) == held:
                    del self._standing[subject]
            self._end_round(True)
            if self._failing and not self._standing and not self._pending:
                self._failing = False
                log.info("Redis is back: wrote the standing and recent events kept meanwhile")
                self.reconcile()  # Redis may have come back empty

    def _end_round(self, ok: bool) -> None:
        done, self._round = self._round, asyncio.get_running_loop().create_future()
        if done is not None and not done.done():
            done.set_result(ok)

    def reconcile(self) -> None:
        """Write this node's log's standing state into the hash (in the background)."""
        if self._log is not None and (self._reconciling is None or self._reconciling.done()):
            self._reconciling = asyncio.create_task(self._reconcile(self._log))

    async def _reconcile(self, event_log: EventLog) -> None:
        try:
            events = await standing_in(event_log)
        except Exception:
            log.exception("could not read the standing events of this node's log")
            return
        for e in events:
            if (subject := standing_key(e)) is not None:
                self._keep_newest(subject, order_key(e), _encode(e))
        if events:
            log.info("writing %d standing events of this node's log to Redis", len(events))
        self._write()

    async def _watch(self) -> None:
        """Every ``WATCH_SECONDS``: has Redis lost this node's mark (restarted empty)? Then
        write the log's standing state again (and mark it)."""
        assert self._log is not None
        node = self._log.node_id
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                if await self._redis.hsetnx(self._marks_key, f"{node}|up", "1"):
                    self.reconcile()
            except (RedisError, OSError):
                continue  # the writer says it, and reconciles once Redis answers

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        """(At start) also writes this node's log's standing state to Redis, in the background,
        and queues the log's events its last process did not write to the stream."""
        self.reconcile()
        await self._queue_unwritten()
        pipe = self._redis.pipeline(transaction=True)
        pipe.hmget(self._version_keys[1], "id", "n")
        pipe.hgetall(self._key)
        (version_id, n), entries = await pipe.execute()
        self._version = (version_id or b"", n or b"0")
        ordered = sorted(v if isinstance(v, bytes) else v.encode() for v in entries.values())
        events = [_entry_event(v) for v in ordered]
        if self._recent_max > 0:
            for _, fields in await self._redis.xrange(self._recent_key) or []:
                data = (fields or {}).get(b"e")
                if isinstance(data, bytes):
                    events.append(_decode(data))
                if newest is not None and (at := _carried_by(fields)) is not None:
                    origin, position = at
                    newest[origin] = max(newest.get(origin, position), position)
        return events

    async def _queue_unwritten(self) -> None:
        """Queue, first, the events of this node's log past the last entry its processes wrote
        to the stream (its mark names the event): those a process killed while Redis did not
        take them had kept in memory, or committed and never published. At most the newest
        ``recent_events``. Their envelopes' numbers are not in the log, so they are written
        without one, naming the process that wrote the mark (``r``): nodes that start later
        read them (``recall``); a running node's read back skips them, as any entry without
        an envelope. Nothing when Redis holds no mark of this log (it lost it: what was
        written is unknown) or the log cannot be read (logged)."""
        if self._log is None or self._recent_max <= 0:
            return
        parts = as_text(await self._redis.hget(self._marks_key, self._log.node_id) or b"").split("|")
        if len(parts) != 5 or parts[3] != self._log.epoch or not parts[4].isdigit():
            return
        boot, n, end = parts[0], parts[1], self._log.last_seq
        after = max(int(parts[4]), end - self._recent_max)
        try:
            events = await self._log.read(after, end - after) if end > after else []
        except Exception:
            log.exception("could not read the events of this node's log not written to Redis")
            return
        origin = self._log.node_id
        self._pending.extendleft(reversed([
            (f"{boot}|{n}|~{e.seq:020d}|{e.epoch}|{e.seq}", _encode(e), origin, boot, "")
            for e in events
        ]))  # fmt: skip
        if events:
            log.warning("writing %d events of this node's log (seq %d to %d) its last process "
                        "did not write to the recent stream", len(events), events[0].seq,
                        events[-1].seq)  # fmt: skip
            self._write()

    async def changed(self) -> list[Event]:
        """One script run: the version only, when the hash is as last read; else the entries of
        the subjects written since (all of them when Redis came back empty), of which those
        newer than what the state holds, not this node's own (its state has its log's), are
        decoded. Nothing while this node's start-up write of its log's standing state is not
        queued yet (an older entry of another node must not override the log's newer one),
        nor when Redis does not answer (the writer says it)."""
        if self._reconciling is not None and not self._reconciling.done():
            return []
        try:
            reply = await self._changed_since(keys=self._version_keys, args=list(self._version))
        except (RedisError, OSError):
            return []
        self._version = (reply[0], reply[1])
        own = self._log.node_id if self._log is not None else None
        newer = sorted(
            entry for subject, entry in zip(reply[2::2], reply[3::2], strict=True)
            if entry[:ORDER_WIDTH].decode() > self._known.get(subject.decode(), "")
        )  # fmt: skip
        return [e for e in map(_entry_event, newer) if e.node_id != own]

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
            page = await self._page(top)
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

    async def _page(self, top: str) -> list[Any]:
        """Entries from ``top`` back; tried again once on a connection Redis closed (pooled
        before Redis restarted: the read back after an outage is just when that happens)."""
        for again in (True, False):
            try:
                return await self._redis.xrevrange(self._recent_key, max=top, min="-", count=_PAGE) or []
            except RedisConnectionError:
                if not again:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        if self._reconciling is not None:
            await asyncio.wait({self._reconciling}, timeout=5)
        if self._writer is not None:
            await asyncio.wait({self._writer}, timeout=5)
            if not self._writer.done():
                self._writer.cancel()
                self._end_round(False)
                log.error("stopping with %d standing and %d recent events not written to Redis "
                          "(the standing ones are written when this node starts again)",
                          len(self._standing), len(self._pending))  # fmt: skip
        await self._redis.aclose()


def _entry_event(entry: bytes) -> Event:
    """The event of a hash entry, ``<order key>|<event JSON>`` (as ``SET_IF_NEWER`` writes it)."""
    return _decode(entry[ORDER_WIDTH + 1 :])


def _carried_by(fields: Mapping[Any, Any] | None) -> tuple[str, Position] | None:
    """The publisher and position of the envelope that carried a stream entry's event."""
    fields = fields or {}
    origin, boot, n = fields.get(b"o"), fields.get(b"b"), fields.get(b"n")
    if not origin or not boot or n is None:
        return None
    return origin.decode(), (boot.decode(), int(n))
