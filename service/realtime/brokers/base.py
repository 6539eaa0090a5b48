"""The broker port: publish bytes to every node (this one included), receive them in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

OnMessage = Callable[[bytes], Awaitable[None]]
"""Called once per published message, on every node, in publication order per publisher."""

OnLoss = Callable[[], Awaitable[None]]
"""Called when messages may have been lost on their way to this node (its subscription was
interrupted and made again), in order with the messages: those delivered before the call
were received before the interruption, those after it were published after it."""


class Broker(Protocol):
    """Delivers every published message to every started node, the publisher included."""

    async def start(self, on_message: OnMessage, on_loss: OnLoss | None = None) -> None:
        """Connect and start delivering messages to ``on_message`` (and losses to ``on_loss``)."""

    def publish(self, data: bytes) -> None:
        """Queue ``data`` for publication; returns at once, publication order is kept."""

    async def stop(self) -> None:
        """Publish what is queued, stop delivering and disconnect."""
