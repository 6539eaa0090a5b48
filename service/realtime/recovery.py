"""Envelopes lost between nodes: noticed by their numbers, read back, and the rooms reloaded.

The broker may lose envelopes (Redis pub/sub is at-most-once). Every ``events``
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
looked for again (:meth:`Recovery.recover_late`); found, they are applied and their rooms reload.
Standing decisions of other nodes that reached Redis through the standing hash alone (their
node wrote its log's standing state there when it started again) are read every
``REREAD_SECONDS`` and applied with their effects (:meth:`Recovery.reread_standing`).

Each hub (hub.py) owns one :class:`Recovery`, which keeps the numbers: of each publisher's
envelopes, the last heard, and of this node's own, those not back yet (``Hub.delivered_seq``
moves past them as they come back).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from service.actions.moderation import note_posts_elsewhere
from service.domain.events import Event
from service.errors import SidelineError
from service.protocol import frames as f
from service.realtime.background import Background
from service.realtime.connection import Connection
from service.realtime.envelope import Envelope
from service.realtime.render import has_effects, render
from service.realtime.standing import Position, ReadBack, follows

if TYPE_CHECKING:
    from service.realtime.hub import Hub

log = logging.getLogger(__name__)

READ_BACK_WAITS = (0.05, 0.1, 0.2, 0.4)
"""Pauses between reads of the recent stream that does not reach a gap yet (0.75 s in all)."""
LATE_SECONDS = 600.0
"""How long the recent stream is looked at again for lost events it did not hold (their
publisher writes the entries that failed again once Redis is back): ``Recovery.recover_late``."""
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


class Recovery:
    """Which numbered envelopes of each publisher (this node too) came here, and what is done
    when some did not."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._heard: dict[str, Position] = {}
        """origin node -> (boot, n) of the last envelope received from it."""
        self.afresh: dict[str, Position] = {}
        """origin node -> the newest of its envelopes whose events this node has, where its
        numbers are heard afresh from the next envelope (at start, after an interruption)."""
        self._recovering = asyncio.Lock()
        """One read back from the recent stream at a time (_recover)."""
        self._holes: list[Hole] = []
        """Lost envelopes of other nodes the recent stream did not hold yet (recover_late)."""
        self._late_at = 0.0
        self._reloading = Background()
        self._unheard: deque[tuple[int, int, list[Event]]] = deque()
        """(n, published_seq after it, its events with effects) of own ``events`` envelopes
        not received back yet."""

    def sent(self, n: int, seq: int, with_effects: list[Event]) -> None:
        """Own ``events`` envelope ``n`` went to the broker; the state holds up to ``seq``."""
        self._unheard.append((n, seq, with_effects))

    def heard_own(self, env: Envelope) -> None:
        """Own envelopes up to ``env.n`` are back (an ``events`` one fanned out, or a beat after
        any that were lost on the way): their frames went to every local socket there was."""
        if env.origin != self.hub.node_id or env.boot != self.hub.boot:
            return
        while self._unheard and self._unheard[0][0] <= env.n:
            self.hub.delivered_seq = self._unheard.popleft()[1]

    async def _lost_own(self, before: int | None) -> None:
        """Own envelopes numbered below ``before`` (None: all published) that have not come
        back never will: their events are in this node's state, so the fresh ``joined`` of a
        reload covers them (``delivered_seq`` moves past them), and their per-socket effects
        (a ban through this node ...) run here now, as on their arrival."""
        lost: list[Event] = []
        while self._unheard and (before is None or self._unheard[0][0] < before):
            _, self.hub.delivered_seq, with_effects = self._unheard.popleft()
            lost += with_effects
        for e in lost:
            await self.hub.run_effects(e)

    def in_order(self, env: Envelope) -> bool:
        """Is ``env`` the next envelope of its publisher? A new process of the publisher
        (another boot) starts again at 1. The first heard of a publisher is not: see
        :meth:`out_of_order`."""
        heard = self._heard.get(env.origin)
        if heard is None or not follows((env.boot, env.n), heard):
            return False
        self._heard[env.origin] = (env.boot, env.n)
        return True

    async def on_beat(self, env: Envelope) -> None:
        """A heartbeat: every ``events`` envelope of its publisher up to ``env.n`` was published
        before it, so one not heard yet was lost, as when a later number arrives; the beat
        itself has nothing to deliver. Usually the one comparison of :meth:`in_order`."""
        position = (env.boot, env.n)
        heard = self._heard.get(env.origin)
        if heard is None or position > heard:
            if env.n:
                await self.out_of_order(env)
            else:  # a process of the publisher that published no events yet: its first one
                self._heard[env.origin] = position  # will be 1 (one lost later is noticed)
        self.heard_own(env)  # after the check: own envelopes it shows lost are handled there

    async def out_of_order(self, env: Envelope) -> bool:
        """Should ``env``, not the next of its publisher, be handled? Not when its events were
        read back from the recent stream already (:meth:`_recover`). The first envelope heard
        of a publisher (at start, after an interruption) sets where its numbers go on, unless
        it skips past what the node had then (read back, or heard before): those envelopes were
        published while the node was not listening. A skipped number means envelopes were
        lost: their events are read back, then resync."""
        position = (env.boot, env.n)
        heard = self._heard.get(env.origin)
        if heard is None:
            have = self.afresh.pop(env.origin, None)
            if have is not None and position <= have:
                self.afresh[env.origin] = have
                return False
            # an events envelope may be the next one; a beat names one already published
            if have is None or (env.kind == "events" and follows((env.boot, env.n), have)):
                self._heard[env.origin] = position
                return True
            # past what the node had: envelopes published while it was not listening are lost
            heard = self._heard[env.origin] = have
        if position <= heard:
            return False
        remote = env.origin != self.hub.node_id
        async with self._recovering:
            if not remote and env.boot == self.hub.boot:
                await self._lost_own(_end_of_gap(env)[1])
            rooms = await self._recover(env, heard) if remote else None
            self._lost(
                f"envelopes of node {env.origin} were lost on their way to node "
                f"{self.hub.node_id}: frames of this room may be missing",
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
                if origin != self.hub.node_id:
                    newest[origin] = max(position, newest.get(origin, position))
            self._heard.clear()
            self.afresh.update(newest)
            self.afresh[self.hub.node_id] = (self.hub.boot, self.hub.numbered)
            self._lost(
                f"the subscription of node {self.hub.node_id} to the other nodes was interrupted: "
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
        rendered (as in Hub.apply_remote: an event this node cannot handle)."""
        try:
            return {out.room for e in events for out in render(self.hub.c, e)}
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
        known = {**self.afresh, **self._heard}
        now = asyncio.get_running_loop().time()
        holes: list[Hole] = []
        for wait in (*READ_BACK_WAITS, None):
            try:
                read = await self.hub.standing.since(known, origins, self.hub.node_id)
            except Exception:  # Redis unreachable: resync all the same, from what the node has
                log.exception("could not read the lost events back from the recent stream")
                self.hub.stats.unrecovered_gaps += 1
                if lost_before is not None and origins and origins[0] in known:
                    self._look_later([Hole(origins[0], known[origins[0]], lost_before, now)])
                return ReadBack(complete=False), False
            _in_order(read)
            holes = [
                hole for origin in (origins or read.newest) if origin != self.hub.node_id
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
            self.hub.stats.unrecovered_gaps += 1
            if read.complete:  # trimmed past the gap: written again, they would be trimmed too
                self._look_later(holes)
            log.warning(
                "realtime delivery gap: the recent stream does not hold every event lost on "
                "its way to node %s (%s): the rooms reload without them%s", self.hub.node_id,
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

    async def recover_late_when_due(self) -> None:
        """Every presence interval: :meth:`recover_late` while there are gaps it looks for, at
        most every ``LATE_EVERY_SECONDS``."""
        now = asyncio.get_running_loop().time()
        if self._holes and now - self._late_at >= LATE_EVERY_SECONDS:
            self._late_at = now
            await self.recover_late()

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
                    read = await self.hub.standing.since(
                        {origin: min(h.after for h in holes)}, [origin], self.hub.node_id
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
                    f"events of node {origin} lost on their way to node {self.hub.node_id} were "
                    "read back late: this room's history holds them now", remote=True,
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
            events = await self.hub.standing.changed()
            if not events:
                return
            log.warning("%d standing events of other nodes reached node %s through the standing "
                        "hash only (written when their node started again): applying them",
                        len(events), self.hub.node_id)  # fmt: skip
            await self._catch_up(events)
            try:
                frames = [out for e in events for out in render(self.hub.c, e)]
            except Exception:
                log.exception("could not render the standing events read from the hash")
                frames = []
            self.hub.remote.lost(
                "standing events of other nodes reached this node through Redis's standing "
                "hash, out of order with their frames", {out.room for out in frames},
            )  # fmt: skip
            for out in frames:
                self.hub.fanout(out)

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
        self.hub.apply_remote(events)
        note_posts_elsewhere(self.hub.c, events)
        self.hub.c.state.order_history({e.room_id for e in events})
        for e in events:
            if has_effects(e):
                await self.hub.run_effects(e)

    def _lost(
        self, reason: str, *, remote: bool, rooms: set[str] | None = None, counted: bool = True
    ) -> None:
        """Frames of ``rooms`` may be missing here (None: of any room, when which cannot be
        known). Frames of other nodes (``remote``): their record starts again, so no resume is
        proven across the gap. Every joined socket in those rooms is told ``resync`` per room
        now, in order with the frames, and gets a fresh ``joined`` from this node's state (its
        own events are all there, :meth:`_lost_own`; other nodes' lost ones are not, unless
        read back). ``counted``: a new gap (not lost events read back late)."""
        self.hub.stats.delivery_gaps += counted
        reloading = [r for r in self.hub.rooms if rooms is None or r in rooms]
        log.warning("realtime delivery gap: %s; reloading %d of %d rooms", reason,
                    len(reloading), len(self.hub.rooms))  # fmt: skip
        if remote:
            self.hub.remote.lost(reason, rooms)
        for room in reloading:
            for conn in self.hub.rooms[room].live:
                conn.send_unbounded(f.Resync(room=room, reason=reason))
                self._reloading.start(self._reload(conn, room))

    async def _reload(self, conn: Connection, room: str) -> None:
        from service.realtime.joining import reload  # joining imports the hub, which imports this

        try:
            await reload(self.hub, conn, room)
        except SidelineError as err:
            conn.send(f.Error(
                room=room, code=err.code.slug, at="$.room",
                message=f"could not reload {room} after resync: {err.message}; join it again",
            ))  # fmt: skip
        except Exception:
            log.exception("could not reload %s for %s after a delivery gap", room, conn.user_id)


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
