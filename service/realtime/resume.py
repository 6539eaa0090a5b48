"""Resume: what a reconnecting client missed, or a ``resync`` when that cannot be known.

A position is (epoch, seq) of one node's log shard. A client that joined through this node
resumes with ``join {after_seq, epoch}``: the missed events of the room are read from this
node's log (``seq > after_seq``) and rendered exactly as live fan-out renders them, filtered
for the recipient. Too many (more than ``max_events``), another epoch (another node, or a
new log file) or a position ahead of the log all answer ``resync``.

With many nodes, frames that other nodes committed carry those nodes' epochs. Their durable
record is in the other shards, which this node cannot read, so this node keeps the recent
ones per room in memory (:class:`RemoteLog`) and replays them when it can prove it holds
everything after the client's position: same process lifetime (``boot``), and nothing newer
than the position was evicted. Otherwise: ``resync``. Remote frames are idempotent for a
client (messages are keyed by ``message_id``, room and deleted frames carry full state), so
replaying from a lower bound is safe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import msgspec

from service.actions.context import Community
from service.identity import Identity
from service.protocol.frames import Join
from service.realtime.envelope import Out
from service.realtime.render import render


class RemoteLog:
    """Stream frames other nodes committed, per room, newest ``size`` kept, ``max_rooms`` rooms."""

    def __init__(self, size: int, max_rooms: int = 10_000) -> None:
        self._size = size
        self._max_rooms = max_rooms
        self._rings: dict[str, deque[Out]] = {}
        self.latest: dict[str, dict[str, int]] = {}
        """room -> epoch -> highest seq received."""
        self._evicted: dict[str, dict[str, int]] = {}

    def add(self, out: Out) -> None:
        ring = self._rings.get(out.room)
        if ring is None:
            if len(self._rings) >= self._max_rooms:
                self.forget(next(iter(self._rings)))
            ring = self._rings[out.room] = deque()
        if len(ring) >= self._size:
            self._evict(ring.popleft())
        ring.append(out)
        latest = self.latest.setdefault(out.room, {})
        latest[out.epoch] = max(latest.get(out.epoch, 0), out.seq)

    def since(self, room: str, positions: dict[str, int], user_id: str) -> list[Out] | None:
        """Frames for ``user_id`` newer than ``positions``; None when some may be missing."""
        evicted = self._evicted.get(room, {})
        if any(seq > positions.get(epoch, 0) for epoch, seq in evicted.items()):
            return None
        return [
            o for o in self._rings.get(room, ())
            if o.seq > positions.get(o.epoch, 0) and o.to in (None, user_id)
        ]  # fmt: skip

    def known(self, room: str) -> bool:
        return bool(self.latest.get(room))

    def _evict(self, old: Out) -> None:
        evicted = self._evicted.setdefault(old.room, {})
        evicted[old.epoch] = max(evicted.get(old.epoch, 0), old.seq)

    def forget(self, room: str) -> None:
        """Drop a room's frames; resuming clients behind them will be told to resync."""
        for old in self._rings.pop(room, ()):
            self._evict(old)


class Plan(msgspec.Struct, kw_only=True):
    """The outcome of a resume request."""

    frames: list[Out] = msgspec.field(default_factory=list)
    resync: str | None = None
    """Why the client must drop its state and take a fresh ``joined`` (None: resumed)."""
    seq: int = 0
    """Highest local seq covered by ``frames`` (or the client's own position)."""


async def plan(
    c: Community, remote: RemoteLog, boot: str, who: Identity, join: Join, max_events: int,
    published: Callable[[], int],
) -> Plan:  # fmt: skip
    """What ``who`` missed in ``join.room`` since ``join.after_seq`` (see module docstring).

    ``published`` gives the highest local seq the hub has published. The log's writer commits a batch before the event loop applies it to the
    state and publishes it, so a read can return events the state does not have yet:
    rendered now they would show the old state (a room frame with the old mode) under the
    new seq. Those are left out; the caller's socket is already joining, so they reach it
    live, once.
    """
    room, after = join.room, join.after_seq or 0
    if join.epoch != c.log.epoch:
        return Plan(resync="epoch differs: the log shard of this node is not the one you saw")
    if after > c.log.last_seq:
        return Plan(resync=f"position {after} is ahead of this log (last seq {c.log.last_seq})")
    local = await c.log.read(after, max_events + 1, room_id=room)
    if len(local) > max_events:
        return Plan(resync=f"more than {max_events} events were missed; reload the room")
    upto = published()
    local = [e for e in local if e.seq <= upto]
    frames = [o for e in local for o in render(c, e) if o.to in (None, who.user_id)]
    seq = max([after, *(e.seq for e in local)])
    positions = dict(join.remote or {})
    if join.boot != boot:
        if positions or remote.known(room):
            return Plan(resync="this node restarted; events of other nodes may be missing")
        return Plan(frames=frames, seq=seq)
    missed = remote.since(room, positions, who.user_id)
    if missed is None:
        return Plan(resync="too many events of other nodes were missed; reload the room")
    return Plan(frames=frames + missed, seq=seq)
