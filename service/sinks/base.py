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

import base64
import logging
import re
from typing import Protocol
from urllib.parse import quote

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
        """``text`` without this sink's secrets in any form (:func:`redact_secrets`); applied
        to every error and dead-letter reason the forwarder shows, stores or logs, since a
        destination may quote the request (its URL, its Basic credentials) in its answer."""
        ...


def secret_forms(secret: str) -> tuple[str, ...]:
    """The ways ``secret`` can appear in a request a destination echoes back: as is,
    URL-encoded (a query parameter), and base64-encoded as HTTP Basic credentials with an
    empty password (how the Segment and Mixpanel libraries send their keys) or alone."""
    if not secret:
        return ()
    raw = secret.encode()
    forms = {
        secret, quote(secret, safe=""),
        base64.b64encode(raw + b":").decode(), base64.b64encode(raw).decode(),
    }  # fmt: skip
    return tuple(sorted(forms, key=len, reverse=True))


def redact_secrets(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every form of every secret (:func:`secret_forms`) replaced by ``***``."""
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, "***")
    return text


class SecretsFilter(logging.Filter):
    """Blanks every form of the secrets registered with it (:func:`redact_secrets`) in a
    library's log records, such as a response quoting the request's credentials."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()

    def add(self, secrets: tuple[str, ...]) -> None:
        self._secrets = tuple(dict.fromkeys((*self._secrets, *(s for s in secrets if s))))

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            text = record.getMessage()
            if (redacted := redact_secrets(text, self._secrets)) != text:
                record.msg, record.args = redacted, ()
        return True


_SECRETS_FILTERS: dict[str, SecretsFilter] = {}


def hide_secrets_in(logger_name: str, secrets: tuple[str, ...]) -> None:
    """Keep ``secrets`` (in every form) out of ``logger_name``'s records, at any level."""
    if (found := _SECRETS_FILTERS.get(logger_name)) is None:
        found = _SECRETS_FILTERS[logger_name] = SecretsFilter()
        logging.getLogger(logger_name).addFilter(found)
    found.add(secrets)


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
