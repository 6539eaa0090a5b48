"""Backoff between attempts of a failing batch, and the ``Retry-After`` header.

Exponential backoff with jitter ("equal jitter": half the step is fixed, half random) so many
nodes recovering at once do not retry in lockstep; a server's ``Retry-After`` is a floor,
never shortened. There is no attempt limit: a sink outage makes the cursor wait, it never
drops events.
"""

from __future__ import annotations

import random
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_SECONDS = 3600.0
"""A guard against an absurd header (a date years ahead), not a budget."""


class Backoff:
    """Delays for consecutive failures: ``base * 2**n`` capped at ``cap``, with jitter."""

    def __init__(
        self, *, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None
    ) -> None:
        self._base = base
        self._cap = cap
        self._rng = rng or random.Random()
        self.failures = 0

    def next_delay(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt; counts one more failure."""
        step = min(self._cap, self._base * 2**self.failures)
        self.failures += 1
        delay: float = step / 2 + self._rng.uniform(0, step / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay

    def reset(self) -> None:
        """Forget the failures after a success."""
        self.failures = 0


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    Returns None when the header is missing or unreadable.
    """
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; it means UTC
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
