"""Export column types: ids, UTC dates, integer ranges, booleans, NaN, minute-precision times.

Parquet exports arrive typed (often from pandas); each type either fits the contract or the
run stops with an error naming the file, the column and the type found.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.exports import ExportError, load_exports
from analytics.runner import Runner
from tests.analytics.conftest import golden_runner, write_golden_exports

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


# -- 3. integers in range, no booleans, no NaN --------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_integers_out_of_range_name_file_column_and_range(folder: Path, suffix: str) -> None:
    big = 2**63 + 5
    if suffix == "parquet":
        activity = normalised(folder, "activity").with_columns(pl.col("sessions").cast(pl.UInt64))
        activity[7, "sessions"] = big
        as_parquet(folder, "activity", activity)
    else:
        path = folder / "activity.csv"
        path.write_text(path.read_text().replace("a,2026-01-06,1,4", f"a,2026-01-06,{big},4"))
    assert refused(folder) == [
        f'activity.{suffix} row 8: column "sessions": expected an integer from 0 to '
        f'{INT64_MAX}, got "{big}"'
    ]


def test_out_of_range_activity_fails_user_jobs_only(tmp_path: Path) -> None:
    runner: Runner = golden_runner(tmp_path)
    activity = normalised(runner.exports_dir, "activity")
    activity = activity.with_columns(pl.col("sessions").cast(pl.UInt64))
    activity[0, "sessions"] = 2**63 + 5
    as_parquet(runner.exports_dir, "activity", activity)
    results = {r.job: r for r in runner.run(["community_health", "churn_posting"])}
    assert results["community_health"].status == "ok"
    assert results["churn_posting"].status == "failed"
    assert (
        f'activity.parquet row 1: column "sessions": expected an integer from 0 to '
        f'{INT64_MAX}, got "{2**63 + 5}"'
    ) in (results["churn_posting"].error or "")
    assert not list((runner.reports_root / "churn_posting").glob("*.parquet"))


def test_unreadable_parquet_is_an_export_error(folder: Path) -> None:
    (folder / "activity.csv").unlink()
    (folder / "activity.parquet").write_bytes(b"PAR1 not really")
    [problem] = refused(folder)
    assert problem.startswith("activity.parquet: cannot be read as parquet: ")


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("sessions", "an integer (an integer type, or a float type with whole values)"),
        ("minutes", "a number (an integer or float type)"),
    ],
)
def test_boolean_counts_are_refused(folder: Path, column: str, expected: str) -> None:
    activity = normalised(folder, "activity")
    as_parquet(folder, "activity", activity.with_columns(pl.col(column) > 0))
    assert refused(folder) == [
        f'activity.parquet: column "{column}": expected {expected}, got Boolean'
    ]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_minutes_are_refused(folder: Path, suffix: str, value: float) -> None:
    if suffix == "parquet":
        activity = normalised(folder, "activity")
        activity[7, "minutes"] = value
        as_parquet(folder, "activity", activity)
        shown = str(value).replace("nan", "NaN")
    else:
        shown = {"nan": "NaN", "inf": "inf"}[str(value)]
        path = folder / "activity.csv"
        path.write_text(path.read_text().replace("a,2026-01-06,1,4", f"a,2026-01-06,1,{shown}"))
    assert refused(folder) == [
        f'activity.{suffix} row 8: column "minutes": expected a number, got "{shown}"'
    ]


# -- 4. ISO 8601 timestamps to the minute -------------------------------------------------------


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_timestamps_without_seconds(folder: Path, suffix: str) -> None:
    text = ["2025-12-01T00:00Z", "2025-12-01T00:00", "2025-12-01 09:30+01:00",
            "2025-12-01T10:15-02:00", "2025-12-01T00:00:00Z", "2025-12-01 08:00",
            "2025-12-01T00:00:07.5Z", "2026-01-02T00:00+00:00"]  # fmt: skip
    users = pl.read_csv(folder / "users.csv", infer_schema=False)
    users = users.with_columns(pl.Series("signed_up_at", text))
    if suffix == "parquet":
        as_parquet(folder, "users", users)
    else:
        users.write_csv(folder / "users.csv")
    ex = load_exports(folder)
    assert ex.users.collect()["signed_up_at"].to_list() == [
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2025, 12, 1, 8, 30, tzinfo=UTC),
        datetime(2025, 12, 1, 12, 15, tzinfo=UTC),
        datetime(2025, 12, 1, tzinfo=UTC),
        datetime(2025, 12, 1, 8, tzinfo=UTC),
        datetime(2025, 12, 1, 0, 0, 7, 500000, tzinfo=UTC),
        datetime(2026, 1, 2, tzinfo=UTC),
    ]
    assert ex.notes == [
        f"users.{suffix}: column 'signed_up_at': 2 timestamps without a time zone were read as UTC"
    ]
    # Still refused: an hour without minutes.
    users.with_columns(pl.Series("signed_up_at", ["2025-12-01T00", *text[1:]])).write_csv(
        folder / "users.csv"
    )
    (folder / "users.parquet").unlink(missing_ok=True)
    message = ('users.csv row 1: column "signed_up_at": expected an ISO-8601 timestamp, '
               'got "2025-12-01T00"')  # fmt: skip
    with pytest.raises(ExportError, match=re.escape(message)):
        load_exports(folder)
