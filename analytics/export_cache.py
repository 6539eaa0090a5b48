"""Validated product exports, cached until the source files change.

Validation reads every row, which for a large activity export costs more than an incremental
run's queries; so its result is remembered in ``<reports>/_exports`` with a manifest of the
source files' sizes and modification times. An export that needed no fixing and is typed
Parquet is then scanned straight from its file; any other is kept as a normalised Parquet copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analytics.exports import CONTRACT, SPECS, find_file, load_exports
from analytics.exports_fast import typed_scan
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
    user_activity: pl.LazyFrame
    notes: list[str] = field(default_factory=list)
    version: str = ""
    """A digest of the source files' names, sizes and modification times."""


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
            return _scan(folder, cache_dir, manifest)
    exports = load_exports(folder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for spec in CONTRACT:
        if spec.name not in exports.direct:
            tmp = cache_dir / f".{spec.name}.parquet.tmp"
            getattr(exports, spec.name).sink_parquet(tmp)
            tmp.replace(cache_dir / f"{spec.name}.parquet")
    assert exports.user_activity is not None
    tmp = cache_dir / ".user_activity.parquet.tmp"
    exports.user_activity.sink_parquet(tmp)
    tmp.replace(cache_dir / "user_activity.parquet")
    manifest = {
        "source": source,
        "notes": exports.notes,
        "direct": {name: path.name for name, path in exports.direct.items()},
        "at": utcnow().isoformat(),
    }
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest))
    tmp.replace(manifest_path)
    return _scan(folder, cache_dir, manifest)


def _scan(folder: Path, cache_dir: Path, manifest: dict) -> LazyExports:  # type: ignore[type-arg]
    frames: dict[str, pl.LazyFrame] = {}
    for spec in CONTRACT:
        name = manifest["direct"].get(spec.name)
        scan = typed_scan(folder / name, SPECS[spec.name]) if name else None
        frames[spec.name] = scan if scan is not None else pl.scan_parquet(
            cache_dir / f"{spec.name}.parquet"
        )
    frames["user_activity"] = pl.scan_parquet(cache_dir / "user_activity.parquet")
    digest = hashlib.sha256(json.dumps(manifest["source"], sort_keys=True).encode()).hexdigest()
    return LazyExports(notes=list(manifest["notes"]), version=digest[:16], **frames)
