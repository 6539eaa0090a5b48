"""The status of one sink as the admin API, the CLI and ``/metrics`` report it."""

from __future__ import annotations

import msgspec


class SinkStatus(msgspec.Struct, kw_only=True):
    """Where a sink stands.

    ``delivered``, ``errors`` and ``events_per_second`` count since the service started;
    ``cursor`` and ``dead_letters`` are stored with the log and survive restarts.
    """

    name: str
    kind: str
    state: str
    """``idle``, ``sending``, ``backing_off`` (transient errors), ``blocked`` (credentials or
    endpoint refused), ``stopped``, ``offline`` (read from the file, no service running), or
    ``disabled`` (configured with ``enabled = false``, or forwarding is off: the cursor is the
    stored one, and nothing is sent)."""
    cursor: int
    last_seq: int
    lag: int
    """Committed events the sink has not processed yet: ``last_seq - cursor``, never clamped.
    Negative means the stored cursor is past the log's end (events removed from the file);
    the service rewinds such a cursor to the log's end when it starts."""
    delivered: int = 0
    dead_letters: int = 0
    errors: int = 0
    last_error: str | None = None
    retry_in_seconds: float | None = None
    events_per_second: float = 0.0
    """Delivered events per second over the last 10 s."""
    adjustments: dict[str, int] = msgspec.field(default_factory=dict)
    """Changes made to fit vendor limits, by reason (e.g. ``param_value_truncated``)."""
    pending_erasures: int = 0
    """Warehouse sinks: erasures recorded whose rewrite of the export's files is not done
    yet (interrupted, or failing: ``last_error`` says why). The service completes them."""


def past_the_end(cursor: int, last: int) -> str | None:
    """What a stored ``cursor`` past the log's ``last`` seq means, or None when it is not."""
    if cursor <= last:
        return None
    return f"cursor {cursor} is past the log's last seq {last}; the next start rewinds it"
