"""The broker port: publish bytes to every node (this one included), receive them in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

OnMessage = Callable[[bytes], Awaitable[None]]
"""Called once per published message, on every node, in publication order per publisher."""


class Broker(Protocol):
    """Delivers every published message to every started node, the publisher included."""

    async def start(self, on_message: OnMessage) -> None:
        """Connect and start delivering messages to ``on_message``."""

    def publish(self, data: bytes) -> None:
        """Queue ``data`` for publication; returns at once, publication order is kept."""

    async def stop(self) -> None:
        """Publish what is queued, stop delivering and disconnect."""
