"""Crowd control: switch a room to slow mode or reactions-only when it runs too hot, and back.

It watches committed events (it is a notifier), keeps a sliding window of message times and
moderation verdicts per room, and once a second decides. Every switch is a
``room_mode_changed`` event with ``cause: crowd_control``, so it is auditable and measurable.
It only restores settings it set itself: if a moderator changed the room meanwhile, the
moderator's choice stands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from service.actions.context import Community
from service.actions.rooms import configure
from service.domain.events import Event, EventType
from service.domain.rooms import RoomMode, RoomSettings
from service.protocol.http import RoomConfigIn
from service.settings import CrowdControlSettings

log = logging.getLogger(__name__)
ACTOR = "system:crowd_control"


@dataclass
class _Room:
    samples: deque[tuple[float, bool]] = field(default_factory=deque)
    applied: RoomSettings | None = None
    previous: RoomSettings | None = None
    calm_since: float | None = None


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

    def publish(self, events: Sequence[Event]) -> None:
        now = self._clock()
        for e in events:
            if e.event_type is EventType.MESSAGE_SENT:
                self._rooms.setdefault(e.room_id, _Room()).samples.append((now, False))
            elif e.event_type is EventType.MESSAGE_MODERATED and e.payload.get("action") == "block":
                # blocked messages have no MESSAGE_SENT event; count them as risky traffic
                self._rooms.setdefault(e.room_id, _Room()).samples.append((now, True))
            elif e.event_type is EventType.MESSAGE_MODERATED:
                samples = self._rooms.setdefault(e.room_id, _Room()).samples
                if samples:
                    samples[-1] = (samples[-1][0], True)

    async def start(self) -> None:
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
            while room.samples and room.samples[0][0] < now - self._s.window_seconds:
                room.samples.popleft()
            await self._decide(room_id, room, now)
            if not room.samples and room.applied is None:
                del self._rooms[room_id]

    async def _decide(self, room_id: str, room: _Room, now: float) -> None:
        s = self._s
        n = len(room.samples)
        rate = n / s.window_seconds
        risk = sum(r for _, r in room.samples) / n if n >= s.min_messages else 0.0
        current = self._c.state.room(room_id).settings
        if room.applied is not None and current != room.applied:
            room.applied = room.previous = room.calm_since = None  # a human took over
        ours_or_open = room.applied is not None or current.mode is RoomMode.OPEN
        if rate >= s.reactions_only_rate and ours_or_open and current.mode is not RoomMode.REACTIONS_ONLY:
            await self._switch(room_id, room, current, RoomConfigIn(mode=RoomMode.REACTIONS_ONLY))
        elif (
            (rate >= s.slow_mode_rate or risk >= s.risk_share)
            and room.applied is None
            and current.mode is RoomMode.OPEN
            and current.slow_mode_seconds < s.slow_mode_seconds
        ):
            change = RoomConfigIn(slow_mode_seconds=s.slow_mode_seconds)
            await self._switch(room_id, room, current, change)
        elif room.applied is not None:
            if rate < s.slow_mode_rate / 2 and risk < s.risk_share / 2:
                room.calm_since = room.calm_since if room.calm_since is not None else now
                if now - room.calm_since >= s.calm_seconds:
                    await self._restore(room_id, room)
            else:
                room.calm_since = None

    async def _switch(self, room_id: str, room: _Room, current: RoomSettings, change: RoomConfigIn) -> None:
        if room.previous is None:
            room.previous = current
        out = await configure(self._c, room_id, change, actor=ACTOR, cause="crowd_control")
        room.applied = self._c.state.room(room_id).settings
        room.calm_since = None
        log.info("crowd control: %s -> mode %s, slow mode %ss", room_id, out.mode, out.slow_mode_seconds)

    async def _restore(self, room_id: str, room: _Room) -> None:
        prev = room.previous
        assert prev is not None
        change = RoomConfigIn(mode=prev.mode, slow_mode_seconds=prev.slow_mode_seconds)
        await configure(self._c, room_id, change, actor=ACTOR, cause="crowd_control")
        room.applied = room.previous = room.calm_since = None
        log.info("crowd control: %s calmed down, settings restored", room_id)
