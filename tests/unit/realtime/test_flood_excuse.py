"""The token bucket does not hold a server stall against the client (limits.py)."""

from __future__ import annotations

from service.realtime.limits import FloodGuard, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_frames_queued_while_the_server_stalled_are_read_in_a_burst_without_strikes():
    clock = Clock()
    guard = FloodGuard(TokenBucket(rate=20, burst=5, clock=clock), max_strikes=5)
    clock.now += 3.0  # the session waited 3 s on Redis; the client sent 30 frames meanwhile
    guard.excuse(3.0)
    assert all(guard.admit() for _ in range(30))
    assert guard.strikes == 0


def test_the_excuse_is_bounded_by_the_rate_and_expires():
    clock = Clock()
    guard = FloodGuard(TokenBucket(rate=20, burst=5, clock=clock), max_strikes=1000)
    clock.now += 1.0
    guard.excuse(1.0)  # 20 tokens beyond the burst of 5
    assert sum(guard.admit() for _ in range(100)) == 25
    guard.excuse(1.0)
    clock.now += 1.5  # not spent within as long again (at least a second): gone
    assert sum(guard.admit() for _ in range(100)) == 5
