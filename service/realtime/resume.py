"""Resume: what a reconnecting client missed, or a ``resync`` when that cannot be known.

A position is (epoch, seq) of one node's log shard. A client that joined through this node
resumes with ``join {after_seq, epoch}``: the missed events of the room are read from this
node's log (``seq > after_seq``) and rendered exactly as live fan-out renders them, filtered
for the recipient. Too many (more than ``max_events``), another epoch (another node, or a
new log file) or a position ahead of the log all answer ``resync``.

With many nodes, frames that other nodes committed carry those nodes' epochs. Their durable
record is in the other shards, which this node cannot read, so this node keeps the recent
ones in memory (:class:`RemoteLog`) for the rooms its own sockets are in, and replays them
when it can prove it holds everything after the client's position: the same record of the
room (``boot``, given in ``joined``), and nothing newer than the position was evicted.
Otherwise: ``resync``. Remote frames are idempotent for a client (messages are keyed by
``message_id``, room and deleted frames carry full state), so replaying from a lower bound is
safe. A replay gives this node's frames and the other nodes' in the room's one order (as
history): by the time of their events, then event id.

The record of a room lives while a local socket is in it, and for ``LINGER_SECONDS`` after
the last one left (at most ``MAX_IDLE_ROOMS`` such rooms, the longest idle forgotten first),
so that a client that dropped can come back and resume; then it is forgotten. Frames of rooms
no local socket is in are not kept at all: every node receives every room's frames, and
one entry per room ever seen would grow without bound. A record made again later has a new
``boot``, so a position from the old one is answered ``resync``, never an incomplete replay.

Frames can also be lost before they get here: Redis pub/sub is at-most-once. When the hub
learns that envelopes were lost (a number skipped, or its subscription made again), it calls
:meth:`RemoteLog.lost`: the record of every room that lost frames starts again, empty and with
a new ``boot``, so no resume is proven across the gap. Those are the rooms of the lost events
when the hub could read them all back, else every room.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime

import msgspec

from service.actions.context import Community
from service.domain.events import Event, uuid7
from service.domain.records import HistoryKey, history_key
from service.identity import Identity
from service.protocol.frames import Join
from service.realtime.envelope import Out
from service.realtime.render import render

LINGER_SECONDS = 300.0
"""How long a room's remote frames are kept after its last local socket left."""
MAX_IDLE_ROOMS = 1_000
"""Most rooms without local sockets whose remote frames are kept (for resume)."""


class _Room:
    __slots__ = ("boot", "cause", "evicted", "latest", "ring")

    def __init__(self, cause: str = "") -> None:
        self.boot = uuid7()
        self.cause = cause
        """Why the record before this one can no longer serve a resume ("": it was forgotten)."""
        self.ring: deque[tuple[HistoryKey, Out]] = deque()
        """Frames in arrival order, each with the time and event id of its event."""
        self.latest: dict[str, int] = {}
        """epoch -> highest seq received."""
        self.evicted: dict[str, int] = {}
        """epoch -> highest seq dropped from the ring."""


