"""Work started and not awaited by its caller (a claim recorded after the answer, a standing
event written to Redis, a room's reload after a gap).

The event loop keeps only weak references to tasks, so a task nobody holds may be collected
before it finishes; each owner keeps its tasks here until they are done, and waits for them
(bounded) when it closes, so a shutdown does not cut a write half-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Background:
    """A set of running tasks of one owner."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` as a task of its own; returns at once."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the running tasks, at most ``timeout`` seconds."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
