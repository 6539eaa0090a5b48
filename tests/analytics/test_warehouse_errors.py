"""A warehouse file the jobs cannot read (cut short by a full disk or a copy restored by hand, a
column of another type written by another tool) fails the jobs that read it with an error
naming the file, and the column when one is wrong, not only Polars' message (which named
neither the file nor, for a cut file, anything to look for)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.io import Warehouse
from analytics.runner import Runner
from tests.analytics.conftest import golden_runner


def a_file_of(runner: Runner, day: str) -> tuple[Path, str]:
    wh = Warehouse(runner.warehouse.root)
    [path] = [p for p in wh.files() if f"event_date={day}" in str(p)]
    return path, str(path.relative_to(wh.root))


def test_a_cut_file_is_named(tmp_path: Path) -> None:
    runner = golden_runner(tmp_path)
    path, name = a_file_of(runner, "2026-01-09")
    path.write_bytes(path.read_bytes()[:100])
    [result] = runner.run(["community_health"])
    assert result.status == "failed"
    assert f"warehouse file {name} cannot be read as Parquet" in (result.error or ""), result.error


def test_a_column_of_another_type_is_named(tmp_path: Path) -> None:
    runner = golden_runner(tmp_path)
    path, name = a_file_of(runner, "2026-01-09")
    frame = pl.read_parquet(path, hive_partitioning=False)
    frame.with_columns(pl.col("occurred_at").cast(pl.String)).write_parquet(path)
    [result] = runner.run(["engagement"])
    assert result.status == "failed"
    assert (f'warehouse file {name}: column "occurred_at": expected '
            "Datetime(time_unit='us', time_zone='UTC'), got String") in (result.error or ""), result.error  # fmt: skip
