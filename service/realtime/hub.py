"""The real-time hub of one node: committed events in, frames out to this node's sockets.

Publication: :meth:`Hub.publish` is the :class:`~service.actions.context.Notifier` that
``Community.commit`` calls after the log committed and the state applied a batch, and only
then. It renders the frames once, encodes them once and publishes one envelope to the broker.

Delivery: every node (this one included) receives every envelope once, in publication order.
A node that did not commit the events applies them to its own projection first, so a mute,
a mode change or a poll made through node A is enforced and shown on node B. Then each frame
is handed, as the same text object, to the bounded outbox of every local socket in its room.

Losses: the broker may lose envelopes (Redis pub/sub is at-most-once). Every ``events``
envelope carries its publisher's process (``boot``) and number (``n``, gap-free), so a skipped
number is noticed at the next envelope of that publisher, or at its next heartbeat (a ``beat``
envelope every presence interval, with other nodes only, carrying the number it reached), and
the broker says when its subscription was made again. Typing and crowd envelopes are not
numbered: their signals are in no stream to read back, and a lost one costs nothing more.
Frames may then be missing here, and other nodes' events in this node's state. The node first
reads the lost events back from the recent stream in Redis (realtime/standing/), applies those it had
not received and runs their per-socket effects (a lost ban still takes the user's sockets out);
then, in each room that lost frames, the record of other nodes' frames starts again (no resume
is proven across the gap, resume.py) and every joined socket is told ``resync``, then gets a
fresh ``joined`` from the state that now holds them. Those are the rooms of the frames the lost
events render to when the stream held them all; every room when it may not have (trimmed, not
written yet, Redis unreachable), when the lost envelopes were this node's own (it does not keep
what they carried), and after an interrupted subscription (this node's own may be missing
too). A gap in one room of many so reloads that room only. An envelope whose events were read
back arrives later, if at all, as a stale number and is dropped; the ones after the gap are
left to arrive as usual. All of this runs only on a gap: an envelope in order costs what it
did.

This node's own lost envelopes: their events are in its state, so ``delivered_seq`` moves past
them before the reload (the fresh ``joined`` covers them) and their per-socket effects run
then; after an interrupted subscription every own envelope not back yet counts as lost, and
one arriving after all is dropped. Other nodes' lost envelopes the recent stream did not hold
(their node could not write it while Redis was down, and writes it when Redis is back) are
looked for again (:meth:`Hub.recover_late`); found, they are applied and their rooms reload.
Standing decisions of other nodes that reached Redis through the standing hash alone (their
node wrote its log's standing state there when it started again) are read every
``REREAD_SECONDS`` and applied with their effects (:meth:`Hub.reread_standing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from service.actions import rooms as room_actions
from service.actions.context import Community
from service.actions.moderation import note_posts_elsewhere
from service.domain.events import Event, EventType, uuid7
from service.domain.records import history_key
from service.domain.rooms import Role
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol import frames as f
from service.realtime import effects
from service.realtime.background import Background
from service.realtime.brokers.base import Broker
from service.realtime.coalesce import Coalescer, Throttle
from service.realtime.connection import Connection
from service.realtime.envelope import (
    KINDS,
    MODERATORS,
    Envelope,
    Out,
    decode_envelope,
    decode_events,
    encode_envelope,
    events_raw,
)  # fmt: skip
from service.realtime.outbox import FRAME, Message, frame_bytes
from service.realtime.presence.base import PresenceStore
from service.realtime.render import has_effects, render
from service.realtime.resume import RemoteLog
from service.realtime.roster import Roster
from service.realtime.standing import (
    REREAD_SECONDS,
    STANDING_TYPES,
    LocalStanding,
    Position,
    ReadBack,
    Standing,
    follows,
)  # fmt: skip
from service.realtime.typing_gate import TypingGate
from service.settings import RealtimeSettings

log = logging.getLogger(__name__)

READ_BACK_WAITS = (0.05, 0.1, 0.2, 0.4)
"""Pauses between reads of the recent stream that does not reach a gap yet (0.75 s in all)."""
LATE_SECONDS = 600.0
"""How long the recent stream is looked at again for lost events it did not hold (their
publisher writes the entries that failed again once Redis is back): ``Hub.recover_late``."""
LATE_EVERY_SECONDS = 2.0
"""How often (at most) the recent stream is read for them: each read goes back to the gap."""
MAX_HOLES = 1_000
"""Most runs of lost envelopes looked for at once (the oldest given up first)."""


@dataclass(eq=False)
class Hole:
    """Envelopes of ``origin`` after ``after`` and before ``before`` were lost on their way
    here, and the recent stream did not hold them when the gap was read back."""

    origin: str
    after: Position
    before: Position
    since: float
    """Loop time the gap was found."""
    found: set[Position] = field(default_factory=set)
    """Envelopes of the run read back later."""

    def holds(self, at: Position) -> bool:
        return self.after < at < self.before and at not in self.found

    def filled(self) -> bool:
        last = self.after
        for at in sorted(self.found):
            if not follows(at, last):
                return False
            last = at
        return follows(self.before, last)


def holes_in(origin: str, known: Position | None, carried: Sequence[Position],
             end: Position | None, now: float) -> list[Hole]:  # fmt: skip
    """The runs of envelopes of ``origin`` missing from ``carried`` (the envelopes read back,
    any order) after ``known`` and before ``end`` (None: up to the newest read). Envelopes
    are numbered without a gap per process, so a number skipped is one the stream lacks."""
    holes: list[Hole] = []
    last = known
    for at in sorted(set(carried)):
        if end is not None and at >= end:
            break
        if last is not None and at <= last:
            continue
        if last is not None and not follows(at, last):
            holes.append(Hole(origin, last, at, now))
        last = at
    if end is not None and last is not None and last < end and not follows(end, last):
        holes.append(Hole(origin, last, end, now))
    return holes


@dataclass(eq=False)
class Members:
    """This node's sockets in one room."""

    live: dict[Connection, Callable[..., bool]] = field(default_factory=dict)
    """Joined sockets -> their outbox's ``push`` (bound once: fan-out is the hot loop)."""
    joining: dict[Connection, list[Out]] = field(default_factory=dict)
    """Sockets between ``join`` and ``joined``: live frames wait here, deduplicated later."""


