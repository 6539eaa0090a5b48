"""Inbound flood control per socket: a token bucket, and a strike count for persistent floods."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` frames per second on average, bursts of up to ``burst``."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until one frame is allowed again."""
        return max(0.0, (1.0 - self._tokens) / self.rate)


class FloodGuard:
    """Refuses frames over the bucket; after ``max_strikes`` refusals in a row, gives up.

    A refused frame gets a RATE_LIMITED error frame; a client that keeps sending anyway
    (``max_strikes`` refused frames with no accepted frame between them) is closed with 4302.
    """

    def __init__(self, bucket: TokenBucket, max_strikes: int) -> None:
        self._bucket = bucket
        self._max = max_strikes
        self.strikes = 0

    def admit(self) -> bool:
        if self._bucket.take():
            self.strikes = 0
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.strikes >= self._max

    def retry_after(self) -> float:
        return self._bucket.retry_after()
