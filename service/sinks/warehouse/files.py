"""The Parquet layout of the warehouse export, and how files are written so readers never see
half of one.

``<root>/events/event_date=YYYY-MM-DD/node=<node_id>/<epoch>_<first seq>_<last seq>.parquet``

A file holds the events of one day, one node and one log epoch whose seq lies in
``[first, last]``. Names are deterministic, so rewriting a seq range produces the same name
and replaces the file instead of adding a second copy. Files of one (day, node, epoch) never
overlap, except for a moment during compaction (a merged file whose range contains the
files it replaces); :func:`remove_superseded` clears that after a crash.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from service.durable import fsync_dir

EVENTS_DIR = "events"
_NAME = re.compile(r"^(?P<epoch>[0-9a-f]{32})_(?P<first>\d+)_(?P<last>\d+)\.parquet$")
NODE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Part:
    """One Parquet file of the export."""

    path: Path
    event_date: str
    node: str
    epoch: str
    first: int
    last: int


def part_name(epoch: str, first: int, last: int) -> str:
    """The file name of the events of ``epoch`` with seq in ``[first, last]``."""
    return f"{epoch.replace('-', '')}_{first:012d}_{last:012d}.parquet"


def partition_dir(root: Path, event_date: str, node: str) -> Path:
    return root / EVENTS_DIR / f"event_date={event_date}" / f"node={node}"


def parts(root: Path, node: str | None = None) -> Iterator[Part]:
    """Every export file (of one node when given); temporary files are never listed."""
    for day_dir in sorted((root / EVENTS_DIR).glob("event_date=*")):
        pattern = f"node={node}" if node is not None else "node=*"
        for node_dir in sorted(day_dir.glob(pattern)):
            for path in sorted(node_dir.glob("*.parquet")):
                m = _NAME.match(path.name)
                if m is None:
                    continue
                yield Part(
                    path=path,
                    event_date=day_dir.name.split("=", 1)[1],
                    node=node_dir.name.split("=", 1)[1],
                    epoch=m["epoch"],
                    first=int(m["first"]),
                    last=int(m["last"]),
                )


def listed(root: Path, node: str) -> Iterator[Path]:
    """Every Parquet file of ``node``'s partitions that readers list, whatever its name.

    Readers glob ``*.parquet``; :func:`parts` yields only the files named as the sink names
    them. Erasure must reach every file a reader can read, so it walks these.
    """
    for day_dir in sorted((root / EVENTS_DIR).glob("event_date=*")):
        yield from sorted((day_dir / f"node={node}").glob("*.parquet"))


def holds_files(root: Path, node: str) -> bool:
    """Whether ``node``'s partitions under ``root`` hold any Parquet file."""
    return next(listed(root, node), None) is not None


def write_atomic(table: pa.Table, path: Path, *, compression: str = "zstd") -> None:
    """Write ``table`` to ``path`` through a hidden temp file, fsync, then rename over it.

    Readers list ``*.parquet`` only, so they never open the temp file, and the rename makes
    the complete file appear at once (or replace an older version at once).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp, compression=compression)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_batch(
    table: pa.Table, root: Path, *, node: str, epoch: str, compression: str = "zstd"
) -> list[Path]:
    """Write a batch of log rows as one file per event date; returns the files written."""
    if table.num_rows == 0:
        return []
    dates = pc.strftime(table.column("occurred_at"), format="%Y-%m-%d")
    days = pc.unique(dates).to_pylist()
    written = []
    for day in days:
        rows = table.filter(pc.equal(dates, day)) if len(days) > 1 else table
        seqs = rows.column("seq")
        first, last = pc.min(seqs).as_py(), pc.max(seqs).as_py()
        path = partition_dir(root, day, node) / part_name(epoch, first, last)
        write_atomic(rows, path, compression=compression)
        written.append(path)
    return written


def remove_superseded(root: Path, node: str) -> list[Path]:
    """Delete files whose range lies inside another file's of the same day and epoch.

    Only an interrupted compaction leaves such files (the merged file was renamed in, the
    originals not yet deleted); without this they would be counted twice.
    """
    groups: dict[tuple[str, str], list[Part]] = {}
    for part in parts(root, node):
        groups.setdefault((part.event_date, part.epoch), []).append(part)
    removed = []
    for group in groups.values():
        for part in group:
            if any(
                o is not part and o.first <= part.first and part.last <= o.last
                and (o.first, o.last) != (part.first, part.last)
                for o in group
            ):  # fmt: skip
                part.path.unlink(missing_ok=True)
                removed.append(part.path)
    return removed


def remove_after(root: Path, node: str, epoch: str, cursor: int) -> tuple[int, list[Path]]:
    """Delete this epoch's files holding any seq above the cursor to resume from.

    Returns that cursor: ``cursor``, or lower when a deleted file also held events at or
    below it (after a replay), so those are written again too. Lowering it can doom more
    files: a day's seqs need not be contiguous (backfilled events carry old dates at new
    seqs, and a compacted day spans other days' files), so files of other days may lie
    inside the rewound range. They are deleted too, until no file left holds a seq above
    the resume point; otherwise the rewrite, cut into other batches, would add their rows
    a second time under other names.
    """
    epoch_hex = epoch.replace("-", "")
    remaining = [p for p in parts(root, node) if p.epoch == epoch_hex]
    resume = cursor
    doomed: list[Part] = []
    while found := [p for p in remaining if p.last > resume]:
        doomed += found
        remaining = [p for p in remaining if p.last <= resume]
        resume = min([resume, *(p.first - 1 for p in found)])
    for part in doomed:
        part.path.unlink(missing_ok=True)
    return resume, [p.path for p in doomed]
