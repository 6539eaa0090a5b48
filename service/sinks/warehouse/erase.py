"""Erasure of users from Parquet files already written: rewrite each affected file in place."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from service.sinks.erasure import ErasureIndex, ErasureKeys, rewrite
from service.sinks.store import ErasureRecord
from service.sinks.warehouse.files import listed, write_atomic
from service.sinks.warehouse.views import ERASURES_FILE


def erase_files(
    root: Path, node: str, record: ErasureRecord, *, keys: ErasureKeys, epoch: str,
    after_seq: int = 0, compression: str = "zstd",
) -> tuple[int, list[str]]:
    """Rewrite ``node``'s files that hold ``record``'s user; returns (rows, files) erased by it.

    Every Parquet file of the node's partitions is looked at, whatever its name (a history
    seeded by an older ``sideline demo seed --target warehouse`` is named by seqs alone):
    erasure reaches every file readers read. ``epoch`` is the log's: its rows are erased up
    to the record's ``up_to_seq``, and rows of any other epoch (an earlier log of this node,
    a seeded history) whatever their seq, since their seqs are another numbering.

    Users are matched by the hash the erasure record keeps, made as the record says (its
    ``scheme``, and for a keyed one the key of ``keys`` it names), so a pending erasure can be
    completed later without the user id, and an erasure made before keyed pseudonyms is
    applied again with its own pseudonym. Only the id, seq and epoch columns are read to find
    the affected files; a file is rewritten whole under the same name (an atomic replace).
    Running it again changes nothing: the ids it replaced no longer match.

    The rows are counted in the files once they are rewritten, not added up from what this
    pass changed: a pass killed midway (``kill -9``) leaves files already rewritten, which the
    pass that completes the erasure finds nothing to change in, and their rows are the
    erasure's all the same. They are the rows carrying the pseudonym (as user or actor) at
    seqs of the log after ``after_seq`` (the last seq of an earlier erasure of the same user,
    whose rows are that one's) up to the record's ``up_to_seq``, and, for the user's first
    erasure (``after_seq`` 0), those of other epochs; the files are those that hold them.
    Files are paths relative to ``root``.
    """
    index = ErasureIndex([record], keys=keys)
    rows, files = 0, []
    for path in listed(root, node):
        ids = pq.read_table(path, columns=_ID_COLUMNS)
        distinct = pc.unique(pa.concat_arrays([
            ids.column("user_id").combine_chunks(), ids.column("actor_id").combine_chunks()
        ])).to_pylist()  # fmt: skip
        hits = index.matches(distinct)
        if hits:
            table, changed = rewrite(pq.read_table(path), hits, epoch=epoch)
            if changed:
                write_atomic(table, path, compression=compression)
                ids = table.select(_ID_COLUMNS)
        if n := _erased_rows(ids, record, epoch, after_seq):
            rows += n
            files.append(str(path.relative_to(root)))
    return rows, files


_ID_COLUMNS = ["seq", "epoch", "user_id", "actor_id"]


def _erased_rows(ids: pa.Table, record: ErasureRecord, epoch: str, after_seq: int) -> int:
    """Rows of ``ids`` that carry ``record``'s pseudonym within its seqs (see erase_files)."""
    mine = pc.or_(
        pc.fill_null(pc.equal(ids.column("user_id"), record.pseudonym), False),
        pc.fill_null(pc.equal(ids.column("actor_id"), record.pseudonym), False),
    )
    seq = ids.column("seq")
    ours = pc.fill_null(pc.equal(ids.column("epoch"), epoch), False)
    within = pc.and_(pc.greater(seq, after_seq), pc.less_equal(seq, record.up_to_seq))
    counted = pc.if_else(ours, within, pa.scalar(after_seq == 0))
    return int(pc.sum(pc.and_(mine, counted)).as_py() or 0)


def ducklake_gap(sink: str, root: Path) -> str:
    """The warning of an erasure when sink ``sink`` also writes a DuckLake catalog.

    Only the Parquet files are rewritten: the catalog's copy of the rows (and its snapshots)
    is not touched, and saying "erased" without this would not be true.
    """
    return (
        f"not erased from the DuckLake catalog of warehouse sink {sink!r} "
        f"({root / 'lake.ducklake'}), which keeps this user's rows; remove them there "
        "(see 'DuckLake' in docs/forwarding.md)"
    )


def append_audit(root: Path, record: ErasureRecord) -> None:
    """Append ``record`` to ``<root>/erasures.jsonl``, the analysts' view of erasures.

    Once per erasure: an erasure completed again after a crash keeps its first line.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / ERASURES_FILE
    lead = b""
    if path.exists():
        text = path.read_bytes()
        for line in text.splitlines():
            if line.strip() and _audit_id(line) == record.erasure_id:
                return
        lead = b"\n" if text and not text.endswith(b"\n") else b""  # after a cut line
    with open(path, "ab") as fh:
        fh.write(lead + msgspec.json.encode(record) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def audited(root: Path) -> set[str]:
    """The ids of the erasures ``<root>/erasures.jsonl`` records: those applied to ``root``.

    An erasure's line is appended to a folder only once its files are rewritten, so a done
    erasure missing here was never applied to this folder (a warehouse not running when an
    older version erased, or a folder configured since).
    """
    path = root / ERASURES_FILE
    if not path.exists():
        return set()
    return {_audit_id(line) for line in path.read_bytes().splitlines() if line.strip()} - {""}


class _AuditId(msgspec.Struct):
    erasure_id: str = ""


def _audit_id(line: bytes) -> str:
    try:
        return msgspec.json.decode(line, type=_AuditId).erasure_id
    except msgspec.DecodeError:  # a line cut by a crash mid-write
        return ""
