"""The real-time hub of one node: committed events in, frames out to this node's sockets.

Publication: :meth:`Hub.publish` is the :class:`~service.actions.context.Notifier` that
``Community.commit`` calls after the log committed and the state applied a batch, and only
then. It renders the frames once, encodes them once and publishes one envelope to the broker.

Delivery: every node (this one included) receives every envelope once, in publication order.
A node that did not commit the events applies them to its own projection first, so a mute,
a mode change or a poll made through node A is enforced and shown on node B. Then each frame
is handed, as the same text object, to the bounded outbox of every local socket in its room.

Losses: the broker may lose envelopes (Redis pub/sub is at-most-once). Numbered envelopes
and heartbeats show which; the lost events are read back from Redis, applied with their
effects, and the rooms that lost frames reload (recovery.py, :class:`Recovery`). All of this
runs only on a gap: an envelope in order costs what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
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
from service.realtime.recovery import Recovery
from service.realtime.render import has_effects, render
from service.realtime.resume import RemoteLog
from service.realtime.roster import Roster
from service.realtime.standing import (
    REREAD_SECONDS,
    STANDING_TYPES,
    LocalStanding,
    Standing,
)  # fmt: skip
from service.realtime.typing_gate import TypingGate
from service.settings import RealtimeSettings

log = logging.getLogger(__name__)


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
        events still reach the joining socket, and earlier ones would be sent twice. Moved on
        by :class:`Recovery`, which knows which of this node's envelopes came back."""
        self.remote = RemoteLog(settings.remote_buffer_size, shared=settings.broker != "memory")
        self.numbered = 0
        """``events`` envelopes this process published (the ``n`` of the last one)."""
        self._beats = settings.broker != "memory"
        """Heartbeats go out only to other nodes (one node with the memory broker has none)."""
        self.recovery = Recovery(self)
        """Notices envelopes lost on their way here and recovers what they carried."""
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
        afresh = self.recovery.afresh
        recalled = [e for e in await self.standing.recall(afresh) if e.node_id != self.node_id]
        # own envelopes are checked from the first: one lost on its way back is noticed
        afresh[self.node_id] = (self.boot, 0)
        self.apply_remote(recalled)
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
        self.numbered += 1
        envelope = Envelope(
            kind="events", origin=self.node_id, frames=frames, events=events_raw(list(events)),
            needs_events=needs, boot=self.boot, n=self.numbered,
        )  # fmt: skip
        self.published_seq = max(self.published_seq, max((e.seq for e in events), default=0))
        self.recovery.sent(self.numbered, self.published_seq,
                           [e for e in events if has_effects(e)] if needs else [])  # fmt: skip
        self.broker.publish(encode_envelope(envelope))
        self.standing.add_recent(events, self.boot, self.numbered)
        if standing := [e for e in events if e.event_type in STANDING_TYPES]:
            self._remembering.start(self.standing.remember(standing))

    def _beat(self) -> None:
        """Tell the other nodes which ``events`` envelope of this process is the newest, without
        numbering a new one: published after it, so a node that has not heard it lost it."""
        if self._beats:
            beat = Envelope(kind="beat", origin=self.node_id, boot=self.boot, n=self.numbered)
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
            await self.recovery.on_beat(env)
            return
        if env.n and not self.recovery.in_order(env) and not await self.recovery.out_of_order(env):
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
            self.apply_remote(events)
            note_posts_elsewhere(self.c, events)
            at = {(e.epoch, e.seq): history_key(e) for e in events}
            for out in env.frames:
                if out.seq:  # no event (a newer node's frame?): after the frame before it
                    self.remote.add(out, at.get((out.epoch, out.seq)))
        for out in env.frames:
            self.fanout(out)
        self.recovery.heard_own(env)
        if env.needs_events:
            for e in events:
                await self.run_effects(e)

    async def lost(self) -> None:
        """The broker's subscription was interrupted (its ``on_loss``): :meth:`Recovery.lost`."""
        await self.recovery.lost()

    async def recover_late(self) -> None:
        """Look for lost envelopes again: :meth:`Recovery.recover_late`."""
        await self.recovery.recover_late()

    async def reread_standing(self) -> None:
        """Apply what reached Redis's standing hash alone: :meth:`Recovery.reread_standing`."""
        await self.recovery.reread_standing()

    def apply_remote(self, events: list[Event]) -> None:
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

    async def run_effects(self, e: Event) -> None:
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
        # a join already being served (a reload after resync, recovery.py) keeps what arrived
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
        await self.recovery.recover_late_when_due()
        self.remote.sweep(asyncio.get_running_loop().time())
        await self.roster.tick(sorted(self.rooms))
        for room in list(self.roster.shown):
            if room not in self.rooms:
                self.roster.forget(room)
