"""The one way this service connects to Redis: with timeouts from its settings.

A command on a connection that stopped carrying packets without being closed waits until its
socket timeout; without one it waits for TCP to give up, which takes many minutes, and a
publish stuck that way holds up every envelope behind it, this node's own sockets included.
redis-py 8 defaults to 5 s, earlier versions to none; this sets it from
``realtime.redis_timeout_seconds``, the same time after which a subscription that does not bring
back this node's own heartbeat is taken as silent (brokers/redis.py). A command that times out
fails like any Redis outage: each caller logs it and carries on (lost envelopes are noticed by
their numbers), and redis-py connects again for the next.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

T = TypeVar("T")

DELETE_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
"""A Lua script: delete the key only while it still holds ARGV[1] (this claim's own value)."""


def connect(url: str, timeout_seconds: float) -> Redis:
    return Redis.from_url(
        url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
    )


def as_text(value: object) -> str:
    """A value Redis answered (bytes: this client does not decode) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Unanswered(Exception):
    """Redis did not answer a claim: go ahead without it (see :class:`ClaimOutage`)."""


class ClaimOutage:
    """What the cross-node claims (sends, votes, slow mode, reactions, reports) share: a claim
    Redis does not answer is skipped rather than stopping chat, counted, and said once when
    that starts happening (``skipping``, a warning) and once when it stops (``resumed``)."""

    def __init__(self, log: logging.Logger, skipping: str, resumed: str) -> None:
        self._log = log
        self._skipping = skipping
        self._resumed = resumed
        self._failing = False
        self.skipped = 0
        """Claims skipped because Redis did not answer, since the process started."""

    async def ask(self, claim: Awaitable[T]) -> T:
        """The answer of ``claim``; raises :class:`Unanswered` (counted, logged) when Redis
        does not answer."""
        try:
            answer = await claim
        except (RedisError, OSError) as exc:
            self.skipped += 1
            if not self._failing:
                self._failing = True
                self._log.warning("%s: Redis did not answer (%s)", self._skipping, exc)
            raise Unanswered from exc
        if self._failing:
            self._failing = False
            self._log.info(self._resumed)
        return answer
