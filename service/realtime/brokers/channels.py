"""A :class:`~service.realtime.brokers.base.Broker` on Litestar channels.

Litestar's ``ChannelsPlugin`` owns the publish queue and the backend's subscription stream;
this class gives it the shape of the broker port. Every node subscribes to one channel and
receives every message once, the publisher included, so local and remote delivery share one
path and one order. The plugin's subscriber queue is unbounded on purpose: committed events
must never be dropped between nodes; bounding happens per socket (see outbox.py).

A backend that knows it may have lost messages (its subscription was interrupted) puts
:data:`LOSS` in the stream, in order with the messages; it reaches ``on_loss``, not
``on_message``.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.subscriber import Subscriber

from service.realtime.brokers.base import OnLoss, OnMessage

log = logging.getLogger(__name__)

CHANNEL = "sideline.realtime"

LOSS = b"\x00sideline: messages may have been lost"
"""Put in the stream by a backend, compared by identity: never taken for a published message."""


class ChannelsBroker:
    """One channel, one subscriber per node, over any Litestar channels backend."""

    def __init__(self, backend: ChannelsBackend, channel: str = CHANNEL) -> None:
        self._channel = channel
        self._plugin = ChannelsPlugin(backend=backend, channels=[channel])
        self._subscriber: Subscriber | None = None
        self._stack = AsyncExitStack()
        self._started = False

    async def start(self, on_message: OnMessage, on_loss: OnLoss | None = None) -> None:
        await self._plugin.__aenter__()
        self._started = True
        self._subscriber = await self._plugin.subscribe(self._channel)

        async def deliver(data: bytes) -> None:
            try:
                if data is not LOSS:
                    await on_message(data)
                elif on_loss is not None:
                    await on_loss()
            except Exception:  # one bad message must not stop delivery of the next ones
                log.exception("realtime message handling failed")

        await self._stack.enter_async_context(self._subscriber.run_in_background(deliver))

    def publish(self, data: bytes) -> None:
        self._plugin.publish(data, self._channel)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self._stack.aclose()
        if self._subscriber is not None:
            await self._plugin.unsubscribe(self._subscriber)
            self._subscriber = None
        await self._plugin.__aexit__(None, None, None)
