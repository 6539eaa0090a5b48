"""The product export contract: errors name file, row and column; fixes are reported."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from analytics.exports import ExportError, load_exports
from tests.analytics.conftest import write_golden_exports


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    write_golden_exports(tmp_path)
    return tmp_path


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_valid_exports_are_normalised(folder: Path) -> None:
    ex = load_exports(folder)
    assert ex.users.collect().height == 8 and ex.activity.collect().height == 22
    m2 = ex.contexts.filter(pl.col("context_id") == "match:2").collect().row(0, named=True)
    assert m2["starts_at"] == datetime(2026, 1, 9, 18, tzinfo=UTC)  # +01:00 converted
    assert m2["viewers"] is None
    assert ex.notes == []


def test_context_views_without_minutes_are_read(folder: Path) -> None:
    """``minutes`` may be missing from a view (the contract says so) and no report reads it,
    so a file without the column is read like one whose minutes are all empty, not refused
    (which blocked every product report)."""
    views = folder / "context_views.csv"
    views.write_text(
        "user_id,context_id,viewed_at\n"
        "d,match:2,2026-01-09T18:00:00Z\n"
        "h,match:2,2026-01-09T18:00:00Z\n"
    )
    ex = load_exports(folder)
    read = ex.context_views.collect()
    assert read.height == 2 and read["minutes"].null_count() == 2
    assert ex.notes == []


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("activity.csv", "a,2026-01-06,1,4", "a,2026-01-06,1,abc",
         'activity.csv row 8: column "minutes": expected a number, got "abc"'),
        ("activity.csv", "a,2026-01-06,1,4", "a,2026-01-06,1.5,4",
         'activity.csv row 8: column "sessions": expected an integer, got "1.5"'),
        ("activity.csv", "a,2026-01-06,1,4", "a,06/01/2026,1,4",
         'activity.csv row 8: column "date": expected a date (YYYY-MM-DD), got "06/01/2026"'),
        ("activity.csv", "a,2026-01-06,1,4", "a,2026-01-06,-1,4",
         'activity.csv row 8: column "sessions": must not be negative'),
        ("activity.csv", "a,2026-01-06,1,4", ",2026-01-06,1,4",
         'activity.csv row 8: column "user_id": missing value'),
        ("users.csv", "f,2026-01-02T00:00:00+00:00", "f,yesterday",
         'users.csv row 8: column "signed_up_at": expected an ISO-8601 timestamp, got "yesterday"'),
        ("contexts.csv", "2026-01-06T13:50:00Z", "2026-01-06T11:00:00Z",
         'contexts.csv row 1: column "ends_at": earlier than starts_at'),
        ("users.csv", "user_id,signed_up_at", "user,signed_up_at",
         "users.csv: missing column 'user_id' (has 'user', 'signed_up_at', 'plan', 'country')"),
    ],
)  # fmt: skip
def test_errors_name_file_row_and_column(folder: Path, file: str, old: str, new: str,
                                         message: str) -> None:  # fmt: skip
    replace(folder / file, old, new)
    with pytest.raises(ExportError) as info:
        load_exports(folder)
    assert message in str(info.value).splitlines()


def test_missing_and_ambiguous_files(folder: Path) -> None:
    (folder / "users.csv").unlink()
    with pytest.raises(ExportError, match=r"no users.csv or users.parquet"):
        load_exports(folder)
    write_golden_exports(folder)
    pl.read_csv(folder / "contexts.csv").write_parquet(folder / "contexts.parquet")
    with pytest.raises(ExportError, match=re.escape("both contexts.csv and contexts.parquet exist")):
        load_exports(folder)
    (folder / "context_views.csv").unlink()
    (folder / "contexts.parquet").unlink()
    assert load_exports(folder).context_views.collect().height == 0  # optional


def test_fixes_are_reported(folder: Path) -> None:
    users = folder / "users.csv"
    users.write_text(users.read_text() + "a,2025-12-03 10:00:00,pro,US\n")
    replace(folder / "activity.csv", "user_id,date,sessions,minutes",
            "user_id,date,sessions,minutes,source")  # fmt: skip
    text = (folder / "activity.csv").read_text().splitlines()
    (folder / "activity.csv").write_text("\n".join([text[0]] + [r + ",x" for r in text[1:]]) + "\n")
    ex = load_exports(folder)
    assert ex.notes == [
        "users.csv: column 'signed_up_at': 1 timestamps without a time zone were read as UTC",
        "users.csv: skipped 1 rows with a duplicate user_id (the first one is kept; first "
        "duplicate at row 9: user_id=a)",
        "activity.csv: ignored unknown columns source",
    ]
    assert ex.users.filter(pl.col("user_id") == "a").collect()["plan"].to_list() == ["free"]


def test_typed_parquet_exports(folder: Path) -> None:
    ex = load_exports(folder)
    users, activity = ex.users.collect(), ex.activity.collect()
    (folder / "users.csv").unlink()
    users.with_columns(pl.col("signed_up_at").dt.convert_time_zone("Europe/Berlin")).write_parquet(
        folder / "users.parquet")
    (folder / "activity.csv").unlink()
    activity.with_columns(pl.col("sessions").cast(pl.Int32)).write_parquet(
        folder / "activity.parquet")
    again = load_exports(folder)
    # Clean typed Parquet is read straight from the file (the fast path), same values.
    assert set(again.direct) == {"users", "activity", "contexts"} - {"contexts"}
    assert again.users.collect().equals(users) and again.activity.collect().equals(activity)
    activity.with_columns(pl.col("sessions").cast(pl.Float64)).write_parquet(
        folder / "activity.parquet")
    assert load_exports(folder).activity.collect().equals(activity)  # whole floats: row path
    activity.with_columns(pl.lit(1.5).alias("sessions")).write_parquet(folder / "activity.parquet")
    message = 'activity.parquet row 1: column "sessions": expected an integer, got "1.5"'
    with pytest.raises(ExportError, match=re.escape(message)):
        load_exports(folder)


def test_blank_lines_are_ignored(folder: Path) -> None:
    activity = folder / "activity.csv"
    activity.write_text(activity.read_text() + "\n\n")  # what an editor or a script leaves
    ex = load_exports(folder)
    assert ex.activity.collect().height == 22 and ex.notes == []
    # One in the middle is ignored too; rows keep their numbers in the file as written.
    lines = activity.read_text().splitlines()
    lines[3:3] = ["", " , , , "]
    lines[9] = lines[9].rsplit(",", 1)[0] + ",abc"
    activity.write_text("\n".join(lines) + "\n")
    with pytest.raises(ExportError) as info:
        load_exports(folder)
    assert str(info.value).splitlines() == [
        'activity.csv row 9: column "minutes": expected a number, got "abc"']


def test_an_unnamed_column_is_named_in_the_note(folder: Path) -> None:
    replace(folder / "users.csv", "country\n", "country,\n")  # a trailing comma in the header
    assert load_exports(folder).notes == [
        "users.csv: ignored an unnamed column (trailing comma in the header)"]
    replace(folder / "users.csv", "country,\n", "country,,source,\n")
    assert load_exports(folder).notes == [
        "users.csv: ignored unknown columns source",
        "users.csv: ignored 2 unnamed columns (columns 5 and 7 of the header have no name)"]


def test_bad_times_name_the_row_as_written_after_a_duplicate(folder: Path) -> None:
    (folder / "contexts.csv").write_text(
        "context_id,kind,title,starts_at,ends_at,viewers\n"
        "match:1,match,A v B,2026-01-06T18:00:00Z,2026-01-06T19:50:00Z,10\n"
        "match:1,match,A v B again,2026-01-06T18:00:00Z,2026-01-06T19:50:00Z,10\n"
        "match:2,match,C v D,2026-01-07T00:30:00+01:00,2026-01-07T00:20:00+01:00,\n")
    with pytest.raises(ExportError) as info:
        load_exports(folder)
    assert str(info.value).splitlines() == [
        'contexts.csv row 3: column "ends_at": earlier than starts_at']
