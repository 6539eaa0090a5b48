"""Base of the sinks that drive a blocking vendor library from threads of their own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from service.domain.events import Event
from service.sinks.base import Delivery, redact_secrets
from service.sinks.batch import Batch
from service.sinks.privacy import PropertyPolicy
from service.sinks.settings import SinkCommon


class ThreadedSink:
    """One thread maps a batch; ``concurrency`` threads upload its requests.

    Subclasses implement ``_send(events) -> Delivery`` (or ``_send_batch(batch)`` to read the
    Arrow columns themselves), run on the mapping thread, so neither building the events nor a
    slow vendor ever blocks the event loop or another sink.
    """

    kind = ""

    def __init__(self, settings: SinkCommon, *, secrets: tuple[str, ...] = ()) -> None:
        self._settings = settings
        self._secrets = tuple(s for s in secrets if s)
        self._policy = PropertyPolicy.of(settings)
        prefix = f"{self.kind}-{settings.name}"
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=prefix)
        self._uploads = ThreadPoolExecutor(
            getattr(settings, "concurrency", 1), thread_name_prefix=f"{prefix}-upload"
        )

    @property
    def name(self) -> str:
        return self._settings.name

    async def start(self) -> None:
        return None

    async def recover(self, cursor: int) -> int:
        return cursor

    async def send(self, batch: Batch) -> Delivery:
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._send_batch, batch)

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._uploads.shutdown(wait=False)

    def redact(self, text: str) -> str:
        return redact_secrets(text, self._secrets)

    def _send_batch(self, batch: Batch) -> Delivery:
        return self._send(batch.events)

    def _send(self, events: list[Event]) -> Delivery:
        raise NotImplementedError
