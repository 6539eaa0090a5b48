"""Reading report outputs: the Parquet files the analytics runner writes, and nothing else.

Dashboards never open the live event log or the warehouse export; a report that has not been
computed yet comes back as ``None`` so its charts can say so instead of failing the page.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

log = logging.getLogger(__name__)

Row = dict[str, Any]


class Reports:
    """The report folders under ``reports_root`` (``<warehouse>/reports``)."""

    def __init__(self, reports_root: Path) -> None:
        self.root = reports_root
        self._cache: dict[str, pl.DataFrame | None] = {}

    def frame(self, name: str) -> pl.DataFrame | None:
        """Every window file of report ``name`` stacked, or None when it has none yet."""
        if name not in self._cache:
            self._cache[name] = self._read(name)
        return self._cache[name]

    def _read(self, name: str) -> pl.DataFrame | None:
        folder = self.root / name
        files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if not files:
            log.info("report %s has no output in %s yet", name, folder)
            return None
        # Window files are read one by one and stacked leniently: an early window written before
        # a column was added, or one whose column was all null, must not break the page.
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    def rows(self, name: str, columns: list[str] | None = None) -> list[Row] | None:
        """Report ``name`` as JSON-ready rows (see :func:`to_rows`), or None when missing."""
        frame = self.frame(name)
        if frame is None:
            return None
        if columns is not None:
            frame = frame.select([c for c in columns if c in frame.columns])
        return to_rows(frame)


def plain(value: Any) -> Any:
    """A report value as JSON: ISO dates (``2026-10-01``), ISO UTC times with ``Z``, floats
    rounded to 6 decimals, NaN as null."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def to_rows(frame: pl.DataFrame) -> list[Row]:
    """Rows of ``frame`` as dicts of JSON-ready values."""
    return [{k: plain(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]
