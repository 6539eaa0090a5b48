"""Typing indicators: ephemeral, throttled per user, off in large rooms, never logged."""

from __future__ import annotations

import time
from collections.abc import Callable


class TypingGate:
    """Decides whether one ``typing`` signal is forwarded to the room."""

    def __init__(
        self, throttle_seconds: float, max_room_size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._throttle = throttle_seconds
        self._max = max_room_size
        self._clock = clock
        self._last: dict[tuple[str, str], float] = {}

    def enabled(self, room_size: int) -> bool:
        """Typing is on while the room has at most ``max_room_size`` members."""
        return room_size <= self._max

    def allow(self, room: str, user_id: str, room_size: int) -> bool:
        """True when this signal should go out: the room is small and the user not throttled."""
        if not self.enabled(room_size):
            return False
        now = self._clock()
        key = (room, user_id)
        if now - self._last.get(key, -self._throttle) < self._throttle:
            return False
        self._last[key] = now
        if len(self._last) > 100_000:  # bounded: forget throttles long past
            cutoff = now - self._throttle
            self._last = {k: t for k, t in self._last.items() if t > cutoff}
        return True