@dataclass
class HubStats:
    envelopes: int = 0
    deliveries: int = 0
    slow_consumers: int = 0
    remote_events: int = 0
    remote_apply_errors: int = 0
    delivery_gaps: int = 0
    """Times envelopes were (or may have been) lost on their way here."""
    unrecovered_gaps: int = 0
    """Gaps whose lost events the recent stream may no longer have held (trimmed, or off)."""


class Hub:
    """Fan-out, presence, typing and crowd reactions of one node."""

    def __init__(
        self, community: Community, settings: RealtimeSettings, broker: Broker,
        presence: PresenceStore, standing: Standing | None = None,
    ) -> None:  # fmt: skip
        self.c = community
        self.settings = settings
        self.broker = broker
        self.standing: Standing = standing or LocalStanding()
        self._remembering = Background()
        self.node_id = community.log.node_id
        self.boot = uuid7()
        """Identifies this process's lifetime (in the log)."""
        self.rooms: dict[str, Members] = {}
        self.published_seq = 0
        """Highest local seq handed to the broker; the state includes everything up to it."""
        self.delivered_seq = 0
        """Highest local seq whose frames the broker has brought back and this hub has handed to
        its sockets: where a join's history or replay ends (joining.py), since frames of later
        events still reach the joining socket, and earlier ones would be sent twice."""
        self._unheard: deque[tuple[int, int, list[Event]]] = deque()
        """(n, published_seq after it, its events with effects) of own ``events`` envelopes
        not received back yet."""
        self.remote = RemoteLog(settings.remote_buffer_size, shared=settings.broker != "memory")
        self._numbered = 0
        """``events`` envelopes this process published (the ``n`` of the last one)."""
        self._beats = settings.broker != "memory"
        """Heartbeats go out only to other nodes (one node with the memory broker has none)."""
        self._heard: dict[str, Position] = {}
        """origin node -> (boot, n) of the last envelope received from it."""
        self._afresh: dict[str, Position] = {}
        """origin node -> the newest of its envelopes whose events this node has, where its
        numbers are heard afresh from the next envelope (at start, after an interruption)."""
        self._recovering = asyncio.Lock()
        """One read back from the recent stream at a time (hub._recover)."""
        self._holes: list[Hole] = []
        """Lost envelopes of other nodes the recent stream did not hold yet (recover_late)."""
        self._late_at = 0.0
        self._reloading = Background()
        self._unknown_kinds: set[str] = set()
        """Envelope kinds of newer nodes this one skipped (each warned about once)."""
        self.stats = HubStats()
        interval = settings.presence_interval_seconds
        self.coalescer = Coalescer(community, interval, self._send_texts)
        self.roster = Roster(presence, settings.presence_list_max, self._send_text)
        self.typing = TypingGate(settings.typing_throttle_seconds, settings.typing_max_room_size)
        self._crowd_local: dict[str, dict[str, int]] = {}
        self._crowd_throttle: Throttle[str] = Throttle(interval, self._publish_crowd)
        self._tasks: list[asyncio.Task[None]] = []
        self.connections: set[Connection] = set()
        self._parting: dict[tuple[str, str], Identity] = {}
        """(room, user) -> who asked to leave while another of the user's sockets was still
        in the room: recorded when the user's last socket here is out of it."""

    # -- lifecycle (a background part of the app) ------------------------------------------------

    async def start(self) -> None:
        if self.settings.gc_freeze:
            # Everything alive now (the app, the projections rebuilt from the log) lives as
            # long as the process. Moved out of the cyclic GC's reach, full collections no
            # longer walk it: with 1,000 sockets a full collection stalled fan-out for
            # ~100 ms before, ~20 ms after (measured with gc.callbacks, benchmarks/fanout.py).
            gc.collect()
            gc.freeze()
        self.published_seq = self.delivered_seq = self.c.log.last_seq
        # What other nodes decided before this one started (bans, modes, roles ...); applied
        # before subscribing, so a live event always lands after the older recorded one.
        recalled = [e for e in await self.standing.recall(self._afresh) if e.node_id != self.node_id]
        # own envelopes are checked from the first: one lost on its way back is noticed
        self._afresh[self.node_id] = (self.boot, 0)
        self._apply_remote(recalled)
        self.c.state.order_history({e.room_id for e in recalled})
        await self.broker.start(self.receive, self.lost)
        s = self.settings
        self._tasks = [
            asyncio.create_task(self._every(s.presence_interval_seconds, self._presence_tick)),
            asyncio.create_task(self._every(s.presence_ttl_seconds / 3, self.roster.heartbeat)),
        ]
        if self._beats:  # other nodes may write standing decisions this one hears of no other way
            self._tasks.append(asyncio.create_task(self._every(REREAD_SECONDS, self.reread_standing)))
        log.info("realtime hub started on %s (boot %s)", self.node_id, self.boot)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.coalescer.throttle.cancel_all()
        self._crowd_throttle.cancel_all()
        for conn in list(self.connections):
            conn.outbox.close(ErrorCode.SHUTTING_DOWN.close_code, "server shutting down")
        await self._record_waiting_leaves()
        await self.broker.stop()
        await self._remembering.drain()
        await self.standing.close()
        await self.roster.store.close()

    async def _record_waiting_leaves(self) -> None:
        """Every socket here is closing, so a leave waiting for the user's other socket ends
        now, while the log is open (the app closes it right after the hub stops). Usually the
        sockets' handlers took them out of their rooms already, but uvicorn runs the shutdown
        without waiting for the handlers it cancels once ``server.graceful_timeout_seconds``
        is over, and their disconnect would come after the log closed."""
        waiting, self._parting = self._parting, {}
        for (room, _), who in waiting.items():
            await self._record_leave(who, room)

    async def _every(self, seconds: float, fn: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await fn()
            except Exception:  # presence is best effort; the next tick retries
                log.exception("realtime periodic task failed")

    # -- publication (after commit only) ---------------------------------------------------------

    def publish(self, events: Sequence[Event]) -> None:
        """Render, encode once and publish committed ``events`` (Notifier)."""
        frames = [out for e in events for out in render(self.c, e)]
        needs = any(has_effects(e) for e in events)
        self._numbered += 1
        envelope = Envelope(
            kind="events", origin=self.node_id, frames=frames, events=events_raw(list(events)),
            needs_events=needs, boot=self.boot, n=self._numbered,
        )  # fmt: skip
        self.published_seq = max(self.published_seq, max((e.seq for e in events), default=0))
        self._unheard.append((self._numbered, self.published_seq,
                              [e for e in events if has_effects(e)] if needs else []))  # fmt: skip
        self.broker.publish(encode_envelope(envelope))
        self.standing.add_recent(events, self.boot, self._numbered)
        if standing := [e for e in events if e.event_type in STANDING_TYPES]:
            self._remembering.start(self.standing.remember(standing))

    def _beat(self) -> None:
        """Tell the other nodes which ``events`` envelope of this process is the newest, without
        numbering a new one: published after it, so a node that has not heard it lost it."""
        if self._beats:
            beat = Envelope(kind="beat", origin=self.node_id, boot=self.boot, n=self._numbered)
            self.broker.publish(encode_envelope(beat))

    # -- delivery ------------------------------------------------------------------------------

    async def receive(self, data: bytes) -> None:
        """Handle one envelope from the broker (called in order, one at a time)."""
        env = decode_envelope(data)
        self.stats.envelopes += 1
        if env.kind not in KINDS:
            if env.kind not in self._unknown_kinds:
                self._unknown_kinds.add(env.kind)
                log.warning("skipping envelopes of kind %r from node %s: this node does not "
                            "know it", env.kind, env.origin)  # fmt: skip
            return
        if env.kind == "beat":
            await self._on_beat(env)
            return
        if env.n and not self._in_order(env) and not await self._out_of_order(env):
            return
        match env.kind:
            case "events":
                await self._on_events(env)
            case "typing":
                for out in env.frames:
                    self.fanout(out)
            case "crowd":
                if env.room in self.rooms:
                    self.coalescer.crowd(env.room, env.crowd)

    async def _on_events(self, env: Envelope) -> None:
        remote = env.origin != self.node_id
        events: list[Event] = []
        if remote or env.needs_events:
            events = decode_events(env.events)
        if remote:
            self._apply_remote(events)
            note_posts_elsewhere(self.c, events)
            at = {(e.epoch, e.seq): history_key(e) for e in events}
            for out in env.frames:
                if out.seq:  # no event (a newer node's frame?): after the frame before it
                    self.remote.add(out, at.get((out.epoch, out.seq)))
        for out in env.frames:
            self.fanout(out)
        self._heard_own(env)
        if env.needs_events:
            for e in events:
                await self._effects(e)

    def _heard_own(self, env: Envelope) -> None:
        """Own envelopes up to ``env.n`` are back (an ``events`` one fanned out, or a beat after
        any that were lost on the way): their frames went to every local socket there was."""
        if env.origin != self.node_id or env.boot != self.boot:
            return
        while self._unheard and self._unheard[0][0] <= env.n:
            self.delivered_seq = self._unheard.popleft()[1]

    async def _lost_own(self, before: int | None) -> None:
        """Own envelopes numbered below ``before`` (None: all published) that have not come
        back never will: their events are in this node's state, so the fresh ``joined`` of a
        reload covers them (``delivered_seq`` moves past them), and their per-socket effects
        (a ban through this node ...) run here now, as on their arrival."""
        lost: list[Event] = []
        while self._unheard and (before is None or self._unheard[0][0] < before):
            _, self.delivered_seq, with_effects = self._unheard.popleft()
            lost += with_effects
        for e in lost:
            await self._effects(e)

    def _in_order(self, env: Envelope) -> bool:
        """Is ``env`` the next envelope of its publisher? A new process of the publisher
        (another boot) starts again at 1. The first heard of a publisher is not: see
        :meth:`_out_of_order`."""
        heard = self._heard.get(env.origin)
        if heard is None or not follows((env.boot, env.n), heard):
            return False
        self._heard[env.origin] = (env.boot, env.n)
        return True

    async def _on_beat(self, env: Envelope) -> None:
        """A heartbeat: every ``events`` envelope of its publisher up to ``env.n`` was published
        before it, so one not heard yet was lost, as when a later number arrives; the beat
        itself has nothing to deliver. Usually the one comparison of :meth:`_in_order`."""
        position = (env.boot, env.n)
        heard = self._heard.get(env.origin)
        if heard is None or position > heard:
            if env.n:
                await self._out_of_order(env)
            else:  # a process of the publisher that published no events yet: its first one
                self._heard[env.origin] = position  # will be 1 (one lost later is noticed)
        self._heard_own(env)  # after the check: own envelopes it shows lost are handled there

    async def _out_of_order(self, env: Envelope) -> bool:
        """Should ``env``, not the next of its publisher, be handled? Not when its events were
        read back from the recent stream already (hub._recover). The first envelope heard
        of a publisher (at start, after an interruption) sets where its numbers go on, unless
        it skips past what the node had then (read back, or heard before): those envelopes were
        published while the node was not listening. A skipped number means envelopes were
        lost: their events are read back, then resync."""
        position = (env.boot, env.n)
        heard = self._heard.get(env.origin)
        if heard is None:
            have = self._afresh.pop(env.origin, None)
            if have is not None and position <= have:
                self._afresh[env.origin] = have
                return False
            # an events envelope may be the next one; a beat names one already published
            if have is None or (env.kind == "events" and follows((env.boot, env.n), have)):
                self._heard[env.origin] = position
                return True
            # past what the node had: envelopes published while it was not listening are lost
            heard = self._heard[env.origin] = have
        if position <= heard:
            return False
        remote = env.origin != self.node_id
        async with self._recovering:
            if not remote and env.boot == self.boot:
                await self._lost_own(_end_of_gap(env)[1])
            rooms = await self._recover(env, heard) if remote else None
            self._lost(
                f"envelopes of node {env.origin} were lost on their way to node {self.node_id}: "
                "frames of this room may be missing",
                remote=remote, rooms=rooms,
            )  # fmt: skip
        if position <= self._heard[env.origin]:
            return False  # read back too: the fresh joined has it
        self._heard[env.origin] = position
        return True

    async def lost(self) -> None:
        """The broker's subscription was interrupted (its ``on_loss``): envelopes of every node,
        this one included, may be missing. Other nodes' events are read back; numbers are
        heard afresh from the next envelopes, older ones than those read back are dropped.
        This node's own envelopes not back yet count as lost (their events are in its state,
        :meth:`_lost_own`), and any of them arriving after all is dropped. Every room
        reloads: which rooms this node's own lost envelopes carried is not kept."""
        async with self._recovering:
            await self._lost_own(None)
            read, _ = await self._read_back(None)
            await self._catch_up(read.events)
            newest = dict(read.newest)
            for origin, position in self._heard.items():
                if origin != self.node_id:
                    newest[origin] = max(position, newest.get(origin, position))
            self._heard.clear()
            self._afresh.update(newest)
            self._afresh[self.node_id] = (self.boot, self._numbered)
            self._lost(
                f"the subscription of node {self.node_id} to the other nodes was interrupted: "
                "frames of this room may be missing",
                remote=True,
            )  # fmt: skip

    async def _recover(self, env: Envelope, heard: Position) -> set[str] | None:
        """Envelopes of ``env``'s publisher after ``heard`` and before ``env`` (up to it, for a
        heartbeat) were lost: apply their events and run their effects. Return the rooms their
        frames were for, or None when the stream may not have held them all (any room may have
        lost frames). Envelopes from ``env`` on are left to arrive: the stream often holds
        them already, and read back here they would be dropped on arrival, so their rooms
        would have to reload too."""
        end = _end_of_gap(env)
        read, complete = await self._read_back([env.origin], lost_before=end)
        lost = [e for e, at in zip(read.events, read.carried, strict=True) if at < end]
        last = max((at for at in read.carried if at < end), default=heard)
        self._heard[env.origin] = max(heard, last)
        await self._catch_up(lost)
        if not complete:
            return None
        # the frames the lost envelopes carried: those their events render to (each in the
        # event's room); what else they changed for sockets (a ban in every room ...), the
        # effects just did, and reaction and poll counts go out coalesced, as live
        return self._rooms_of(lost)

    def _rooms_of(self, events: list[Event]) -> set[str] | None:
        """The rooms of the frames ``events`` render to; None (every room) when one cannot be
        rendered (as in _apply_remote: an event this node cannot handle)."""
        try:
            return {out.room for e in events for out in render(self.c, e)}
        except Exception:
            log.exception("could not render the events read back: every room reloads")
            return None

    async def _read_back(
        self, origins: list[str] | None, *, lost_before: Position | None = None
    ) -> tuple[ReadBack, bool]:
        """What the recent stream holds of other nodes (of ``origins``; None: all) after the
        last envelope of theirs this node has, in publication order per node, and whether
        that is every lost event. Only on a gap, never two at once. Not complete (counted,
        and said) when the stream may not hold every lost event: it was trimmed, or could not
        be read, or an envelope is missing from what it holds after the last one this node
        had (``lost_before``: the one origin lost the envelopes up to just before it): not
        written yet, or the write failed (Redis was down). Such runs of missing envelopes are
        looked for again later (:meth:`recover_late`).

        The publisher writes the stream just after it publishes, so a gap noticed at once may
        be read before the lost entries are there: the read is tried again a few times, for
        up to ``READ_BACK_WAITS`` in all, before the gap counts as unrecovered."""
        known = {**self._afresh, **self._heard}
        now = asyncio.get_running_loop().time()
        holes: list[Hole] = []
        for wait in (*READ_BACK_WAITS, None):
            try:
                read = await self.standing.since(known, origins, self.node_id)
            except Exception:  # Redis unreachable: resync all the same, from what the node has
                log.exception("could not read the lost events back from the recent stream")
                self.stats.unrecovered_gaps += 1
                if lost_before is not None and origins and origins[0] in known:
                    self._look_later([Hole(origins[0], known[origins[0]], lost_before, now)])
                return ReadBack(complete=False), False
            _in_order(read)
            holes = [
                hole for origin in (origins or read.newest) if origin != self.node_id
                for hole in holes_in(
                    origin, known.get(origin),
                    [at for e, at in zip(read.events, read.carried, strict=True)
                     if e.node_id == origin],
                    lost_before, now,
                )
            ]  # fmt: skip
            if lost_before is None or not origins or not read.complete:
                break  # a trimmed stream will not hold them later either
            if not holes or wait is None:
                break
            await asyncio.sleep(wait)
        complete = read.complete and not holes
        if not complete:
            self.stats.unrecovered_gaps += 1
            if read.complete:  # trimmed past the gap: written again, they would be trimmed too
                self._look_later(holes)
            log.warning(
                "realtime delivery gap: the recent stream does not hold every event lost on "
                "its way to node %s (%s): the rooms reload without them%s", self.node_id,
                "missing: " + ", ".join(f"{h.origin} {h.after} to {h.before}" for h in holes)
                if holes else "trimmed, or redis_recent_events is 0",
                "; they are looked for again as their node writes them"
                if holes and read.complete else "",
            )  # fmt: skip
        return read, complete

    def _look_later(self, holes: list[Hole]) -> None:
        self._holes += holes
        if len(self._holes) > MAX_HOLES:
            for hole in self._holes[:-MAX_HOLES]:
                self._give_up(hole, "too many gaps to look for")

    async def recover_late(self) -> None:
        """Look in the recent stream again for lost envelopes it did not hold when their gap
        was read back (their node writes what failed again once Redis is back). Those found
        are applied, their effects run, and the rooms of the frames they render to reload
        (``resync``, then a fresh ``joined`` that holds them). Runs every presence interval
        while there are such gaps, for up to ``LATE_SECONDS``; each envelope once."""
        if not self._holes:
            return
        now = asyncio.get_running_loop().time()
        async with self._recovering:
            for origin in sorted({h.origin for h in self._holes}):
                holes = [h for h in self._holes if h.origin == origin]
                try:
                    read = await self.standing.since(
                        {origin: min(h.after for h in holes)}, [origin], self.node_id
                    )  # fmt: skip
                except Exception:
                    log.warning("could not read the recent stream for lost events of node %s",
                                origin, exc_info=True)  # fmt: skip
                    continue
                if not read.complete:  # trimmed past the gap: what was lost is gone for good
                    for hole in holes:
                        self._give_up(hole, "the recent stream was trimmed past them")
                    continue
                _in_order(read)
                found: list[Event] = []
                for e, at in zip(read.events, read.carried, strict=True):
                    into = next((h for h in holes if h.holds(at)), None)
                    if into is not None and e.node_id == origin:
                        into.found.add(at)
                        found.append(e)
                for hole in holes:
                    if hole.filled():
                        self._holes.remove(hole)
                if not found:
                    continue
                log.info("read back %d events of node %s its stream entries had lacked",
                         len(found), origin)  # fmt: skip
                await self._catch_up(found)
                self._lost(
                    f"events of node {origin} lost on their way to node {self.node_id} were read "
                    "back late: this room's history holds them now", remote=True,
                    rooms=self._rooms_of(found), counted=False,
                )  # fmt: skip
        for hole in [h for h in self._holes if now - h.since > LATE_SECONDS]:
            self._give_up(hole, f"the recent stream did not get them in {LATE_SECONDS:.0f}s")

    async def reread_standing(self) -> None:
        """Apply the standing events other nodes wrote into the hash that this node's state
        does not hold yet (realtime/standing/, ``RedisStanding.changed``): a ban or a mode change that
        reached Redis only through the hash (its node wrote its log's standing state there
        when it started again after an outage), never through an envelope or the stream. Their
        effects run (a banned user's sockets leave the room) and the frames they render (a
        mode change, a pin) go to the room's sockets, as live; those came out of order with
        the other nodes' frames, so the rooms' records of them start again (no resume is
        proven across them). Filtered and applied with no wait in between: an envelope
        arriving meanwhile cannot be overridden by an older entry."""
        async with self._recovering:
            events = await self.standing.changed()
            if not events:
                return
            log.warning("%d standing events of other nodes reached node %s through the standing "
                        "hash only (written when their node started again): applying them",
                        len(events), self.node_id)  # fmt: skip
            await self._catch_up(events)
            try:
                frames = [out for e in events for out in render(self.c, e)]
            except Exception:
                log.exception("could not render the standing events read from the hash")
                frames = []
            self.remote.lost(
                "standing events of other nodes reached this node through Redis's standing "
                "hash, out of order with their frames", {out.room for out in frames},
            )  # fmt: skip
            for out in frames:
                self.fanout(out)

    def _give_up(self, hole: Hole, why: str) -> None:
        if hole in self._holes:
            self._holes.remove(hole)
        log.warning("gave up on lost envelopes of node %s after %s and before %s: %s; the rooms "
                    "lack their events until they reload from a node that has them",
                    hole.origin, hole.after, hole.before, why)  # fmt: skip

    async def _catch_up(self, events: list[Event]) -> None:
        """Apply events of other nodes read back, and run their per-socket effects."""
        if events:
            log.info("read back %d events lost on their way here", len(events))
        self._apply_remote(events)
        note_posts_elsewhere(self.c, events)
        self.c.state.order_history({e.room_id for e in events})
        for e in events:
            if has_effects(e):
                await self._effects(e)

    def _lost(
        self, reason: str, *, remote: bool, rooms: set[str] | None = None, counted: bool = True
    ) -> None:
        """Frames of ``rooms`` may be missing here (None: of any room, when which cannot be
        known). Frames of other nodes (``remote``): their record starts again, so no resume is
        proven across the gap. Every joined socket in those rooms is told ``resync`` per room
        now, in order with the frames, and gets a fresh ``joined`` from this node's state (its
        own events are all there, :meth:`_lost_own`; other nodes' lost ones are not, unless
        read back). ``counted``: a new gap (not lost events read back late)."""
        self.stats.delivery_gaps += counted
        reloading = [r for r in self.rooms if rooms is None or r in rooms]
        log.warning("realtime delivery gap: %s; reloading %d of %d rooms", reason,
                    len(reloading), len(self.rooms))  # fmt: skip
        if remote:
            self.remote.lost(reason, rooms)
        for room in reloading:
            for conn in self.rooms[room].live:
                conn.send_unbounded(f.Resync(room=room, reason=reason))
                self._reloading.start(self._reload(conn, room))

    async def _reload(self, conn: Connection, room: str) -> None:
        from service.realtime.joining import reload  # joining imports this module

        try:
            await reload(self, conn, room)
        except SidelineError as err:
            conn.send(f.Error(
                room=room, code=err.code.slug, at="$.room",
                message=f"could not reload {room} after resync: {err.message}; join it again",
            ))  # fmt: skip
        except Exception:
            log.exception("could not reload %s for %s after a delivery gap", room, conn.user_id)

    def _apply_remote(self, events: list[Event]) -> None:
        for e in events:
            self.stats.remote_events += 1
            try:
                self.c.state.apply_remote(e)
            except Exception:  # e.g. a room kind this node's config lacks: skip, keep going
                self.stats.remote_apply_errors += 1
                log.exception("could not apply remote event %s (%s)", e.event_id, e.event_type)
        self.standing.reflect(events)

    def fanout(self, out: Out) -> None:
        """Hand ``out`` to every local socket it is for (the same message object to each)."""
        members = self.rooms.get(out.room)
        if members is None:
            return
        message: Message = {"type": "websocket.send", "text": out.text, FRAME: frame_bytes(out.text)}
        n = 0
        if out.to is None:
            for push in members.live.values():
                push(message)
            n = len(members.live)
        else:
            for conn in members.live:
                if self._is_for(conn, out):
                    conn.outbox.push(message)
                    n += 1
        for conn, pending in members.joining.items():
            if out.to is None or self._is_for(conn, out):
                pending.append(out)
        self.stats.deliveries += n

    def _is_for(self, conn: Connection, out: Out) -> bool:
        """Is ``out``, addressed to one user or to the moderators, for ``conn``?"""
        if out.to != MODERATORS:
            return conn.user_id == out.to
        return effects.role_of(self, conn.identity, out.room) is Role.MODERATOR

    def _send_text(self, room: str, text: str) -> None:
        self.fanout(Out(room=room, to=None, text=text))

    def _send_texts(self, room: str, texts: list[str]) -> None:
        for text in texts:
            self._send_text(room, text)

    async def _effects(self, e: Event) -> None:
        match e.event_type:
            case EventType.REACTION_ADDED | EventType.REACTION_REMOVED:
                if e.room_id in self.rooms and e.message_id:
                    self.coalescer.reaction(e.room_id, e.message_id)
            case EventType.POLL_CREATED | EventType.POLL_VOTED | EventType.POLL_CLOSED:
                if e.room_id in self.rooms:
                    self.coalescer.poll(e.room_id, str(e.payload.get("poll_id")))
            case _:
                for conn, room in self._user_rooms(e):
                    await effects.apply(self, conn, room, e)

    def _user_rooms(self, e: Event) -> list[tuple[Connection, str]]:
        """Local sockets of ``e.user_id`` in the event's room (every room for a global scope)."""
        scope_global = e.payload.get("scope") == "global"
        return [
            (conn, room) for conn in self.connections if conn.user_id == e.user_id
            for room in sorted(conn.rooms) if scope_global or room == e.room_id
        ]  # fmt: skip

    # -- membership of local sockets -----------------------------------------------------------

    def begin_join(self, conn: Connection, room: str) -> None:
        members = self.rooms.setdefault(room, Members())
        self.remote.track(room)
        members.live.pop(conn, None)
        # a join already being served (a reload after resync, hub._lost) keeps what arrived
        members.joining.setdefault(conn, [])
        conn.rooms.add(room)

    def is_joining(self, conn: Connection, room: str) -> bool:
        """Is ``conn`` between ``begin_join`` and ``finish_join`` of ``room`` (not removed)?"""
        members = self.rooms.get(room)
        return members is not None and conn in members.joining

    def finish_join(self, conn: Connection, room: str, positions: dict[str, int]) -> None:
        """Flush what arrived during the join, minus what history or replay already had."""
        members = self.rooms.get(room)
        if members is None or conn not in members.joining:
            return  # left (or was banned) while joining
        pending = members.joining.pop(conn)
        if conn.outbox.closing:
            return
        local = self.c.log.epoch
        for out in pending:
            if out.seq and out.seq <= positions.get(out.epoch or local, 0):
                continue
            conn.outbox.push({"type": "websocket.send", "text": out.text})
        members.live[conn] = conn.outbox.push

    def leave(self, conn: Connection, room: str) -> None:
        conn.rooms.discard(room)
        members = self.rooms.get(room)
        if members is None:
            return
        members.live.pop(conn, None)
        members.joining.pop(conn, None)
        if not members.live and not members.joining:
            del self.rooms[room]
            self.remote.release(room, asyncio.get_running_loop().time())
            self.coalescer.forget(room)
            # Taps still waiting for the interval go out now: other nodes' sockets may be in
            # the room, and kept here they would be published as new on the next tap.
            self._publish_crowd(room)
            self._crowd_throttle.forget(room)

    async def leave_room(self, conn: Connection, room: str) -> None:
        """``conn`` leaves ``room``: no more frames; the user's presence there ends with their
        last socket on this node, and so does a membership one of their sockets asked to end."""
        if room not in conn.rooms:
            return
        self.leave(conn, room)
        await self.roster.remove(room, conn.user_id)
        key = (room, conn.user_id)
        if key in self._parting and not self.roster.holds(room, conn.user_id):
            await self._record_leave(self._parting.pop(key), room)

    async def part(self, conn: Connection, room: str, who: Identity) -> None:
        """A socket of ``who`` asks to leave ``room`` (a ``leave`` frame, or a re-auth whose
        token does not open it). The membership (``community_room_left``) ends now when it was
        the user's last socket in the room on this node, else when that last socket leaves or
        disconnects, unless one of the user's sockets joins the room again meanwhile."""
        await self.leave_room(conn, room)
        if self.roster.holds(room, conn.user_id):
            self._parting[(room, conn.user_id)] = who
        else:
            self._parting.pop((room, conn.user_id), None)
            await self._end_membership(who, room)

    async def _end_membership(self, who: Identity, room: str) -> None:
        """Record ``who`` leaving ``room`` for the socket that asked, which is out of the room
        already: a refusal says so, since the socket is told ``left`` all the same."""
        try:
            await room_actions.leave(self.c, who, room, via="socket")
        except SidelineError as err:
            raise SidelineError(
                err.code, f"left {room!r} on this connection, but the end of the membership was "
                f"not recorded: {err.message}; send leave again to record it",
                at="$.room", retry_after=err.retry_after,
            ) from err

    def rejoined(self, room: str, user_id: str) -> None:
        """A socket of ``user_id`` joined ``room``: a leave waiting for the others is void."""
        self._parting.pop((room, user_id), None)

    async def _record_leave(self, who: Identity, room: str) -> None:
        try:
            await room_actions.leave(self.c, who, room, via="socket")
        except SidelineError as err:  # the socket that asked was answered long ago
            log.warning("could not record %s leaving %s: %s", who.user_id, room, err.message)

    async def rename(self, conn: Connection, name: str) -> None:
        """``conn``'s user is now called ``name``: so presence shows them in its rooms."""
        conn.name = name
        for room in sorted(conn.rooms):
            await self.roster.rename(room, conn.user_id, name)

    def drop(self, conn: Connection) -> None:
        """Stop all fan-out to ``conn`` at once (it fell behind); presence ends on disconnect."""
        for room in list(conn.rooms):
            members = self.rooms.get(room)
            if members is not None:
                members.live.pop(conn, None)
                members.joining.pop(conn, None)

    async def cut_off(self, conn: Connection) -> None:
        """``conn`` is being closed by the server (slow consumer, expired token): it leaves its
        rooms and presence now, without waiting for a client that may never read the close."""
        self.drop(conn)
        try:
            for room in sorted(conn.rooms):
                await self.leave_room(conn, room)
        except Exception:  # presence is best effort; disconnect tries the rest again
            log.exception("could not take closed socket of %s out of its rooms", conn.user_id)

    async def disconnect(self, conn: Connection) -> None:
        """The socket is gone: leave every room (presence included) and forget it."""
        for room in list(conn.rooms):
            await self.leave_room(conn, room)
        self.connections.discard(conn)

    # -- ephemeral signals ---------------------------------------------------------------------

    def signal_typing(self, conn: Connection, room: str) -> bool:
        if not self.typing.allow(room, conn.user_id, self.roster.size(room)):
            return False
        frame = f.TypingFrame(room=room, user_id=conn.user_id, name=conn.name)
        out = Out(room=room, to=None, text=f.encode(frame))
        self.broker.publish(encode_envelope(Envelope(kind="typing", origin=self.node_id, frames=[out])))
        return True

    def crowd_tap(self, room: str, emoji: str) -> None:
        counts = self._crowd_local.setdefault(room, {})
        counts[emoji] = counts.get(emoji, 0) + 1
        self._crowd_throttle.mark(room)

    def _publish_crowd(self, room: str) -> None:
        counts = self._crowd_local.pop(room, None)
        if counts:
            env = Envelope(kind="crowd", origin=self.node_id, room=room, crowd=counts)
            self.broker.publish(encode_envelope(env))

    async def _presence_tick(self) -> None:
        self._beat()  # first: a failing presence store must not silence it
        now = asyncio.get_running_loop().time()
        if self._holes and now - self._late_at >= LATE_EVERY_SECONDS:
            self._late_at = now
            await self.recover_late()
        self.remote.sweep(asyncio.get_running_loop().time())
        await self.roster.tick(sorted(self.rooms))
        for room in list(self.roster.shown):
            if room not in self.rooms:
                self.roster.forget(room)


def _in_order(read: ReadBack) -> None:
    """Put what was read back in publication order per node: entries whose write failed
        may be written again later, after newer ones."""
    pairs = sorted(zip(read.events, read.carried, strict=True), key=lambda p: (p[0].node_id, p[1]))
    read.events = [e for e, _ in pairs]
    read.carried = [at for _, at in pairs]


def _end_of_gap(env: Envelope) -> Position:
    """Where the envelopes ``env`` shows lost end (exclusive): at ``env`` itself for events
    (the ones before it were lost), after it for a heartbeat (it names one published)."""
    return (env.boot, env.n + (env.kind == "beat"))
