"""Reading the warehouse export lazily, and writing Parquet files whole or not at all.

Warehouse layout (written by the service's warehouse sink; by :func:`write_events` in tests,
the demo and the benchmark, with the sink's file names)::

    <warehouse>/events/event_date=YYYY-MM-DD/node=<node_id>/<epoch>_<first seq>_<last seq>.parquet

with exactly the event log's columns (``service.eventlog.codec.ARROW_SCHEMA``). Scans pick
the day partitions of the requested time range from the folder names, so a query over one
day opens one day's files whatever the size of the history.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa

from service.eventlog.codec import ARROW_SCHEMA
from service.sinks.warehouse.files import part_name

log = logging.getLogger(__name__)

EVENT_SCHEMA: dict[str, pl.DataType] = dict(
    pl.from_arrow(ARROW_SCHEMA.empty_table()).schema  # type: ignore[union-attr]
)
HIVE_SCHEMA: dict[str, pl.DataType] = {"event_date": pl.Date(), "node": pl.String()}
_PREFIX = "event_date="
_NAME = re.compile(r"(?:(?P<epoch>[^_]+)_(?P<first>\d+)_|(?P<first_old>\d+)-)(?P<last>\d+)\.parquet")


class Warehouse:
    """The Parquet event export under one root folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events_root = root / "events"
        self.reports_root = root / "reports"

    def days(self) -> list[date]:
        """Dates of the day partitions that hold at least one Parquet file, ascending."""
        if not self.events_root.is_dir():
            return []
        found = []
        for child in self.events_root.iterdir():
            if not child.name.startswith(_PREFIX):
                continue
            try:
                day = date.fromisoformat(child.name[len(_PREFIX) :])
            except ValueError:
                log.warning("ignoring warehouse folder with a bad date: %s", child)
                continue
            if next(child.glob("*/*.parquet"), None) is not None:
                found.append(day)
        return sorted(found)

    def files(self, start: date | None = None, end: date | None = None) -> list[Path]:
        """Parquet files of the day partitions in ``[start, end]`` (both inclusive)."""
        out: list[Path] = []
        for day in self.days():
            if (start is None or day >= start) and (end is None or day <= end):
                folder = self.events_root / f"{_PREFIX}{day.isoformat()}"
                out.extend(sorted(folder.glob("*/*.parquet")))
        return out

    def scan(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Iterable[str] | None = None,
    ) -> pl.LazyFrame:
        """Events with ``start <= occurred_at < end``, optionally only of ``types``, lazily."""
        last = (end - timedelta(microseconds=1)).date() if end is not None else None
        files = self.files(start.date() if start is not None else None, last)
        if not files:
            return pl.LazyFrame(schema={**EVENT_SCHEMA, **HIVE_SCHEMA})
        # The same event can sit in two files: compaction renames the merged file in before it
        # deletes its inputs, and start-up removes an interrupted one's leftovers only at the
        # next start (docs/forwarding.md). Such files are of one day, node and log epoch with
        # overlapping seq ranges, which their names say; only their rows are deduplicated by
        # ``event_id`` (the export's dedup key), after the filters. Deduplicating every scan
        # cost the benchmark (2M events, 200k users) 687 -> 1379 MiB peak RSS and 15.6 ->
        # 26.0 s for a full refresh, for files that cannot hold a repeat.
        overlapping = _overlapping(files)
        clean = [f for f in files if f not in overlapping]
        parts = [self._filtered(clean, start, end, types)] if clean else []
        if overlapping:
            dup = self._filtered(sorted(overlapping), start, end, types)
            parts.append(dup.unique(subset="event_id", keep="any"))
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")

    @staticmethod
    def _filtered(
        files: list[Path], start: datetime | None, end: datetime | None,
        types: Iterable[str] | None,
    ) -> pl.LazyFrame:  # fmt: skip
        lf = pl.scan_parquet(
            files,
            hive_partitioning=True,
            hive_schema=HIVE_SCHEMA,
            missing_columns="insert",
            extra_columns="ignore",
        )
        if start is not None:
            lf = lf.filter(pl.col("occurred_at") >= start)
        if end is not None:
            lf = lf.filter(pl.col("occurred_at") < end)
        if types is not None:
            lf = lf.filter(pl.col("event_type").is_in(list(types)))
        return lf

    def problems(self) -> list[str]:
        """What makes event files unreadable to the jobs, naming each file (relative to the
        warehouse root) and column: a file that is not Parquet (cut short by a full disk, a copy
        restored by hand) or a column of another type than the log's. Polars' own error names
        neither the file nor, for a cut file, anything to look for. Reads only the footers, and
        only when a job failed (:class:`analytics.runner.Runner`)."""
        out = []
        for path in self.files():
            name = path.relative_to(self.root)
            try:
                schema = pl.read_parquet_schema(path)
            except Exception as exc:  # any failure to read the footer is the problem
                out.append(f"warehouse file {name} cannot be read as Parquet: {exc}")
                continue
            for column, dtype in schema.items():
                want = EVENT_SCHEMA.get(column)
                if want is not None and dtype != want:
                    out.append(f'warehouse file {name}: column "{column}": expected {want!r}, '
                               f"got {dtype!r}")  # fmt: skip
        return out

    def horizon(self) -> datetime | None:
        """The latest ``occurred_at`` in the export (read from the last day partition only)."""
        days = self.days()
        if not days:
            return None
        latest = self.scan(day_start(days[-1]), None).select(pl.col("occurred_at").max())
        value = latest.collect().item()
        return value if value is None else value.astimezone(UTC)


