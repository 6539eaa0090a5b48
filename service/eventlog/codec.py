"""Conversion between :class:`Event` structs and log rows (Arrow batches in, tuples out)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pyarrow as pa

from service.domain.events import Event, EventType, Metadata

COLUMNS = (
    "seq", "event_id", "epoch", "node_id", "schema_version", "event_type", "occurred_at",
    "user_id", "room_id", "context_id", "actor_id", "message_id", "device", "language",
    "message_type", "app_version", "session_id", "payload",
)  # fmt: skip

ARROW_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("epoch", pa.string()),
        ("node_id", pa.string()),
        ("schema_version", pa.int16()),
        ("event_type", pa.string()),
        ("occurred_at", pa.timestamp("us", tz="UTC")),
        ("user_id", pa.string()),
        ("room_id", pa.string()),
        ("context_id", pa.string()),
        ("actor_id", pa.string()),
        ("message_id", pa.string()),
        ("device", pa.string()),
        ("language", pa.string()),
        ("message_type", pa.string()),
        ("app_version", pa.string()),
        ("session_id", pa.string()),
        ("payload", pa.string()),
    ]
)

SELECT_COLUMNS = ", ".join(COLUMNS)
REPLAY_COLUMNS = SELECT_COLUMNS.replace("occurred_at", "epoch_us(occurred_at)")
"""The columns for a bulk read (the start's fold): the time as microseconds since the epoch,
which :func:`from_row` turns into a UTC datetime itself, a third cheaper than DuckDB's own
conversion of a ``TIMESTAMPTZ`` (1M rows: 3.0 s against 4.8 s to fetch)."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EVENT_TYPES = {t.value: t for t in EventType}
_encode = msgspec.json.Encoder().encode
decode_payload = msgspec.json.Decoder(dict[str, Any]).decode
"""A payload column value -> the payload dict."""


def to_arrow(events: Sequence[Event]) -> pa.Table:
    """Build one Arrow table for a batch of committed-to-be events (seq already assigned).

    Column by column (a quarter cheaper than row by row); payloads go in as the UTF-8 bytes
    msgspec encodes, which Arrow takes for a string column without a decode.
    """
    metas = [e.metadata for e in events]
    cols: list[list[Any]] = [
        [e.seq for e in events], [e.event_id for e in events], [e.epoch for e in events],
        [e.node_id for e in events], [e.schema_version for e in events],
        [e.event_type.value for e in events], [e.occurred_at for e in events],
        [e.user_id for e in events], [e.room_id for e in events], [e.context_id for e in events],
        [e.actor_id for e in events], [e.message_id for e in events],
        [m.device for m in metas], [m.language for m in metas], [m.message_type for m in metas],
        [m.app_version for m in metas], [m.session_id for m in metas],
        [_encode(e.payload) for e in events],
    ]  # fmt: skip
    arrays = [pa.array(c, type=f.type) for c, f in zip(cols, ARROW_SCHEMA, strict=True)]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def from_row(row: Sequence[Any]) -> Event:
    """Rebuild an event from a row selected with :data:`SELECT_COLUMNS` or :data:`REPLAY_COLUMNS`."""
    (seq, event_id, epoch, node_id, schema_version, event_type, occurred_at, user_id, room_id,
     context_id, actor_id, message_id, device, language, message_type, app_version, session_id,
     payload) = row  # fmt: skip
    if type(occurred_at) is int:  # selected with REPLAY_COLUMNS
        occurred_at = _EPOCH + timedelta(microseconds=occurred_at)
    return Event(
        seq=seq,
        event_id=event_id,
        epoch=epoch,
        node_id=node_id,
        schema_version=schema_version,
        event_type=_EVENT_TYPES.get(event_type) or EventType(event_type),
        occurred_at=occurred_at,
        user_id=user_id,
        room_id=room_id,
        context_id=context_id,
        actor_id=actor_id,
        message_id=message_id,
        metadata=Metadata(
            device=device,
            language=language,
            message_type=message_type,
            app_version=app_version,
            session_id=session_id,
        ),
        payload=decode_payload(payload),
    )
