"""The one-node broker: Litestar's in-memory channels backend (the embedded default)."""

from __future__ import annotations

from litestar.channels.backends.memory import MemoryChannelsBackend

from service.realtime.brokers.channels import ChannelsBroker


class MemoryBroker(ChannelsBroker):
    """Delivers to this process only."""

    def __init__(self) -> None:
        super().__init__(MemoryChannelsBackend())