def _overlapping(files: list[Path]) -> set[Path]:
    """The files that may share rows with another: of one day, node and log epoch, with seq
    ranges that overlap (``<epoch>_<first>_<last>.parquet``; a seeded history's older
    ``<first>-<last>.parquet`` is an epoch of its own). A file whose name says neither is
    counted as overlapping every file of its folder, so it is deduplicated with them."""
    groups: dict[tuple[Path, str], list[tuple[int, int, Path]]] = {}
    unknown: set[Path] = set()
    for path in files:
        match = _NAME.fullmatch(path.name)
        if match is None:
            unknown.add(path.parent)
            continue
        first = match["first"] if match["epoch"] else match["first_old"]
        groups.setdefault((path.parent, match["epoch"] or ""), []).append(
            (int(first), int(match["last"]), path)
        )
    out = {p for p in files if p.parent in unknown}
    for ranges in groups.values():
        ranges.sort()
        cluster: list[Path] = []
        reach = -1
        for first, last, path in ranges:
            if cluster and first > reach:
                if len(cluster) > 1:
                    out.update(cluster)
                cluster = []
            cluster.append(path)
            reach = max(reach, last) if len(cluster) > 1 else last
        if len(cluster) > 1:
            out.update(cluster)
    return out


def day_start(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        frame.write_parquet(tmp, compression="zstd", statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_events(events: pa.Table | pl.DataFrame, root: Path) -> list[Path]:
    """Write events (the log's columns) into the warehouse layout under ``root``.

    One file per (UTC day, node, log epoch), named as the sink names its files (epoch, first
    and last seq), so the service's erasure, compaction and recovery see them as files of an
    epoch of their own (a seeded history is not the node's log, whose epoch differs). Used by
    tests, the demo and the benchmark to produce exactly what the warehouse sink produces.

    Raises:
        ValueError: a log column is missing.
    """
    frame = events if isinstance(events, pl.DataFrame) else pl.from_arrow(events)
    assert isinstance(frame, pl.DataFrame)
    missing = [c for c in EVENT_SCHEMA if c not in frame.columns]
    if missing:
        raise ValueError(f"events lack the log columns {', '.join(missing)}")
    frame = frame.select([pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items()])
    frame = frame.with_columns(pl.col("occurred_at").dt.date().alias("_day"))
    written = []
    for (day, node, epoch), part in frame.group_by(["_day", "node_id", "epoch"]):
        part = part.drop("_day").sort("seq")
        seqs = part["seq"]
        name = part_name(str(epoch), int(seqs.min()), int(seqs.max()))  # type: ignore[arg-type]
        path = root / "events" / f"{_PREFIX}{day}" / f"node={node}" / name
        write_parquet_atomic(part, path)
        written.append(path)
    return sorted(written)
