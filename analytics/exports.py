"""The product export contract: the host's files the reports join with, validated on read.

The contract (documented for hosts in ``docs/product-exports.md``) is :data:`CONTRACT`. Every
file is read, checked column by column and row by row, and normalised (timestamps to UTC,
duplicates dropped) before any job sees it. A value that cannot be read stops the run with an
:class:`ExportError` naming the file, the row and the column; things a job can live with
(duplicate keys, rows of unknown users, naive timestamps read as UTC) are skipped or fixed and
reported as notes.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

log = logging.getLogger(__name__)

Kind = Literal["string", "integer", "number", "date", "timestamp"]
MAX_REPORTED = 10

_DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "integer": pl.Int64(),
    "number": pl.Float64(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us", "UTC"),
}
_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "date": "a date (YYYY-MM-DD)",
    "timestamp": "an ISO-8601 timestamp",
}
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Integers are kept as Int64; a larger one (a UInt64 above 2^63, long text) is refused."""
_TYPED = {
    "string": "string, categorical, enum or integer",
    "integer": "an integer type, or a float type with whole values",
    "number": "an integer or float type",
    "date": "a date or timestamp type",
    "timestamp": "a timestamp type",
}
"""The column types a typed (Parquet) file may use per kind; text columns are parsed instead."""


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an export file."""

    name: str
    kind: Kind
    required: bool = True
    """The column must be present."""
    nullable: bool = False
    """Values may be empty."""
    non_negative: bool = False


@dataclass(frozen=True, slots=True)
class ExportSpec:
    """One export file: its columns and the key that must be unique."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    optional: bool = False


CONTRACT: tuple[ExportSpec, ...] = (
    ExportSpec("users", (
        Column("user_id", "string"),
        Column("signed_up_at", "timestamp"),
        Column("plan", "string", nullable=True),
        Column("country", "string", nullable=True),
    ), key=("user_id",)),
    ExportSpec("activity", (
        Column("user_id", "string"),
        Column("date", "date"),
        Column("sessions", "integer", non_negative=True),
        Column("minutes", "number", non_negative=True),
    ), key=("user_id", "date")),
    ExportSpec("contexts", (
        Column("context_id", "string"),
        Column("kind", "string"),
        Column("title", "string", nullable=True),
        Column("starts_at", "timestamp"),
        Column("ends_at", "timestamp"),
        Column("viewers", "integer", required=False, nullable=True, non_negative=True),
    ), key=("context_id",)),
    ExportSpec("context_views", (
        Column("user_id", "string"),
        Column("context_id", "string"),
        Column("viewed_at", "timestamp"),
        Column("minutes", "number", required=False, nullable=True, non_negative=True),
    ), optional=True),
)  # fmt: skip
SPECS = {s.name: s for s in CONTRACT}


