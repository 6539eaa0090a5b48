"""The typing gate forgets throttles that can no longer throttle anything."""

from __future__ import annotations

import asyncio

from service.realtime.typing_gate import TypingGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttles_past_their_interval_are_swept_by_later_signals():
    clock = Clock()
    gate = TypingGate(throttle_seconds=2, max_room_size=10, clock=clock)
    for i in range(6_644):
        assert gate.allow(f"match:{i}", f"u{i}", 3)
    clock.now += 2.5
    assert gate.allow("match:x", "someone", 3)
    assert len(gate._last) == 1
    assert not gate.allow("match:x", "someone", 3)  # still throttles what it must


def test_throttles_inside_their_interval_are_kept():
    clock = Clock()
    gate = TypingGate(throttle_seconds=2, max_room_size=10, clock=clock)
    assert gate.allow("match:1", "u1", 3)
    clock.now += 1.0
    assert gate.allow("match:1", "u2", 3)
    clock.now += 1.5  # u1's throttle is over, u2's is not
    assert gate.allow("match:1", "u3", 3)
    assert not gate.allow("match:1", "u2", 3)
    assert gate.allow("match:1", "u1", 3)
    assert set(gate._last) == {("match:1", "u1"), ("match:1", "u2"), ("match:1", "u3")}


def test_the_sweep_costs_little_per_signal():
    """One pass over the throttles per interval at most: many signals inside one interval
    do not each walk every entry."""
    clock = Clock()
    gate = TypingGate(throttle_seconds=2, max_room_size=10, clock=clock)
    sweeps = 0
    sweep = gate._sweep

    def counted(now: float) -> None:
        nonlocal sweeps
        sweeps += 1
        sweep(now)

    gate._sweep = counted  # type: ignore[method-assign]
    for i in range(10_000):
        clock.now += 0.0001  # 10,000 signals in one second
        gate.allow("match:1", f"u{i}", 3)
    assert sweeps <= 1


def test_an_idle_gate_empties_itself():
    """With the event loop running, the throttles go once their interval is over, with no
    signal after them (a quiet node keeps none)."""

    async def scenario() -> int:
        gate = TypingGate(throttle_seconds=0.05, max_room_size=10)
        for i in range(500):
            gate.allow(f"match:{i}", "u1", 3)
        assert len(gate._last) == 500
        await asyncio.sleep(0.3)
        return len(gate._last)

    assert asyncio.run(scenario()) == 0
