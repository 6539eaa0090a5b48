"""Duplicate event rows in the warehouse (the overlapping files an interrupted compaction can
leave until the next start) are counted once: every job reads the warehouse deduplicated by
``event_id``."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl

from analytics.io import Warehouse
from service.sinks.warehouse.files import part_name
from tests.analytics.conftest import golden_runner


def reports(root: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for folder in sorted((root / "warehouse" / "reports").iterdir()):
        if folder.is_dir() and not folder.name.startswith("_"):
            out[folder.name] = pl.read_parquet(sorted(folder.glob("*.parquet")))
    return out


def test_duplicate_rows_are_counted_once(tmp_path: Path) -> None:
    clean, dup = tmp_path / "clean", tmp_path / "dup"
    assert all(r.status == "ok" for r in golden_runner(clean).run())
    runner = golden_runner(dup)
    wh = Warehouse(dup / "warehouse")
    files = wh.files()
    for path in files:
        # A merged file next to the inputs it covers, as compaction leaves it when interrupted
        # between renaming the merged file in and deleting its inputs.
        epoch, first, last = path.stem.split("_")
        shutil.copy(path, path.with_name(part_name(epoch, int(first), int(last) + 100)))
    assert len(wh.files()) == 2 * len(files)
    events = wh.scan().collect()
    assert events.height == events["event_id"].n_unique() == Warehouse(clean / "warehouse").scan().collect().height
    assert all(r.status == "ok" for r in runner.run())
    expected, got = reports(clean), reports(dup)
    assert set(got) == set(expected)
    for name, frame in expected.items():
        assert got[name].equals(frame), name


def test_only_files_with_overlapping_ranges_are_deduplicated() -> None:
    from analytics.io import _overlapping

    def f(name: str, folder: str = "event_date=2026-01-02/node=n1") -> Path:
        return Path(folder) / name

    merged, inputs = f("ab_000000000001_000000000009.parquet"), [
        f("ab_000000000001_000000000005.parquet"), f("ab_000000000006_000000000009.parquet")]
    others = [
        f("cd_000000000001_000000000009.parquet"),  # another epoch
        f("ab_000000000001_000000000009.parquet", "event_date=2026-01-02/node=n2"),  # node
        f("1-5.parquet"), f("6-9.parquet"),  # a seeded history's older names, apart
        f("benchepoch_000000000001_000000000009.parquet"),  # any epoch name (the benchmark's)
        f("benchepoch_000000000010_000000000020.parquet"),
    ]
    assert _overlapping([merged, *inputs, *others]) == {merged, *inputs}
    assert _overlapping(others) == set()
