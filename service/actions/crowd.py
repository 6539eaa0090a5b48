"""Crowd control: switch a room to slow mode or reactions-only when it runs too hot, and back.

It watches committed events (it is a notifier), keeps a sliding window of the room's messages
and moderation verdicts, and once a second decides. Every switch is a ``room_mode_changed``
event with ``cause: crowd_control``, so it is auditable, measurable, and what it owns is a
projection of the log (``CommunityState.crowd``): a restarted node restores the rooms it
changed before the restart, as the node that changed them would have.

What it measures is what the room saw, by person: ``rate`` counts the messages shown to the
room (a message held, shadowed or refused is not seen), and ``risk`` is the share of the
window's posters with a message refused, held or shadowed for what it said (once the window
holds ``min_messages`` messages from at least ``MIN_POSTERS`` people). A refusal for
speed (``rate.*``: a user already rate-limited hammering send) or of the input itself is no
risk, nor is a masked message (personal data replaced, the rest shown: routine, not hostile),
so one account cannot slow a room down alone.

It restores only what it set (mode and slow mode): a moderator who changes either takes the
room over, and crowd control then leaves the room alone until it has calmed (rates under half
their thresholds for ``calm_seconds``), so a person's decision during a surge holds through
the surge; a change of the max length alone takes nothing over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from service.actions.context import Community
from service.actions.rooms import configure
from service.domain.events import Event, EventType
from service.domain.records import CrowdChange
from service.domain.rooms import RoomMode
from service.protocol.http import RoomConfigIn
from service.settings import CrowdControlSettings

log = logging.getLogger(__name__)
ACTOR = "system:crowd_control"
_NOT_RISK_CHECKS = frozenset({"rate", "input"})
"""Checks whose findings say nothing about what a message says: speed and input hygiene."""
_RISKY_ACTIONS = frozenset({"shadow", "hold", "block"})
MIN_POSTERS = 3
"""Fewest people posting in the window before their share at risk counts: the share of one
or two people is not a crowd's (one account alone was 100% of it)."""


class _Sample(NamedTuple):
    at: float
    user_id: str
    counted: bool
    """A message (shown, held or shadowed) or an attempt refused for what it said."""
    seen: bool
    """Shown to the room."""
    risky: bool
    """Refused, held or shadowed for what it said."""


@dataclass
class _Room:
    samples: deque[_Sample] = field(default_factory=deque)
    calm_since: float | None = None
    hands_off: bool = False
    """A person changed the room's mode or slow mode: left alone until it calms."""
    manual_seen: datetime | None = None
    """The person's change (``CommunityState.manual``) already taken into account."""


@dataclass(frozen=True)
class Reading:
    """One room's window: messages shown per second, and the share of posters at risk."""

    rate: float
    risk: float


def is_risky(payload: Mapping[str, Any]) -> bool:
    """A verdict that refused, held or shadowed a message for what it said."""
    if payload.get("action") not in _RISKY_ACTIONS:
        return False
    return any(
        r.get("check") not in _NOT_RISK_CHECKS and r.get("code") != "provider.unavailable"
        for r in payload.get("reasons", ())
    )  # fmt: skip


