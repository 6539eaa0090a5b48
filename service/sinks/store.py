"""Forwarding state in the log's DuckDB file: cursors, dead letters, erasure records.

Every function takes a DuckDB connection, so the same code runs inside the service (through
``DuckDBLog.run_write`` / ``run_read``) and in the CLI when no service holds the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import msgspec
import pyarrow as pa

from service.domain.events import utcnow
from service.sinks.base import Rejected


class DeadLetter(msgspec.Struct, frozen=True):
    """An event a sink will never deliver, and why."""

    sink: str
    seq: int
    event_id: str
    reason: str
    failed_at: datetime


LEGACY_SCHEME = "sha256"
"""Pseudonyms of erasures recorded before keyed ones: the unkeyed SHA-256 of the user id."""
KEYED_SCHEME = "hmac-sha256"
"""Pseudonyms keyed with ``sinks.erasure_secret``: the HMAC-SHA256 of the user id."""


class ErasureRecord(msgspec.Struct, frozen=True):
    """What one erasure did: who asked, when, up to which seq, which rows and files."""

    erasure_id: str
    subject_hash: str
    """The user id's hash the erasure matches users by: under ``scheme``, with ``key_id``'s
    key. Never the user id, nor (for a keyed erasure) anything a guess can be tested on."""
    pseudonym: str
    """``erased-`` and the first 16 hex of ``subject_hash``: the id the user's rows now carry."""
    up_to_seq: int
    requested_by: str
    requested_at: datetime
    rows_rewritten: int
    """The export's rows of the user's events up to ``up_to_seq`` (as user or actor), erased,
    counted in the files when the erasure was done (0 while pending): also those a pass killed
    midway rewrote and those a sink behind the log exported already erased before then. Kept
    afterwards: what a sink still behind exports later is erased as it arrives, not added."""
    files: list[str]
    """The files (relative to the export's folder) holding those rows when it was done."""
    done_at: datetime | None = None
    """When the warehouse files were rewritten; None while the erasure is pending."""
    warnings: list[str] = msgspec.field(default_factory=list)
    """What the erasure did not reach (a DuckLake catalog); in the answer and the audit line,
    not stored in the log."""
    scheme: str = LEGACY_SCHEME
    """How ``subject_hash`` was made: ``hmac-sha256`` (keyed) for every erasure recorded now;
    a record or audit line without it predates keyed pseudonyms (``sha256``)."""
    key_id: str = ""
    """Which erasure key made a keyed ``subject_hash`` (a hash of the key, not the key);
    empty for ``sha256``."""


class ReplayOutOfRange(ValueError):
    """A replay's ``from_seq`` lies outside the log (below 1 or past the next event)."""


def replay_cursor(from_seq: int, last_seq: int) -> int:
    """The cursor that makes a sink forward again from ``from_seq`` (inclusive).

    ``from_seq`` may be at most ``last_seq + 1`` (forward from the next event): a cursor past
    the log's end would make the sink skip, for good, every event committed up to it.

    Raises:
        ReplayOutOfRange: ``from_seq`` is below 1 or above ``last_seq + 1``.
    """
    if not 1 <= from_seq <= last_seq + 1:
        raise ReplayOutOfRange(
            f"from_seq {from_seq} is outside the log: its last seq is {last_seq}, so from_seq "
            f"must be between 1 and {last_seq + 1} (the next event)"
        )
    return from_seq - 1


