"""Validated product exports, cached as Parquet until the source files change.

Validation reads every row, which for a large activity export costs more than an incremental
run's queries; so the normalised result is kept under ``<reports>/_exports`` with a manifest
of the source files' sizes and modification times, and jobs scan the cached Parquet lazily.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analytics.exports import CONTRACT, find_file, load_exports
from analytics.io import write_parquet_atomic
from service.domain.events import utcnow

log = logging.getLogger(__name__)
_MANIFEST = "manifest.json"


@dataclass(slots=True)
class LazyExports:
    """Validated exports as lazy scans, with the notes of their validation."""

    users: pl.LazyFrame
    activity: pl.LazyFrame
    contexts: pl.LazyFrame
    context_views: pl.LazyFrame
    notes: list[str] = field(default_factory=list)


def fingerprint(folder: Path) -> dict[str, list[object]]:
    """Name, size and modification time of each export file present in ``folder``."""
    found: dict[str, list[object]] = {}
    for spec in CONTRACT:
        path = find_file(folder, spec.name)
        if path is not None:
            st = path.stat()
            found[spec.name] = [path.name, st.st_size, st.st_mtime_ns]
    return found


def load_cached(folder: Path, cache_dir: Path) -> LazyExports:
    """The validated exports of ``folder``, revalidated only when a file changed.

    Raises:
        analytics.exports.ExportError: an export breaks the contract.
    """
    source = fingerprint(folder) if folder.is_dir() else {}
    manifest_path = cache_dir / _MANIFEST
    if manifest_path.is_file() and source:
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("source") == source:
            log.debug("product exports unchanged since %s; using the cache", manifest["at"])
            return _scan(cache_dir, manifest["notes"])
    exports = load_exports(folder)
    for spec in CONTRACT:
        write_parquet_atomic(getattr(exports, spec.name), cache_dir / f"{spec.name}.parquet")
    manifest = {"source": source, "notes": exports.notes, "at": utcnow().isoformat()}
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest))
    tmp.replace(manifest_path)
    return _scan(cache_dir, exports.notes)


def _scan(cache_dir: Path, notes: list[str]) -> LazyExports:
    frames = {s.name: pl.scan_parquet(cache_dir / f"{s.name}.parquet") for s in CONTRACT}
    return LazyExports(notes=list(notes), **frames)

