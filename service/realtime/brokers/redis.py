"""The many-node broker: Redis pub/sub through Litestar's ``RedisChannelsPubSubBackend``.

Pub/sub keeps no history, which is what fan-out needs: the durable record is each node's
log shard, and a client that missed something resumes from it (see resume.py).

Litestar's channels plugin runs one publish task and one subscribe task; an exception from
the backend ends that task for good, and with it all fan-out between nodes. So this backend
does not let a Redis outage escape: a publish that fails is logged and dropped (the event is
committed in the publisher's log; clients of other nodes resync when they reconnect), and
the subscription is re-established with a backoff until Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.realtime.brokers.channels import ChannelsBroker

log = logging.getLogger(__name__)


class _Backend(RedisChannelsPubSubBackend):
    """Pub/sub that survives Redis restarts (see the module docstring)."""

    lost = 0
    """Messages that could not be published to Redis."""

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        try:
            await super().publish(data, channels)
        except (RedisError, OSError) as exc:
            type(self).lost += 1
            log.error("redis publish failed, other nodes miss one message: %s", exc)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        backoff = 0.1
        while True:
            try:
                async for item in super().stream_events():
                    backoff = 0.1
                    yield item
            except (RedisError, OSError) as exc:
                log.error("redis subscription lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)


class RedisBroker(ChannelsBroker):
    """Delivers to every node subscribed to the same Redis."""

    def __init__(self, url: str, *, prefix: str = "sideline") -> None:
        self._redis = Redis.from_url(url)
        backend = _Backend(redis=self._redis, key_prefix=prefix)
        super().__init__(backend, channel=f"{prefix}:realtime")

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self._redis.aclose()
