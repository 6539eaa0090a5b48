"""Export column types: ids, UTC dates, integer ranges, booleans, NaN, minute-precision times.

Parquet exports arrive typed (often from pandas); each type either fits the contract or the
run stops with an error naming the file, the column and the type found.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.exports import ExportError, load_exports
from tests.analytics.conftest import write_golden_exports

INT64_MAX = 2**63 - 1


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_golden_exports(tmp_path)
    return tmp_path


def as_parquet(folder: Path, name: str, frame: pl.DataFrame) -> None:
    """Replace export ``name`` in ``folder`` by ``frame`` written as Parquet."""
    (folder / f"{name}.csv").unlink(missing_ok=True)
    frame.write_parquet(folder / f"{name}.parquet")


def normalised(folder: Path, name: str) -> pl.DataFrame:
    frame: pl.DataFrame = getattr(load_exports(folder), name).collect()
    return frame


def refused(folder: Path) -> list[str]:
    with pytest.raises(ExportError) as info:
        load_exports(folder)
    return str(info.value).splitlines()


# -- 1. ids: strings, or integers as their decimal text; never floats ---------------------------


@pytest.mark.parametrize(
    ("name", "column", "dtype", "expected"),
    [
        ("users", "user_id", pl.Float64, "a string (string, categorical, enum or integer)"),
        ("activity", "user_id", pl.Float32, "a string (string, categorical, enum or integer)"),
        ("contexts", "context_id", pl.Float64, "a string (string, categorical, enum or integer)"),
        ("users", "user_id", pl.Boolean, "a string (string, categorical, enum or integer)"),
    ],
)
def test_non_string_ids_are_refused(
    folder: Path, name: str, column: str, dtype: pl.DataType, expected: str
) -> None:
    frame = normalised(folder, name)
    codes = {v: float(i + 1) for i, v in enumerate(frame[column].unique().sort())}
    ids = frame[column].replace_strict(codes, return_dtype=pl.Float64).cast(dtype)
    as_parquet(folder, name, frame.with_columns(ids))
    assert refused(folder) == [
        f'{name}.parquet: column "{column}": expected {expected}, got {ids.dtype}'
    ]


def test_integer_ids_are_read_as_their_decimal_text(folder: Path) -> None:
    users, activity = normalised(folder, "users"), normalised(folder, "activity")
    codes = {u: i + 1 for i, u in enumerate("abcdefgh")}
    ids = [str(codes[u]) for u in users["user_id"]]
    users = users.with_columns(pl.col("user_id").replace_strict(codes, return_dtype=pl.Int64))
    activity = activity.with_columns(
        pl.col("user_id").replace_strict(codes, return_dtype=pl.UInt32)
    )
    as_parquet(folder, "users", users)
    as_parquet(folder, "activity", activity)
    (folder / "context_views.csv").unlink()
    ex = load_exports(folder)
    assert set(ex.direct) == {"users", "activity"}  # clean and typed: the fast path
    assert ex.users.collect()["user_id"].to_list() == ids
    assert ex.activity.collect().height == 22 and ex.notes == []
    # The row-by-row path (here because of an extra column) reads them the same way.
    users.with_columns(pl.lit("x").alias("source")).write_parquet(folder / "users.parquet")
    ex = load_exports(folder)
    assert "users" not in ex.direct
    assert ex.users.collect()["user_id"].to_list() == ids
    assert ex.activity.collect().height == 22


# -- 2. dates are UTC days ----------------------------------------------------------------------


def test_zoned_timestamps_give_their_utc_date(folder: Path) -> None:
    activity = normalised(folder, "activity").head(3)
    stamps = [datetime(2026, 1, 6, 20, 0), datetime(2026, 1, 7, 0, 30), datetime(2026, 1, 6, 23)]
    for zone, days in [
        ("America/New_York", [date(2026, 1, 7), date(2026, 1, 7), date(2026, 1, 7)]),
        ("Europe/Berlin", [date(2026, 1, 6), date(2026, 1, 6), date(2026, 1, 6)]),
        (None, [date(2026, 1, 6), date(2026, 1, 7), date(2026, 1, 6)]),  # naive: read as UTC
    ]:
        column = pl.Series("date", stamps).dt.replace_time_zone(zone)
        as_parquet(folder, "activity", activity.with_columns(column))
        assert normalised(folder, "activity")["date"].to_list() == days, zone
