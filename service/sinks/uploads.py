"""Concurrent uploads of one batch's requests, reported as one outcome.

A batch is accepted only when every request of it was; when several fail, the most telling
error wins (a refused payload before a blocked sink before a transient failure), so the
forwarder splits on content errors and waits on the others. The wait is at least the longest
``Retry-After`` any failed request was given, whichever error carried it: retrying sooner
would send again what a rate-limited endpoint asked to hold. Requests that succeeded are sent
again with the retry; the vendors deduplicate them by the event's key.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from service.sinks.base import BlockedError, PermanentError, SinkError, TransientError

T = TypeVar("T")
_SEVERITY = (PermanentError, BlockedError, TransientError)


class Uploads(Generic[T]):
    """Starts uploads as soon as each request is built, then waits for them all."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._futures: list[Future[list[T]]] = []

    def start(self, upload: Callable[[], list[T]]) -> None:
        self._futures.append(self._pool.submit(upload))

    def wait(self) -> list[T]:
        """Everything the uploads returned, concatenated; raises the most severe failure."""
        out: list[T] = []
        errors: list[BaseException] = []
        for future in self._futures:
            try:
                out += future.result()
            except Exception as exc:  # collected, then the most severe is raised
                errors.append(exc)
        self._futures.clear()
        if errors:
            raise most_severe(errors)
        return out


def most_severe(errors: list[BaseException]) -> BaseException:
    """The first of the most severe ``errors``, asking to wait at least the longest
    ``Retry-After`` any of them carries (each error belongs to one request of this batch)."""
    worst = min(errors, key=_rank)
    waits = [e.retry_after for e in errors if isinstance(e, SinkError) and e.retry_after is not None]
    if isinstance(worst, SinkError) and waits:
        worst.retry_after = max(waits)
    return worst


def _rank(error: BaseException) -> int:
    return next((i for i, kind in enumerate(_SEVERITY) if isinstance(error, kind)), len(_SEVERITY))
