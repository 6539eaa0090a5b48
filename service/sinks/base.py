"""The sink port: what the forwarder asks of every destination, and how a send can fail.

A sink receives a batch of committed events and either returns (the destination accepted the
batch, except the events listed in :attr:`Delivery.rejected`) or raises one of three errors
that tell the forwarder what to do next:

- :class:`TransientError`: try the same batch again later (network, 5xx, 429, timeouts).
- :class:`BlockedError`: the sink cannot send anything (bad credentials, unknown endpoint);
  wait and try again, but never blame the events. Dead-lettering here would empty the stream.
- :class:`PermanentError`: the destination refused this batch for its content; the forwarder
  splits the batch until it finds the refused events and dead-letters those alone.
"""

from __future__ import annotations

import logging
import re
from typing import Protocol

import msgspec

from service.sinks.batch import Batch


class SinkError(Exception):
    """A send failed; ``reason`` is safe to log and store (it never contains secrets)."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TransientError(SinkError):
    """Retry the same batch after a backoff (at least ``retry_after`` seconds when given)."""


class BlockedError(SinkError):
    """The sink is misconfigured or unauthorised; wait, retry, and never dead-letter for it."""


class PermanentError(SinkError):
    """The destination refused the content of this batch; retrying it unchanged cannot help."""


class Rejected(msgspec.Struct, frozen=True):
    """One event the destination (or the mapping to it) refused, with the reason."""

    seq: int
    event_id: str
    reason: str


class Delivery(msgspec.Struct):
    """The outcome of a successful send: everything was accepted except ``rejected``."""

    rejected: list[Rejected] = msgspec.field(default_factory=list)
    adjustments: dict[str, int] = msgspec.field(default_factory=dict)
    """Counts of changes the mapping made to fit vendor limits, by reason (e.g. truncations)."""


class Sink(Protocol):
    """A destination of committed events.

    ``send`` may run blocking vendor calls, but only in threads of its own, never on the
    event loop. A sink must be idempotent per event: the forwarder delivers at least once and
    resends a batch after a crash or a failed attempt, so each event carries a dedup key.
    """

    @property
    def name(self) -> str:
        """Unique name; keys the cursor and dead letters."""
        ...

    @property
    def kind(self) -> str:
        """``segment``, ``mixpanel``, ``ga4`` or ``warehouse``."""
        ...

    async def start(self) -> None:
        """Open clients and connections."""

    async def recover(self, cursor: int) -> int:
        """Repair what an interrupted run left behind and return the cursor to resume from.

        HTTP sinks return ``cursor`` unchanged; the warehouse removes files written after it.
        """
        ...

    async def send(self, batch: Batch) -> Delivery:
        """Deliver ``batch``; raise a :class:`SinkError` subclass when it was not accepted."""
        ...

    async def close(self) -> None:
        """Release clients; nothing is buffered between sends, so nothing is lost here."""

    def redact(self, text: str) -> str:
        """``text`` without this sink's secrets; applied to every error the forwarder shows."""
        ...


class RedactingFilter(logging.Filter):
    """Rewrites a library's log records so that a secret it puts in them never reaches a
    handler, whatever level anyone sets: records containing ``marker`` get ``pattern``
    replaced by ``replacement``."""

    def __init__(self, marker: str, pattern: re.Pattern[str], replacement: str) -> None:
        super().__init__()
        self._marker, self._pattern, self._replacement = marker, pattern, replacement

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if self._marker in text:
            record.msg, record.args = self._pattern.sub(self._replacement, text), ()
        return True

    def install(self, logger_name: str) -> None:
        """Add this filter to ``logger_name`` once."""
        logger = logging.getLogger(logger_name)
        if self not in logger.filters:
            logger.addFilter(self)