class CrowdControl:
    """A notifier plus a once-a-second ticker; ``tick`` is public so tests move time."""

    def __init__(
        self, community: Community, settings: CrowdControlSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._c = community
        self._s = settings
        self._clock = clock
        self._rooms: dict[str, _Room] = {}
        self._task: asyncio.Task[None] | None = None
        self._started: datetime | None = None

    def publish(self, events: Sequence[Event]) -> None:
        now = self._clock()
        for e in events:
            if e.event_type is EventType.MESSAGE_SENT:
                seen = e.payload.get("visibility", "public") == "public"
                self._room(e.room_id).samples.append(_Sample(now, e.user_id, True, seen, False))
            elif e.event_type is EventType.MESSAGE_MODERATED and is_risky(e.payload):
                # A refused message has no MESSAGE_SENT: its attempt counts here. A held or
                # shadowed one was counted by its MESSAGE_SENT, in the same commit.
                refused = e.payload.get("action") == "block"
                self._room(e.room_id).samples.append(_Sample(now, e.user_id, refused, False, True))

    def _room(self, room_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = _Room(manual_seen=self._c.state.manual.get(room_id))
            room.hands_off = self._taken_over_lately(room_id)
        return room

    def _taken_over_lately(self, room_id: str) -> bool:
        """A person changed the room's mode or slow mode less than ``calm_seconds`` ago (or
        before this process started less than that ago: it cannot know whether the room calmed
        in between), and the room has been quiet since, untracked: it is left alone until calm."""
        at = self._c.state.manual.get(room_id)
        if at is None:
            return False
        since = max(at, self._started) if self._started is not None else at
        return (self._c.now() - since).total_seconds() < self._s.calm_seconds

    def _owned(self, room_id: str) -> CrowdChange | None:
        """What crowd control of this node changed in the room and would restore, if any."""
        change = self._c.state.crowd.get(room_id)
        return change if change is not None and change.node_id == self._c.settings.node_id else None

    async def start(self) -> None:
        """Take back the rooms this node changed before it (re)started: restored once calm."""
        self._started = self._c.now()
        for room_id in list(self._c.state.crowd):
            if self._owned(room_id) is not None:
                self._room(room_id)
        self._task = asyncio.create_task(self._loop(), name="crowd-control")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await self.tick()
            except Exception:  # a failed switch (e.g. log unavailable) is retried next tick
                log.exception("crowd control tick failed")

    async def tick(self, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        for room_id, room in list(self._rooms.items()):
            while room.samples and room.samples[0].at < now - self._s.window_seconds:
                room.samples.popleft()
            manual = self._c.state.manual.get(room_id)
            if manual is not None and manual != room.manual_seen:  # a person took the room over
                room.manual_seen, room.hands_off, room.calm_since = manual, True, None
            await self._decide(room_id, room, now)
            if not room.samples and not room.hands_off and self._owned(room_id) is None:
                del self._rooms[room_id]

    def reading(self, room_id: str) -> Reading:
        """The room's current window (as of the last ``tick``)."""
        room = self._rooms.get(room_id)
        return self._read(room) if room is not None else Reading(0.0, 0.0)

    def _read(self, room: _Room) -> Reading:
        s = self._s
        seen = sum(1 for x in room.samples if x.seen)
        counted = sum(1 for x in room.samples if x.counted)
        risk = 0.0
        if counted >= s.min_messages:
            posters = {x.user_id for x in room.samples if x.counted}
            risky = {x.user_id for x in room.samples if x.risky}
            risk = len(risky & posters) / len(posters) if len(posters) >= MIN_POSTERS else 0.0
        return Reading(seen / s.window_seconds, risk)

    def _calm(self, room: _Room, now: float) -> bool:
        """Rates under half their thresholds for ``calm_seconds`` (kept track of per tick)."""
        r, s = self._read(room), self._s
        if r.rate < s.slow_mode_rate / 2 and r.risk < s.risk_share / 2:
            room.calm_since = room.calm_since if room.calm_since is not None else now
            return now - room.calm_since >= s.calm_seconds
        room.calm_since = None
        return False

    async def _decide(self, room_id: str, room: _Room, now: float) -> None:
        s = self._s
        if room.hands_off:
            if self._calm(room, now):
                room.hands_off, room.calm_since = False, None
            return
        r = self._read(room)
        current = self._c.state.room(room_id).settings
        owned = self._owned(room_id)
        ours_or_open = owned is not None or current.mode is RoomMode.OPEN
        if r.rate >= s.reactions_only_rate and ours_or_open and current.mode is not RoomMode.REACTIONS_ONLY:
            await self._switch(room_id, room, RoomConfigIn(mode=RoomMode.REACTIONS_ONLY))
        elif (
            (r.rate >= s.slow_mode_rate or r.risk >= s.risk_share)
            and room_id not in self._c.state.crowd
            and current.mode is RoomMode.OPEN
            and current.slow_mode_seconds < s.slow_mode_seconds
        ):
            await self._switch(room_id, room, RoomConfigIn(slow_mode_seconds=s.slow_mode_seconds))
        elif owned is not None and self._calm(room, now):
            await self._restore(room_id, room, owned)

    async def _switch(self, room_id: str, room: _Room, change: RoomConfigIn) -> None:
        out = await configure(self._c, room_id, change, actor=ACTOR, cause="crowd_control")
        room.calm_since = None
        log.info("crowd control: %s -> mode %s, slow mode %ss", room_id, out.mode, out.slow_mode_seconds)

    async def _restore(self, room_id: str, room: _Room, owned: CrowdChange) -> None:
        change = RoomConfigIn(mode=owned.mode, slow_mode_seconds=owned.slow_mode_seconds)
        await configure(self._c, room_id, change, actor=ACTOR, cause="crowd_control")
        room.calm_since = None
        log.info("crowd control: %s calmed down, mode and slow mode restored", room_id)
