"""Typing indicators: ephemeral, throttled per user, off in large rooms, never logged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TypingGate:
    """Decides whether one ``typing`` signal is forwarded to the room.

    It remembers when each (room, user) last got a signal through, for one throttle interval:
    an older one throttles nothing, and is forgotten by a sweep at most once an interval (on a
    signal, and on a timer of the running event loop while any are kept, so a quiet node keeps
    none). So it holds the users who typed in about the last two intervals.
    """

    def __init__(
        self, throttle_seconds: float, max_room_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._throttle = throttle_seconds
        self._max = max_room_size
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}
        self._swept = clock()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def enabled(self, room_size: int) -> bool:
        """Typing is on while the room has at most ``max_room_size`` members."""
        return room_size <= self._max

    def allow(self, room: str, user_id: str, room_size: int) -> bool:
        """True when this signal should go out: the room is small and the user not throttled."""
        if not self.enabled(room_size):
            return False
        now = self._clock()
        if now - self._swept >= self._throttle:
            self._sweep(now)
        key = (room, user_id)
        if now - self._last.get(key, -self._throttle) < self._throttle:
            return False
        self._last[key] = now
        self._sweep_later()
        return True

    def _sweep(self, now: float) -> None:
        """Forget the throttles that are over (one pass; at most once per interval)."""
        cutoff = now - self._throttle
        self._last = {k: t for k, t in self._last.items() if t > cutoff}
        self._swept = now

    def _sweep_later(self) -> None:
        """Sweep one interval from now on the running event loop (none: the next signal does)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None and self._timer_loop is loop:
            return  # (one of a loop since closed never runs: this loop's takes its place)
        self._timer_loop = loop
        self._timer = loop.call_later(max(self._throttle, 0.01) * 1.01, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._sweep(self._clock())
        if self._last:
            self._sweep_later()
