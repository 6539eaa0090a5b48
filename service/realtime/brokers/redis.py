"""The many-node broker: Redis pub/sub through Litestar's ``RedisChannelsPubSubBackend``.

Pub/sub keeps no history, which is what fan-out needs: the durable record is each node's
log shard, and a client that missed something resumes from it (see resume.py).
"""

from __future__ import annotations

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis

from service.realtime.brokers.channels import ChannelsBroker


class RedisBroker(ChannelsBroker):
    """Delivers to every node subscribed to the same Redis."""

    def __init__(self, url: str, *, prefix: str = "sideline") -> None:
        self._redis = Redis.from_url(url)
        backend = RedisChannelsPubSubBackend(redis=self._redis, key_prefix=prefix)
        super().__init__(backend, channel=f"{prefix}:realtime")

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self._redis.aclose()