def load_cursors(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every stored cursor by sink name."""
    rows = con.execute("SELECT sink, seq FROM sink_cursors").fetchall()
    return {str(name): int(seq) for name, seq in rows}


def advance(
    con: duckdb.DuckDBPyConnection, sink: str, seq: int, rejected: Sequence[Rejected] = ()
) -> int:
    """Record ``rejected`` as dead letters and move ``sink``'s cursor to ``seq``, atomically.

    The dead letters go in as one Arrow table, one statement however many there are: this
    runs on the log writer's thread, where the chat's commits wait, and a statement per row
    (``executemany``, ~0.5 ms each) held it for seconds when a whole batch was refused.
    An event keeps the dead letter it already has (a replay refused again adds nothing).

    Returns:
        How many dead letters are new.
    """
    now = utcnow()
    added = 0
    con.execute("BEGIN")
    try:
        if rejected:
            letters = _dead_letter_table(sink, rejected, now)  # noqa: F841 - read by the scan
            added = int(con.execute(
                "INSERT INTO dead_letters BY NAME SELECT * FROM letters ON CONFLICT DO NOTHING"
            ).fetchall()[0][0])  # fmt: skip
        con.execute(
            "INSERT INTO sink_cursors VALUES (?, ?, ?) "
            "ON CONFLICT (sink) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
            [sink, seq, now],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return added


def _dead_letter_table(sink: str, rejected: Sequence[Rejected], at: datetime) -> pa.Table:
    n = len(rejected)
    return pa.table({
        "sink": pa.array([sink] * n, pa.string()),
        "seq": pa.array([r.seq for r in rejected], pa.int64()),
        "event_id": pa.array([r.event_id for r in rejected], pa.string()),
        "reason": pa.array([r.reason for r in rejected], pa.string()),
        "failed_at": pa.array([at] * n, pa.timestamp("us", tz="UTC")),
    })  # fmt: skip


def dead_letter_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Number of dead letters per sink."""
    rows = con.execute("SELECT sink, count(*) FROM dead_letters GROUP BY sink").fetchall()
    return {str(name): int(n) for name, n in rows}


def dead_letters(con: duckdb.DuckDBPyConnection, sink: str, limit: int = 100) -> list[DeadLetter]:
    """The newest dead letters of ``sink``."""
    rows = con.execute(
        "SELECT sink, seq, event_id, reason, failed_at FROM dead_letters WHERE sink = ? "
        "ORDER BY failed_at DESC, seq DESC LIMIT ?",
        [sink, limit],
    ).fetchall()
    return [DeadLetter(*row) for row in rows]


def last_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The highest committed seq of the log (0 when empty)."""
    row = con.execute("SELECT coalesce(max(seq), 0) FROM events").fetchall()[0]
    return int(row[0])


def save_erasure(con: duckdb.DuckDBPyConnection, record: ErasureRecord) -> None:
    """Append an erasure record (pending until :func:`finish_erasure`)."""
    con.execute(
        "INSERT INTO erasures BY NAME SELECT ? AS erasure_id, ? AS subject_hash, ? AS pseudonym, "
        "? AS up_to_seq, ? AS requested_by, ? AS requested_at, ? AS rows_rewritten, "
        "? AS files, ? AS done_at, ? AS scheme, ? AS key_id",
        [
            record.erasure_id, record.subject_hash, record.pseudonym, record.up_to_seq,
            record.requested_by, record.requested_at, record.rows_rewritten,
            msgspec.json.encode(record.files).decode(), record.done_at, record.scheme,
            record.key_id,
        ],
    )  # fmt: skip


def load_erasures(
    con: duckdb.DuckDBPyConnection, *, pending_only: bool = False
) -> list[ErasureRecord]:
    """Every erasure record (or only those whose file rewrite is not done), oldest first.

    A log read without being written to (``sideline sinks status`` on a log the service has
    not opened since an upgrade) may lack ``scheme`` and ``key_id``: its records are all
    ``sha256``.
    """
    columns = {str(r[0]) for r in con.execute("DESCRIBE erasures").fetchall()}
    made = "scheme, key_id " if "key_id" in columns else "'sha256', '' "
    rows = con.execute(
        "SELECT erasure_id, subject_hash, pseudonym, up_to_seq, requested_by, requested_at, "
        "rows_rewritten, files, done_at, " + made + "FROM erasures "
        + ("WHERE done_at IS NULL " if pending_only else "")
        + "ORDER BY requested_at"
    ).fetchall()
    return [
        ErasureRecord(
            erasure_id=r[0], subject_hash=r[1], pseudonym=r[2], up_to_seq=int(r[3]),
            requested_by=r[4], requested_at=r[5], rows_rewritten=int(r[6]),
            files=msgspec.json.decode(r[7], type=list[str]), done_at=r[8], scheme=r[9],
            key_id=r[10],
        )
        for r in rows
    ]  # fmt: skip


def finished(
    record: ErasureRecord, rows: int, files: Sequence[str], warnings: Sequence[str] = ()
) -> ErasureRecord:
    """``record`` done now: ``rows`` rows in ``files`` of the export are erased by it.

    Both are counted in the files once the rewrite is complete (``erase_files``), so they
    replace what the record held: rows a pass killed midway had already rewritten are in.
    """
    return msgspec.structs.replace(
        record, rows_rewritten=rows, files=sorted(set(files)), done_at=utcnow(),
        warnings=list(warnings),
    )  # fmt: skip


def erased_before(con: duckdb.DuckDBPyConnection, record: ErasureRecord) -> int:
    """The last seq an earlier erasure of ``record``'s user covers (0 when there is none).

    Rows up to it are that erasure's: a user erased again after posting more is counted,
    the second time, only for the rows the second erasure adds.
    """
    row = con.execute(
        "SELECT coalesce(max(up_to_seq), 0) FROM erasures "
        "WHERE subject_hash = ? AND requested_at < ? AND erasure_id <> ?",
        [record.subject_hash, record.requested_at, record.erasure_id],
    ).fetchall()[0]
    return int(row[0])


def rekey_erasures(con: duckdb.DuckDBPyConnection, records: Sequence[ErasureRecord]) -> None:
    """Store ``records``' new hash and pseudonym (earlier erasures moved to the current key)."""
    for record in records:
        con.execute(
            "UPDATE erasures SET subject_hash = ?, pseudonym = ?, scheme = ?, key_id = ? "
            "WHERE erasure_id = ?",
            [record.subject_hash, record.pseudonym, record.scheme, record.key_id,
             record.erasure_id],
        )  # fmt: skip


def finish_erasure(con: duckdb.DuckDBPyConnection, record: ErasureRecord) -> None:
    """Store what the file rewrite of an erasure changed, and that it is done."""
    con.execute(
        "UPDATE erasures SET rows_rewritten = ?, files = ?, done_at = ? WHERE erasure_id = ?",
        [record.rows_rewritten, msgspec.json.encode(record.files).decode(), record.done_at,
         record.erasure_id],
    )  # fmt: skip
