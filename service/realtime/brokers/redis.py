"""The many-node broker: Redis pub/sub through Litestar's ``RedisChannelsPubSubBackend``.

Pub/sub keeps no history, which is what fan-out needs: the durable record is each node's
log shard, and a client that missed something resumes from it (see resume.py).

Litestar's channels plugin runs one publish task and one subscribe task; an exception from
the backend ends that task for good, and with it all fan-out between nodes. So this backend
does not let a Redis outage escape: a publish that fails is logged and dropped (the event is
committed in the publisher's log; the envelopes carry a number per publisher, so receivers
notice the missing one at the next), and the subscription is re-established with a backoff
until Redis is back.

Pub/sub is at-most-once: whatever was published while the subscriber connection was down
(a Redis restart, a network cut, ``CLIENT KILL``, the output buffer limit) is gone, and
redis-py reconnects and subscribes again without a word, often inside the read that failed.
This backend watches the connection being made again and then puts
:data:`~service.realtime.brokers.channels.LOSS` in the stream, between the last message
received before the cut and the first one after it.

A connection can also stop carrying packets without being closed (a network cut with no
reset, a NAT entry forgotten): reads then just find nothing, redis-py's health check sends a
PING without waiting for its answer, and TCP gives up only after many minutes. Every node
receives its own publishes, and with Redis every node publishes a heartbeat each presence
interval; so when a message this node published (and Redis accepted) ``silence_seconds`` ago
has not come back, and nothing else came since, the subscription is taken as silent: its
connection is dropped, the next read connects and subscribes again, and ``LOSS`` follows as
after any interruption. Commands have the same timeout (redis_client.py), so a publish on such
a connection fails instead of holding up every envelope behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.realtime.brokers.channels import LOSS, ChannelsBroker
from service.realtime.redis_client import connect

log = logging.getLogger(__name__)


class PubSubBackend(RedisChannelsPubSubBackend):
    """Pub/sub that survives Redis restarts and says when it may have lost messages."""

    lost = 0
    """Messages that could not be published to Redis."""
    silent = 0
    """Subscriptions taken as silent and made again."""

    def __init__(self, *, redis: Redis, key_prefix: str, silence_seconds: float) -> None:
        super().__init__(redis=redis, key_prefix=key_prefix)
        self._reconnected = False
        self._silence = silence_seconds
        self._received_at = 0.0
        """Loop time of the last message the subscription brought."""
        self._unanswered_since: float | None = None
        """Loop time of the oldest publish Redis accepted after that, none if there is none."""

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        started = asyncio.get_running_loop().time()
        try:
            await super().publish(data, channels)
        except (RedisError, OSError) as exc:
            type(self).lost += 1
            log.error("redis publish failed, other nodes miss one message: %s", exc)
            return
        # its echo may have been read while the publish waited for its reply: then it counts
        if self._unanswered_since is None and self._received_at < started:
            self._unanswered_since = started

    async def subscribe(self, channels: Iterable[str]) -> None:
        await super().subscribe(channels)
        connection = self._pub_sub.connection
        if connection is not None:  # connected now: the callback sees only reconnections
            connection.register_connect_callback(self._on_reconnect)

    def _on_reconnect(self, connection: object) -> None:
        """redis-py made the subscriber connection again (and subscribes on it again)."""
        self._reconnected = True

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        backoff = 0.1
        while True:
            try:
                async for item in self._events():
                    backoff = 0.1
                    yield item
            except (RedisError, OSError) as exc:
                log.error("redis subscription lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _events(self) -> AsyncGenerator[tuple[str, Any], None]:
        """Litestar's loop (``RedisChannelsPubSubBackend.stream_events``), plus ``LOSS`` once
        the connection was made again: checked after every read, a message or none, so it
        comes before the first message of the new subscription and without waiting for one."""
        await self._has_subscribed.wait()
        pubsub = self._pub_sub
        loop = asyncio.get_running_loop()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            now = loop.time()
            if message is not None:
                self._received_at, self._unanswered_since = now, None
            elif self._unanswered_since is not None and now - self._unanswered_since > self._silence:
                await self._drop_silent(now - self._unanswered_since)
            if self._reconnected:
                self._reconnected = False
                log.warning("redis subscription made again: messages published meanwhile are lost")
                for channel in list(pubsub.channels):
                    yield channel.decode(), LOSS
            if message is None:
                continue
            channel = message["channel"].decode()
            # as in litestar: a message may still arrive on a channel being unsubscribed
            if channel.encode() in pubsub.channels.keys() - pubsub.pending_unsubscribe_channels:
                yield channel, message["data"]

    async def _drop_silent(self, waited: float) -> None:
        """Drop the subscriber connection: the next read connects and subscribes again, which
        marks the loss (``_on_reconnect``)."""
        type(self).silent += 1
        self._unanswered_since = None
        log.warning(
            "redis subscription silent: a message this node published %.1fs ago has not come "
            "back; connecting again (messages published meanwhile are read back)", waited,
        )  # fmt: skip
        connection = self._pub_sub.connection
        if connection is not None:
            await connection.disconnect()


class RedisBroker(ChannelsBroker):
    """Delivers to every node subscribed to the same Redis."""

    def __init__(self, url: str, *, prefix: str = "sideline", timeout_seconds: float = 5.0) -> None:
        self._redis = connect(url, timeout_seconds)
        backend = PubSubBackend(redis=self._redis, key_prefix=prefix, silence_seconds=timeout_seconds)
        super().__init__(backend, channel=f"{prefix}:realtime")

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            await self._redis.aclose()