class ExportError(Exception):
    """An export file breaks the contract; the message names file, row and column."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more problems" if more > 0 else "")
        super().__init__(text)
        self.problems = problems


@dataclass(slots=True)
class Exports:
    """Validated, normalised product exports (every timestamp in UTC), as lazy frames."""

    users: pl.LazyFrame
    activity: pl.LazyFrame
    contexts: pl.LazyFrame
    context_views: pl.LazyFrame
    notes: list[str] = field(default_factory=list)
    direct: dict[str, Path] = field(default_factory=dict)
    """Exports read straight from their (clean, typed Parquet) file, by name."""
    user_activity: pl.LazyFrame | None = None
    """Per known user: ``first_active``, ``last_active``, ``active_days``, ``sessions``
    (days with sessions only); derived once per version of the activity export."""


def empty_frame(name: str) -> pl.DataFrame:
    """An empty frame with the normalised schema of export ``name``."""
    return pl.DataFrame(schema={c.name: _DTYPES[c.kind] for c in SPECS[name].columns})


def find_file(folder: Path, name: str) -> Path | None:
    """The file of export ``name`` in ``folder`` (``.csv`` or ``.parquet``), if any.

    Raises:
        ExportError: both a CSV and a Parquet file exist, so which one counts is ambiguous.
    """
    found = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.is_file()]
    if len(found) > 1:
        raise ExportError([f"{folder}: both {name}.csv and {name}.parquet exist; keep one"])
    return found[0] if found else None


def read_export(path: Path, spec: ExportSpec, notes: list[str]) -> pl.DataFrame:
    """Read and validate one export file against ``spec``; append what was fixed to ``notes``.

    Raises:
        ExportError: the file is unreadable, a required column is missing or a value is bad.
    """
    return _read_rows(path, spec, notes)[0]


def _read_rows(path: Path, spec: ExportSpec, notes: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """:func:`read_export`, and the data row number in the file as written of each row kept
    (blank lines and duplicates are left out, so a row's position is not its number)."""
    raw = _read_raw(path)
    label = path.name
    rows = pl.Series("row", range(1, raw.height + 1), dtype=pl.Int64)
    if path.suffix == ".csv":
        raw, rows = _drop_blank_lines(raw, rows, label, notes)
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    if missing:
        raise ExportError(
            [f"{label}: missing column {', '.join(repr(m) for m in missing)} "
             f"(has {', '.join(repr(c) for c in raw.columns) or 'no columns'})"]
        )  # fmt: skip
    unnamed = _unnamed_columns(path, raw.columns) if path.suffix == ".csv" else []
    extra = [c for c in raw.columns if c not in {col.name for col in spec.columns}]
    named = [c for c in extra if c not in unnamed]
    if named:
        notes.append(f"{label}: ignored unknown columns {', '.join(named)}")
    if unnamed:
        notes.append(f"{label}: {_unnamed_note(raw.columns, unnamed)}")
    problems: list[str] = []
    out: dict[str, pl.Series] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = pl.Series(col.name, [None] * raw.height, dtype=_DTYPES[col.kind])
            continue
        if not _fits(col.kind, raw[col.name].dtype):
            problems.append(
                f'{label}: column "{col.name}": expected {_EXPECTED[col.kind]} '
                f"({_TYPED[col.kind]}), got {raw[col.name].dtype}"
            )
            continue
        out[col.name] = _convert(raw[col.name], col, label, problems, notes, rows)
    if problems:
        raise ExportError(problems)
    frame = pl.DataFrame(out)
    if raw.height == 0:
        notes.append(f"{label}: no rows")
    return _dedupe(frame, rows, spec, label, notes)


def _drop_blank_lines(
    raw: pl.DataFrame, rows: pl.Series, label: str, notes: list[str]
) -> tuple[pl.DataFrame, pl.Series]:
    """Leave out the lines of a CSV with nothing in them (empty, spaces or only commas).

    Blank lines at the end are what editors and scripts leave behind and are ignored quietly;
    blank lines between rows are ignored with a note. Either way the other rows keep their
    numbers in the file as written, so the messages point at the right lines.
    """
    if raw.height == 0 or raw.width == 0:
        return raw, rows
    empty = [pl.col(c).cast(pl.String).str.strip_chars().fill_null("") == "" for c in raw.columns]
    blank = raw.select(pl.all_horizontal(empty)).to_series()
    if not blank.any():
        return raw, rows
    kept = rows.filter(~blank)
    inner = blank & (rows < (kept.max() if len(kept) else 0))
    if inner.any():
        first = int(rows.filter(inner)[0])
        notes.append(f"{label}: ignored {inner.sum()} blank lines between rows (the first at "
                     f"row {first})")  # fmt: skip
    return raw.filter(~blank), kept


def _unnamed_columns(path: Path, columns: list[str]) -> list[str]:
    """The columns (as Polars names them) whose header field in the CSV is empty.

    Polars names the first ``""`` and the next ones ``_duplicated_<n>``, so they are found by
    their position in the header line as written.
    """
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = next(csv.reader(fh), [])
    except OSError:
        header = []
    if len(header) != len(columns):
        return [c for c in columns if not c.strip()]
    return [c for c, h in zip(columns, header, strict=True) if not h.strip()]


def _unnamed_note(columns: list[str], unnamed: list[str]) -> str:
    at = [columns.index(c) + 1 for c in unnamed]
    if len(at) == 1:
        if at[0] == len(columns):
            return "ignored an unnamed column (trailing comma in the header)"
        return f"ignored an unnamed column (column {at[0]} of the header has no name)"
    listed = ", ".join(str(i) for i in at[:-1]) + f" and {at[-1]}"
    return f"ignored {len(at)} unnamed columns (columns {listed} of the header have no name)"


def _read_raw(path: Path) -> pl.DataFrame:
    try:
        if path.suffix == ".csv":
            # Everything as text first: type errors are then found and reported per row.
            return pl.read_csv(path, infer_schema=False, raise_if_empty=False)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        found = _csv_problem(path) if path.suffix == ".csv" else None
        if found is not None:
            raise ExportError([found]) from exc
        raise ExportError([f"{path.name}: cannot be read as {path.suffix[1:]}: {exc}"]) from exc


def _csv_problem(path: Path) -> str | None:
    """The row of a CSV that Polars' parser refused, named as every other problem is (data rows
    from 1, the header excluded): a byte that is not UTF-8, or more fields than the header has
    (most often a comma inside an unquoted value). Polars' own message names neither the row
    nor the cause, and advises an option of its own (``truncate_ragged_lines``)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    for n, line in enumerate(data.splitlines()):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = line[exc.start]
            where = f"row {n}" if n else "header"
            return (f"{path.name} {where}: not UTF-8 text (byte 0x{byte:02x} at position "
                    f"{exc.start + 1} of the line); save the file as UTF-8")  # fmt: skip
    records = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(records, [])
    for n, fields in enumerate(records, 1):
        if len(fields) > len(header):
            return (f"{path.name} row {n}: {len(fields)} fields where the header has "
                    f"{len(header)} (a value holding a comma must be in double quotes)")  # fmt: skip
    return None


def _fits(kind: Kind, dtype: pl.DataType) -> bool:
    # A float id would become "1.0" and match nothing; a boolean count would become 0 or 1.
    if dtype in (pl.String, pl.Null):
        return True  # text is parsed value by value; an all-missing column is checked as such
    if kind == "string":
        return dtype == pl.Categorical or isinstance(dtype, pl.Enum) or dtype.is_integer()
    if kind == "integer":
        return dtype.is_integer() or dtype.is_float()
    if kind == "number":
        return dtype.is_numeric()
    if kind == "date":
        return dtype == pl.Date or isinstance(dtype, pl.Datetime)
    return isinstance(dtype, pl.Datetime)


def _convert(
    values: pl.Series, col: Column, label: str, problems: list[str], notes: list[str],
    rows: pl.Series,
) -> pl.Series:  # fmt: skip
    if values.dtype == pl.String:
        text = values.str.strip_chars()
        text = pl.select(pl.when(text == "").then(None).otherwise(text).alias("v")).to_series()
        converted = _parse_text(text, col, label, notes)
    else:
        text = values.cast(pl.String, strict=False)
        converted = _cast_typed(values, col, label, notes)
    if col.kind == "number":  # NaN would pass "not negative" and poison every sum
        converted = pl.select(pl.when(converted.is_finite()).then(converted)).to_series()
    bad = converted.is_null() & text.is_not_null()
    if col.kind == "integer":
        wide = bad & text.str.contains(r"^[+-]?\d+$").fill_null(False)
        low = 0 if col.non_negative else INT_MIN
        expected = f"expected an integer from {low} to {INT_MAX}"
        _report(wide, text, col, expected, label, problems, rows)
        bad &= ~wide
    _report(bad, text, col, f"expected {_EXPECTED[col.kind]}", label, problems, rows)
    if not col.nullable:
        _report(text.is_null(), text, col, "missing value", label, problems, rows)
    if col.non_negative:
        _report(converted.fill_null(0) < 0, text, col, "must not be negative", label, problems,
                rows)  # fmt: skip
    return converted.alias(col.name)


def _parse_text(text: pl.Series, col: Column, label: str, notes: list[str]) -> pl.Series:
    if col.kind == "string":
        return text
    if col.kind == "integer":
        return text.cast(pl.Int64, strict=False)
    if col.kind == "number":
        return text.cast(pl.Float64, strict=False)
    if col.kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    iso = text.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    naive = iso.str.contains(r"T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$").fill_null(False)
    if naive.any():
        notes.append(
            f"{label}: column {col.name!r}: {naive.sum()} timestamps without a time zone "
            "were read as UTC"
        )
    iso = pl.select(pl.when(naive).then(iso + "+00:00").otherwise(iso).alias("v")).to_series()
    iso = iso.str.replace(r"(T\d{2}:\d{2})([+-])", "${1}:00${2}")  # ISO 8601 may omit seconds
    return iso.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", time_zone="UTC", time_unit="us", strict=False
    )


def _cast_typed(values: pl.Series, col: Column, label: str, notes: list[str]) -> pl.Series:
    dtype = values.dtype
    if col.kind == "timestamp" and isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            notes.append(f"{label}: column {col.name!r}: naive timestamps were read as UTC")
            return values.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return values.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if col.kind == "date" and isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:  # dates are UTC days, not the zone's local ones
            values = values.dt.convert_time_zone("UTC")
        return values.dt.date()  # a naive timestamp is read as UTC, like everywhere else
    if col.kind == "integer" and dtype.is_float():
        whole = values.round(0) == values
        return pl.select(pl.when(whole).then(values.cast(pl.Int64, strict=False))).to_series()
    if col.kind in ("string", "integer", "number") or dtype == _DTYPES[col.kind]:
        return values.cast(_DTYPES[col.kind], strict=False)
    return pl.Series(values.name, [None] * len(values), dtype=_DTYPES[col.kind])


def _report(
    mask: pl.Series, text: pl.Series, col: Column, what: str, label: str, problems: list[str],
    rows: pl.Series,
) -> None:  # fmt: skip
    found = mask.fill_null(False).arg_true()
    for i in found.head(MAX_REPORTED).to_list():
        got = text[i]
        shown = f', got "{got}"' if got is not None and what.startswith("expected") else ""
        problems.append(f'{label} row {rows[i]}: column "{col.name}": {what}{shown}')
    if len(found) > MAX_REPORTED:
        problems.append(f'{label}: column "{col.name}": {len(found)} rows in all: {what}')


def _dedupe(
    frame: pl.DataFrame, rows: pl.Series, spec: ExportSpec, label: str, notes: list[str]
) -> tuple[pl.DataFrame, pl.Series]:
    if not spec.key or frame.height == 0:
        return frame, rows
    dup = frame.select(pl.struct(spec.key).is_first_distinct().not_()).to_series()
    if not dup.any():
        return frame, rows
    first = int(dup.arg_true()[0])
    key = ", ".join(f"{k}={frame[k][first]}" for k in spec.key)
    notes.append(
        f"{label}: skipped {dup.sum()} rows with a duplicate {'+'.join(spec.key)} "
        f"(the first one is kept; first duplicate at row {rows[first]}: {key})"
    )
    return frame.filter(~dup), rows.filter(~dup)


def load_exports(folder: Path) -> Exports:
    """Read, validate and normalise every export in ``folder``.

    Raises:
        ExportError: a required file is missing or any file breaks the contract.
    """
    from analytics.exports_fast import is_clean, typed_scan

    if not folder.is_dir():
        raise ExportError([f"exports folder {folder} does not exist"])
    notes: list[str] = []
    frames: dict[str, pl.LazyFrame] = {}
    direct: dict[str, Path] = {}
    problems: list[str] = []
    labels = {}
    file_rows: dict[str, pl.Series] = {}  # read row by row: each kept row's number in its file
    for spec in CONTRACT:
        path = find_file(folder, spec.name)
        if path is None:
            if not spec.optional:
                problems.append(f"{folder}: no {spec.name}.csv or {spec.name}.parquet")
            frames[spec.name] = empty_frame(spec.name).lazy()
            continue
        labels[spec.name] = path.name
        try:
            fast = typed_scan(path, spec) if path.suffix == ".parquet" else None
            if fast is not None and is_clean(fast, spec):
                frames[spec.name], direct[spec.name] = fast, path
                continue
        except (pl.exceptions.PolarsError, OSError):
            pass  # unreadable or a value the casts refuse: the row path names what is wrong
        try:
            frame, file_rows[spec.name] = _read_rows(path, spec, notes)
            frames[spec.name] = frame.lazy()
        except ExportError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ExportError(problems)
    _check_times(frames["contexts"].collect(), labels.get("contexts", "contexts"),
                 file_rows.get("contexts"))  # fmt: skip
    per_user = _per_user_activity(frames["activity"])
    unknown = per_user.join(frames["users"].collect(), on="user_id", how="anti")["rows"].sum()
    if unknown:
        notes.append(f"activity: skipped {unknown} rows of users missing from the users export")
        direct.pop("activity", None)  # filtered: no longer the file as it is
        known = frames["users"].select("user_id")
        frames["activity"] = frames["activity"].join(known, on="user_id", how="semi")
        per_user = per_user.join(known.collect(), on="user_id", how="semi")
    _note_unknown_viewers(frames["context_views"], frames["users"], notes)
    user_activity = per_user.filter(pl.col("active_days") > 0).drop("rows").lazy()
    return Exports(notes=notes, direct=direct, user_activity=user_activity, **frames)


def _per_user_activity(activity: pl.LazyFrame) -> pl.DataFrame:
    # One pass over the (large) activity export gives the unknown-user check and the per-user
    # summary the funnel and notes use, instead of a join per question.
    used = pl.col("sessions") > 0
    return (
        activity.group_by("user_id")
        .agg(
            pl.len().alias("rows"),
            pl.col("date").filter(used).min().alias("first_active"),
            pl.col("date").filter(used).max().alias("last_active"),
            used.sum().cast(pl.Int64).alias("active_days"),
            pl.col("sessions").sum().alias("sessions"),
        )
        .collect(engine="streaming")
    )


def _check_times(contexts: pl.DataFrame, label: str, rows: pl.Series | None) -> None:
    """Refuse contexts ending before they start, naming each by its data row in the file as
    written (``rows``; None for a file read as it is, where position and row agree)."""
    bad = (contexts["ends_at"] < contexts["starts_at"]).arg_true()
    if len(bad):
        raise ExportError([
            f'{label} row {rows[i] if rows is not None else i + 1}: column "ends_at": '
            "earlier than starts_at"
            for i in bad.head(MAX_REPORTED).to_list()
        ])


def _note_unknown_viewers(views: pl.LazyFrame, users: pl.LazyFrame, notes: list[str]) -> None:
    """Note the views of users missing from the users export, which are kept.

    A context's viewers count everyone who watched it, as its openers and posters count
    everyone in its room (the events carry no users export): dropping these views made a
    context with 3 openers have 1 viewer (an opened share of 3.0). The user-level reports
    (the funnel) count users of the users export only, so they leave these views out.
    """
    unknown = (
        views.join(users.select("user_id"), on="user_id", how="anti")
        .select(pl.len(), pl.col("user_id").n_unique())
        .collect(engine="streaming")
    )
    rows, people = unknown.row(0)
    if rows:
        notes.append(
            f"context_views: {rows} rows of {people} users missing from the users export count "
            "as viewers in per-event engagement, not in the funnel"
        )
