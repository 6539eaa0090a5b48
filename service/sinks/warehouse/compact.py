"""Daily compaction: the small files of a closed day become one file per (node, epoch).

The merged file is streamed file by file (memory stays at one input file), written under a
temp name, renamed into place, and only then are the inputs deleted. Its name covers the
inputs' whole seq range, so a crash between the rename and the deletes leaves inputs that
:func:`~service.sinks.warehouse.files.remove_superseded` recognises and removes at start.
A reader that lists the folder in the instant between the rename and the deletes may see a
day twice; ``event_id`` is the dedup key when that matters.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from service.durable import fsync_dir
from service.sinks.warehouse.files import Part, part_name, parts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compacted:
    """One merge: the file written and how many it replaced."""

    path: Path
    inputs: int
    rows: int


def compact(
    root: Path, node: str, *, before: str, min_files: int = 2, compression: str = "zstd"
) -> list[Compacted]:
    """Merge each partition of ``node`` dated before ``before`` (ISO date) with enough files."""
    groups: dict[tuple[str, str], list[Part]] = {}
    for part in parts(root, node):
        if part.event_date < before:
            groups.setdefault((part.event_date, part.epoch), []).append(part)
    done = []
    for group in groups.values():
        if len(group) >= max(2, min_files):
            done.append(_merge(sorted(group, key=lambda p: p.first), compression))
    return done


def _merge(group: list[Part], compression: str) -> Compacted:
    folder = group[0].path.parent
    target = folder / part_name(group[0].epoch, group[0].first, group[-1].last)
    tmp = folder / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
    rows = 0
    try:
        writer: pq.ParquetWriter | None = None
        for part in group:
            table = pq.read_table(part.path)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression=compression)
            writer.write_table(table)
            rows += table.num_rows
        assert writer is not None
        writer.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    for part in group:
        if part.path != target:
            part.path.unlink(missing_ok=True)
    fsync_dir(folder)
    log.info("compacted %d files of %s into %s (%d rows)", len(group), folder, target.name, rows)
    return Compacted(path=target, inputs=len(group), rows=rows)
