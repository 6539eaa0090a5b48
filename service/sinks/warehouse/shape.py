"""What the warehouse exports of each event: the columns the jobs read, and what its rules let out.

The export keeps the log's columns, so every reader (the analytics jobs, the views, notebooks)
finds the schema it knows, and a sink's rules decide what they hold:

- ``include_text = false`` removes the payload's free text, ``include_names = false`` (the
  default) its display names, as for the vendors (:mod:`service.sinks.privacy`);
- ``properties`` (an allow-list) keeps only the listed payload keys, and leaves the optional
  envelope columns (:data:`OPTIONAL_COLUMNS`) null unless they are listed. The columns that
  say which event a row is, when, and whom and what it concerns (:data:`KEY_COLUMNS`) always
  stay: the jobs count and join on them, and erasure finds a user's rows by them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from service.sinks.privacy import PropertyPolicy
from service.sinks.settings import WarehouseSinkSettings

KEY_COLUMNS = (
    "seq", "event_id", "epoch", "node_id", "schema_version", "event_type", "occurred_at",
    "user_id", "room_id", "context_id", "actor_id", "message_id",
)  # fmt: skip
"""Exported whatever the allow-list."""
OPTIONAL_COLUMNS = ("device", "language", "message_type", "app_version", "session_id")
"""Null in the export unless the allow-list names them (or there is none)."""

_decode = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.Encoder().encode


class ExportShape:
    """Applies one warehouse sink's text, name and allow-list rules to a batch of log rows."""

    def __init__(self, settings: WarehouseSinkSettings) -> None:
        self._policy = policy = PropertyPolicy.of(settings)
        self._nulled = [c for c in OPTIONAL_COLUMNS if not policy.allows(c)]
        keys = sorted(policy.personal_keys)
        # Without an allow-list only payloads holding one of these keys change; a key is
        # always written as "key" in JSON, so a payload without that text is left as is.
        self._pattern = "|".join(f'"{k}"' for k in keys) if keys else None

    def apply(self, table: pa.Table) -> pa.Table:
        """``table`` as this sink exports it (same columns and types)."""
        for name in self._nulled:
            index = table.schema.get_field_index(name)
            field = table.schema.field(index)
            table = table.set_column(index, field, pa.nulls(table.num_rows, field.type))
        return self._payloads(table)

    def _payloads(self, table: pa.Table) -> pa.Table:
        column = table.column("payload").combine_chunks()
        if self._policy.restricted:
            mask = None
        elif self._pattern is not None and table.num_rows:
            mask = pc.fill_null(pc.match_substring_regex(column, self._pattern), False)
            if not pc.any(mask).as_py():
                return table
        else:
            return table
        chosen = column if mask is None else column.filter(mask)
        shaped = pa.array(
            [_encode(self._policy.payload(_decode(p))).decode() for p in chosen.to_pylist()],
            pa.string(),
        )
        new = shaped if mask is None else pc.replace_with_mask(column, mask, shaped)
        index = table.schema.get_field_index("payload")
        return table.set_column(index, table.schema.field(index), new)
