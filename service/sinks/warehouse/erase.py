"""Erasure of users from Parquet files already written: rewrite each affected file in place."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from service.sinks.erasure import rewrite
from service.sinks.store import ErasureRecord
from service.sinks.warehouse.files import parts, write_atomic
from service.sinks.warehouse.views import ERASURES_FILE


def erase_files(
    root: Path, node: str, hits: dict[str, tuple[str, int]], *, compression: str = "zstd"
) -> tuple[int, list[str]]:
    """Rewrite ``node``'s files that mention an erased user; returns (rows changed, files).

    Files are paths relative to ``root``. Only the two id columns are read to find the
    affected files; a file is rewritten whole under the same name (an atomic replace).
    """
    wanted = pa.array(list(hits), pa.string())
    rows, files = 0, []
    for part in parts(root, node):
        ids = pq.read_table(part.path, columns=["user_id", "actor_id"])
        hit = (
            pc.any(pc.is_in(ids.column("user_id"), value_set=wanted)).as_py()
            or pc.any(pc.is_in(ids.column("actor_id"), value_set=wanted)).as_py()
        )
        if not hit:
            continue
        table, changed = rewrite(pq.read_table(part.path), hits)
        if changed:
            write_atomic(table, part.path, compression=compression)
            rows += changed
            files.append(str(part.path.relative_to(root)))
    return rows, files


def append_audit(root: Path, record: ErasureRecord) -> None:
    """Append ``record`` to ``<root>/erasures.jsonl``, the analysts' view of erasures."""
    root.mkdir(parents=True, exist_ok=True)
    line = msgspec.json.encode(record) + b"\n"
    with open(root / ERASURES_FILE, "ab") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