class RemoteLog:
    """Frames other nodes committed, the newest ``size`` per room, for rooms held here.

    ``shared``: this node receives other nodes' frames (a broker shared by several nodes).
    Times (``now``) are the caller's monotonic clock, in seconds.
    """

    def __init__(
        self, size: int, *, shared: bool = True, linger: float = LINGER_SECONDS,
        max_idle: int = MAX_IDLE_ROOMS,
    ) -> None:  # fmt: skip
        self._size = size
        self.shared = shared
        self._linger = linger
        self._max_idle = max_idle
        self._rooms: dict[str, _Room] = {}
        self._idle: dict[str, float] = {}
        """Rooms without local sockets -> since when, oldest first."""

    def __len__(self) -> int:
        return len(self._rooms)

    def track(self, room: str) -> None:
        """A local socket is joining ``room``: keep its remote frames from now on."""
        if room not in self._rooms:
            self._rooms[room] = _Room()
        self._idle.pop(room, None)

    def release(self, room: str, now: float) -> None:
        """The last local socket left ``room``: keep its frames ``linger`` seconds longer."""
        if room not in self._rooms:
            return
        self._idle.pop(room, None)
        self._idle[room] = now
        while len(self._idle) > self._max_idle:
            self.forget(next(iter(self._idle)))

    def sweep(self, now: float) -> None:
        """Forget the rooms idle for longer than ``linger``."""
        for room, since in list(self._idle.items()):
            if now - since < self._linger:
                break
            self.forget(room)

    def forget(self, room: str) -> None:
        """Drop a room's record; clients resuming with its ``boot`` will be told to resync."""
        self._rooms.pop(room, None)
        self._idle.pop(room, None)

    def lost(self, cause: str, rooms: Collection[str] | None = None) -> None:
        """Frames of other nodes may have been lost on their way here, in ``rooms`` (None: in
        any room): their records start again (a new ``boot``), so a position from before gets
        ``resync``. The other rooms' records lost nothing and still serve resumes."""
        for room in self._rooms if rooms is None else [r for r in rooms if r in self._rooms]:
            self._rooms[room] = _Room(cause)

    def add(self, out: Out, at: HistoryKey | None = None) -> None:
        """Keep ``out``, a frame of the event at ``at`` (its time, then its id; None: where
        the frame before it is)."""
        record = self._rooms.get(out.room)
        if record is None:
            return  # no local socket in the room, nor lately
        if at is None:
            at = record.ring[-1][0] if record.ring else (datetime.min.replace(tzinfo=UTC), "")
        if len(record.ring) >= self._size:
            _, old = record.ring.popleft()
            record.evicted[old.epoch] = max(record.evicted.get(old.epoch, 0), old.seq)
        record.ring.append((at, out))
        record.latest[out.epoch] = max(record.latest.get(out.epoch, 0), out.seq)

    def boot(self, room: str) -> str:
        """Identifies the current record of ``room`` ("" when there is none)."""
        record = self._rooms.get(room)
        return record.boot if record is not None else ""

    def latest(self, room: str) -> dict[str, int]:
        """Epoch -> highest seq received of other nodes' frames in ``room``."""
        record = self._rooms.get(room)
        return dict(record.latest) if record is not None else {}

    def since(self, room: str, positions: dict[str, int], user_id: str) -> list[Out] | None:
        """Frames for ``user_id`` newer than ``positions``; None when some may be missing."""
        held = self.since_at(room, positions, user_id)
        return None if held is None else [out for _, out in held]

    def since_at(
        self, room: str, positions: dict[str, int], user_id: str
    ) -> list[tuple[HistoryKey, Out]] | None:
        """:meth:`since`, each frame with the time and id of its event."""
        record = self._rooms.get(room)
        if record is None:
            return None
        if any(seq > positions.get(epoch, 0) for epoch, seq in record.evicted.items()):
            return None
        return [
            (at, o) for at, o in record.ring
            if o.seq > positions.get(o.epoch, 0) and o.to in (None, user_id)
        ]  # fmt: skip

    def known(self, room: str) -> bool:
        record = self._rooms.get(room)
        return record is not None and bool(record.latest)

    def cause(self, room: str) -> str:
        """Why positions from before the current record of ``room`` cannot be served."""
        record = self._rooms.get(room)
        return (record.cause if record is not None else "") or (
            "this node no longer holds the room's events of other nodes"
        )


class Plan(msgspec.Struct, kw_only=True):
    """The outcome of a resume request."""

    frames: list[Out] = msgspec.field(default_factory=list)
    resync: str | None = None
    """Why the client must drop its state and take a fresh ``joined`` (None: resumed)."""
    seq: int = 0
    """Highest local seq covered by ``frames`` (or the client's own position)."""


async def plan(
    c: Community, remote: RemoteLog, who: Identity, join: Join, max_events: int,
    delivered: Callable[[], int],
) -> Plan:  # fmt: skip
    """What ``who`` missed in ``join.room`` since ``join.after_seq`` (see module docstring).

    ``delivered`` gives the highest local seq whose frames the hub has handed to its sockets
    (``Hub.delivered_seq``). The log's writer commits a batch before the event loop applies it
    to the state and publishes it, and the broker brings a published envelope back later, so
    a read can return events whose frames are still on their way: rendered now they could show
    the old state (a room frame with the old mode) under the new seq, and their frames would
    follow. Those are left out; the caller's socket is already joining, so they reach it live,
    once. This node's frames and the other nodes' go out merged in the room's one order, by
    the time of their events, then event id.
    """
    room, after = join.room, join.after_seq or 0
    if join.epoch is None:
        return Plan(resync="after_seq without its epoch: a position is joined's (epoch, seq)")
    if join.epoch != c.log.epoch:
        return Plan(resync="epoch differs: the log shard of this node is not the one you saw")
    if after > c.log.last_seq:
        return Plan(resync=f"position {after} is ahead of this log (last seq {c.log.last_seq})")
    local = await c.log.read(after, max_events + 1, room_id=room)
    if len(local) > max_events:
        return Plan(resync=f"more than {max_events} events were missed; reload the room")
    upto = delivered()
    local = [e for e in local if e.seq <= upto]
    frames = [(history_key(e), o) for e in local for o in _rendered(c, e, who.user_id)]
    seq = max([after, *(e.seq for e in local)])
    positions = dict(join.remote or {})
    if join.boot != remote.boot(room):
        # Another process, or this node forgot the room meanwhile: frames of other nodes
        # received in between (if there are other nodes) are not here to replay.
        if remote.shared or positions or remote.known(room):
            return Plan(resync=remote.cause(room))
        return Plan(frames=[o for _, o in frames], seq=seq)
    missed = remote.since_at(room, positions, who.user_id)
    if missed is None:
        return Plan(resync="too many events of other nodes were missed; reload the room")
    # stable: the frames of one event, and a node's frames of one instant, keep their order
    return Plan(frames=[o for _, o in sorted(frames + missed, key=lambda p: p[0])], seq=seq)


def _rendered(c: Community, e: Event, user_id: str) -> list[Out]:
    return [o for o in render(c, e) if o.to in (None, user_id)]
