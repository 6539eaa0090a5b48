"""Erasure of users from Parquet files already written: rewrite each affected file in place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
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


def rekey_files(
    root: Path, node: str, moved: Sequence[tuple[ErasureRecord, ErasureRecord]], *,
    compression: str = "zstd",
) -> int:
    """Give ``node``'s rows erased by each earlier record of ``moved`` the pseudonym of its
    rekeyed form, and their audit lines its keyed hash; returns the rows changed.

    ``moved`` pairs an erasure made before keyed pseudonyms (or under a retired key) with
    itself rekeyed (:func:`~service.sinks.erasure.rekeyed`). Rows are found by the old
    pseudonym, in every file of the node's partitions, whatever its epoch; only ``user_id``
    and ``actor_id`` change (the rest was blanked when the rows were erased). Run again after
    an interruption, it changes only what is left: the old pseudonyms no longer match.
    """
    renames = {old.pseudonym: new.pseudonym for old, new in moved}
    rows = 0
    for path in listed(root, node):
        ids = pq.read_table(path, columns=["user_id", "actor_id"])
        distinct = pc.unique(pa.concat_arrays([
            ids.column("user_id").combine_chunks(), ids.column("actor_id").combine_chunks()
        ])).to_pylist()  # fmt: skip
        if renames.keys().isdisjoint(distinct):
            continue
        table = pq.read_table(path)
        changed = [False] * table.num_rows
        for name in ("user_id", "actor_id"):
            values = table.column(name).to_pylist()
            for i, value in enumerate(values):
                if value in renames:
                    values[i], changed[i] = renames[value], True
            index = table.schema.get_field_index(name)
            field = table.schema.field(index)
            table = table.set_column(index, field, pa.array(values, field.type))
        write_atomic(table, path, compression=compression)
        rows += sum(changed)
    _rekey_audit(root, [new for _, new in moved])
    return rows


def _rekey_audit(root: Path, records: Sequence[ErasureRecord]) -> None:
    """Rewrite the lines of ``records``' erasures in ``<root>/erasures.jsonl`` with their hash,
    pseudonym, scheme and key id (the rest of a line stays as written), atomically."""
    path = root / ERASURES_FILE
    if not path.exists():
        return
    by_id = {r.erasure_id: r for r in records}
    lines = []
    for line in path.read_bytes().splitlines():
        record = by_id.get(_audit_id(line)) if line.strip() else None
        if record is not None:
            fields = msgspec.json.decode(line, type=dict[str, object])
            fields.update(subject_hash=record.subject_hash, pseudonym=record.pseudonym,
                          scheme=record.scheme, key_id=record.key_id)  # fmt: skip
            line = msgspec.json.encode(fields)
        lines.append(line)
    # A line another node appends to a shared folder between the read and the rename is lost
    # here; that node's next start finds its erasure missing and writes the line again.
    tmp = path.with_name(f".{ERASURES_FILE}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"".join(line + b"\n" for line in lines))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
