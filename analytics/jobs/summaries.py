"""Per-user summaries of the whole history that several jobs read, kept up to date
incrementally.

The summary (first and last time per user and participation type) is a min/max aggregate, so
it can be merged: the stored one covers events before its ``through`` time, and a run only
scans from the start of that day on, merging with min/max (re-reading events already counted
changes nothing). If any file of an earlier day changed since (a late export, an erasure) or
the run looks at an earlier time, it is rebuilt from the whole history.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import polars as pl

from analytics.io import Warehouse, day_start, write_parquet_atomic
from analytics.jobs.base import JobInputs
from service.domain.events import EventType as T

STEP_TYPES = (T.ROOM_JOINED, T.REACTION_ADDED, T.POLL_VOTED, T.MESSAGE_SENT)
_NAME = "user_event_summary"


def user_event_summary(inputs: JobInputs) -> pl.LazyFrame:
    """Per user and step type: first and last time, up to the end of the chunk's windows."""
    return inputs.shared((_NAME, inputs.end), lambda: _summary(inputs))


def _files(wh: Warehouse, through: datetime) -> dict[str, list[int]]:
    """Size and mtime of every event file of the days before ``through``'s day."""
    out = {}
    for path in wh.files(None, None):
        day = path.parent.parent.name.split("=", 1)[1]
        if day < through.date().isoformat():
            st = path.stat()
            out[str(path.relative_to(wh.events_root))] = [st.st_size, st.st_mtime_ns]
    return out


def _aggregate(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.group_by("user_id", "event_type").agg(
        pl.col("first").min(), pl.col("last").max()
    )


def _summary(inputs: JobInputs) -> pl.LazyFrame:
    folder = inputs.warehouse.reports_root / "_derived"
    state, meta_path = folder / f"{_NAME}.parquet", folder / f"{_NAME}.json"
    types = [t.value for t in STEP_TYPES]
    since = None
    if state.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        through = datetime.fromisoformat(meta["through"])
        if through <= inputs.end and meta["files"] == _files(inputs.warehouse, through):
            since = day_start(through.date())
    fresh = inputs.events(since, inputs.end, types).select(
        "user_id", "event_type", pl.col("occurred_at").alias("first"),
        pl.col("occurred_at").alias("last"),
    )  # fmt: skip
    if since is not None:
        fresh = pl.concat([pl.scan_parquet(state), _aggregate(fresh)])
    if inputs.probe:
        return _aggregate(fresh)
    return _store(_aggregate(fresh), inputs, state, meta_path)


def _store(summary: pl.LazyFrame, inputs: JobInputs, state: Path, meta: Path) -> pl.LazyFrame:
    frame = summary.collect(engine="streaming")
    write_parquet_atomic(frame, state)
    tmp = meta.with_name(f".{meta.name}.tmp")
    tmp.write_text(json.dumps({"through": inputs.end.isoformat(),
                               "files": _files(inputs.warehouse, inputs.end)}))  # fmt: skip
    os.replace(tmp, meta)
    return frame.lazy()
