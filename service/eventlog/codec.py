"""Conversion between :class:`Event` structs and log rows (Arrow batches in, tuples out)."""

from __future__ import annotations

from collections.abc import Sequence
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
_encode = msgspec.json.Encoder().encode
_decode_payload = msgspec.json.Decoder(dict[str, Any]).decode


def to_arrow(events: Sequence[Event]) -> pa.Table:
    """Build one Arrow table for a batch of committed-to-be events (seq already assigned)."""
    cols: list[list[Any]] = [[] for _ in COLUMNS]
    for e in events:
        m = e.metadata
        row = (
            e.seq, e.event_id, e.epoch, e.node_id, e.schema_version, e.event_type.value,
            e.occurred_at, e.user_id, e.room_id, e.context_id, e.actor_id, e.message_id,
            m.device, m.language, m.message_type, m.app_version, m.session_id,
            _encode(e.payload).decode(),
        )  # fmt: skip
        for col, value in zip(cols, row, strict=True):
            col.append(value)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, ARROW_SCHEMA, strict=True)], schema=ARROW_SCHEMA)


def from_row(row: Sequence[Any]) -> Event:
    """Rebuild an event from a row selected with :data:`SELECT_COLUMNS`."""
    (seq, event_id, epoch, node_id, schema_version, event_type, occurred_at, user_id, room_id,
     context_id, actor_id, message_id, device, language, message_type, app_version, session_id,
     payload) = row  # fmt: skip
    return Event(
        seq=seq,
        event_id=event_id,
        epoch=epoch,
        node_id=node_id,
        schema_version=schema_version,
        event_type=EventType(event_type),
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
        payload=_decode_payload(payload),
    )
