"""Inbound flood control per socket: a token bucket, and a strike count for persistent floods.

The bucket counts a frame when the session reads it, which is when the client sent it as long
as the session keeps up. It may not: a frame whose handling waits on the server (a Redis
claim while Redis is frozen waits up to ``redis_timeout_seconds``) holds up the frames behind
it, and they are read in a burst once it is done. Those frames were sent at the client's pace,
so the time the session was held up is not held against the client: :meth:`TokenBucket.excuse`
lets the tokens that time earned (at ``rate``) be spent beyond ``burst``, on the frames read
within as long again. So a client within the rate is not refused or closed for the server's
stall, while a flood still is: over any stretch it gets at most what the rate allows plus two
bursts. Chosen over refusing a send whose claim waits too long (retryable): the claim's wait
already has a bound (the Redis timeout), and a refusal would make every client retry what the
server would have accepted a moment later.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """``rate`` frames per second on average, bursts of up to ``burst``."""

    __slots__ = ("_clock", "_excused", "_excused_until", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._excused = 0.0
        """Tokens earned while the server held the reader up, spendable beyond ``burst``."""
        self._excused_until = 0.0

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        if self._excused >= 1.0 and now <= self._excused_until:
            self._excused -= 1.0
            return True
        return False

    def excuse(self, seconds: float) -> None:
        """The reader was held up ``seconds`` by the server, not by the client: the frames the
        client sent meanwhile may be read within as long again (at least a second) beyond the
        burst, up to what the rate allowed over that time."""
        now = self._clock()
        if now > self._excused_until:
            self._excused = 0.0
        self._excused += seconds * self.rate
        self._excused_until = now + max(seconds, 1.0)

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

    def excuse(self, seconds: float) -> None:
        """See :meth:`TokenBucket.excuse`."""
        self._bucket.excuse(seconds)
