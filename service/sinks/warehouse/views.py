"""``warehouse.duckdb``: a small read-only DuckDB file of views over the Parquet export.

Analysts open it with ``duckdb.connect(path, read_only=True)`` while the service runs. The
views resolve their glob at query time, so new Parquet files show up without touching the
file. It is rebuilt under a temp name and renamed into place, so a reader never opens a half
written file (one that already has it open keeps the old version until it reconnects).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from service import duck
from service.sinks.warehouse.files import EVENTS_DIR

VIEWS_FILE = "warehouse.duckdb"
ERASURES_FILE = "erasures.jsonl"

_EMPTY_EVENTS = """
SELECT NULL::BIGINT AS seq, NULL::VARCHAR AS event_id, NULL::VARCHAR AS epoch,
       NULL::VARCHAR AS node_id, NULL::SMALLINT AS schema_version, NULL::VARCHAR AS event_type,
       NULL::TIMESTAMPTZ AS occurred_at, NULL::VARCHAR AS user_id, NULL::VARCHAR AS room_id,
       NULL::VARCHAR AS context_id, NULL::VARCHAR AS actor_id, NULL::VARCHAR AS message_id,
       NULL::VARCHAR AS device, NULL::VARCHAR AS language, NULL::VARCHAR AS message_type,
       NULL::VARCHAR AS app_version, NULL::VARCHAR AS session_id, NULL::VARCHAR AS payload,
       NULL::DATE AS event_date, NULL::VARCHAR AS node
WHERE false
"""

# Views over `events`, one per question analysts ask most; payload fields come out typed.
_DERIVED = {
    "messages": """
        SELECT seq, event_id, occurred_at, event_date, node, user_id, room_id, context_id,
               message_id, device, language, app_version, session_id,
               json_extract_string(payload, '$.text') AS text,
               json_extract_string(payload, '$.visibility') AS visibility,
               CAST(json_extract(payload, '$.masked') AS BOOLEAN) AS masked,
               json_extract_string(payload, '$.reply_to') AS reply_to,
               json_extract_string(payload, '$.role') AS role,
               json_extract_string(payload, '$.client_msg_id') AS client_msg_id
        FROM events WHERE event_type = 'community_message_sent'""",
    "reactions": """
        SELECT seq, event_id, occurred_at, event_date, user_id, room_id, context_id, message_id,
               json_extract_string(payload, '$.emoji') AS emoji,
               event_type = 'reaction_added' AS added
        FROM events WHERE event_type IN ('reaction_added', 'reaction_removed')""",
    "moderation_verdicts": """
        SELECT seq, event_id, occurred_at, event_date, user_id, room_id, message_id,
               json_extract_string(payload, '$.action') AS action,
               CAST(json_extract(payload, '$.score') AS DOUBLE) AS score,
               json_extract(payload, '$.reasons') AS reasons
        FROM events WHERE event_type = 'community_message_moderated'""",
    "poll_votes": """
        SELECT seq, event_id, occurred_at, event_date, user_id, room_id, context_id,
               json_extract_string(payload, '$.poll_id') AS poll_id,
               CAST(json_extract(payload, '$.option') AS INTEGER) AS option
        FROM events WHERE event_type = 'poll_voted'""",
    "sanctions": """
        SELECT seq, event_id, occurred_at, event_date, event_type, user_id, actor_id, room_id,
               json_extract_string(payload, '$.scope') AS scope,
               json_extract_string(payload, '$.until') AS until
        FROM events WHERE event_type IN ('user_muted', 'user_unmuted', 'user_banned',
                                         'user_unbanned', 'user_shadow_banned')""",
    "room_joins": """
        SELECT seq, event_id, occurred_at, event_date, user_id, room_id, context_id, device,
               event_type = 'community_room_joined' AS joined
        FROM events WHERE event_type IN ('community_room_joined', 'community_room_left')""",
}


_ERASURE_COLUMNS = {
    "erasure_id": "VARCHAR", "subject_hash": "VARCHAR", "pseudonym": "VARCHAR",
    "up_to_seq": "BIGINT", "requested_by": "VARCHAR", "requested_at": "TIMESTAMPTZ",
    "rows_rewritten": "BIGINT", "files": "VARCHAR[]", "done_at": "TIMESTAMPTZ",
    "warnings": "VARCHAR[]", "scheme": "VARCHAR", "key_id": "VARCHAR",
}  # fmt: skip
"""The audit file's fields (``store.ErasureRecord``), typed here rather than inferred: inferred
from the lines, a file of records without warnings typed ``warnings`` as ``JSON[]``. Lines
written before keyed pseudonyms have no ``scheme``: the view says ``sha256`` for them."""


def _erasures_source(root: Path) -> str:
    """The ``erasures`` view's query: the audit file, or no rows of the same columns before
    the first erasure (the view is documented, so a query of it never meets a missing table)."""
    audit = (root / ERASURES_FILE).resolve()
    if not audit.exists():
        cols = ", ".join(f"NULL::{t} AS {c}" for c, t in _ERASURE_COLUMNS.items())
        return f"SELECT {cols} WHERE false"
    columns = ", ".join(f"{sql_literal(c)}: {sql_literal(t)}" for c, t in _ERASURE_COLUMNS.items())
    return ("SELECT * REPLACE (coalesce(scheme, 'sha256') AS scheme, coalesce(key_id, '') AS key_id) "
            f"FROM read_json({sql_literal(str(audit))}, format = 'newline_delimited', "
            f"columns = {{{columns}}})")  # fmt: skip


def sql_literal(text: str) -> str:
    """``text`` as a SQL string literal.

    View definitions cannot take bound parameters (they are stored as SQL text), so the one
    value they embed, a file path, is quoted here instead.
    """
    return "'" + text.replace("'", "''") + "'"


def has_parts(root: Path) -> bool:
    """Whether the export holds any Parquet file yet."""
    return any((root / EVENTS_DIR).glob("event_date=*/node=*/*.parquet"))


def write_views(root: Path) -> Path:
    """(Re)create ``<root>/warehouse.duckdb`` atomically; returns its path."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / VIEWS_FILE
    tmp = root / f".{VIEWS_FILE}.{uuid.uuid4().hex[:8]}.tmp"
    glob = str((root / EVENTS_DIR).resolve() / "event_date=*" / "node=*" / "*.parquet")
    try:
        con = duck.connect(tmp)
        try:
            if has_parts(root):
                source = (
                    f"SELECT * FROM read_parquet({sql_literal(glob)}, hive_partitioning = true, "
                    "union_by_name = true)"
                )
            else:
                source = _EMPTY_EVENTS
            con.execute(f"CREATE VIEW events AS {source}")
            for name, sql in _DERIVED.items():
                con.execute(f"CREATE VIEW {name} AS {sql}")
            con.execute(f"CREATE VIEW erasures AS {_erasures_source(root)}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return target
