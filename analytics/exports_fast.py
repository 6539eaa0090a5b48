"""The fast path of export validation: typed Parquet read lazily, checked in one pass.

A Parquet export whose columns already have fitting types needs no per-value parsing: one
streaming aggregate counts missing and negative values, and a sort of row hashes finds
duplicate keys. When both come back clean the export is used straight from the file (a lazy
scan with the normalising casts), with no copy. Anything else (text columns, naive timestamps,
a bad value, a possible duplicate) goes to the row-by-row path in :mod:`analytics.exports`,
which names the rows and fixes what it can.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.exports import Column, ExportSpec

# Integer types whose every value fits Int64; a UInt64 (or wider) column takes the row path,
# which names the values out of range instead of failing the whole scan.
_NARROW_INTEGERS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32)


def _normalise(col: Column, dtype: pl.DataType) -> pl.Expr | None:
    c = pl.col(col.name)
    if dtype == _target(col):
        return c  # a no-op cast still costs a pass over the column
    if col.kind == "string" and (
        dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum) or dtype.is_integer()
    ):
        return c.cast(pl.String)  # an integer id is its decimal text; float ids are refused
    if col.kind == "integer" and dtype in _NARROW_INTEGERS:
        return c.cast(pl.Int64)
    if col.kind == "number" and dtype.is_numeric():
        return c.cast(pl.Float64)
    if col.kind == "date" and dtype == pl.Date:
        return c
    if col.kind == "timestamp" and isinstance(dtype, pl.Datetime) and dtype.time_zone:
        return c.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    return None


def typed_scan(path: Path, spec: ExportSpec) -> pl.LazyFrame | None:
    """A lazy, normalised scan of ``path``, or None when a column needs the row-by-row path."""
    schema = pl.scan_parquet(path).collect_schema()
    if set(schema) - {c.name for c in spec.columns}:
        return None  # the row-by-row path notes the ignored columns
    changes = []
    for col in spec.columns:
        if col.name not in schema:
            if col.required:
                return None
            changes.append(pl.lit(None, _target(col)).alias(col.name))
            continue
        expr = _normalise(col, schema[col.name])
        if expr is None:
            return None
        if not expr.meta.is_column():
            changes.append(expr.alias(col.name))
    present = [c.name for c in spec.columns if c.name in schema]
    lf = pl.scan_parquet(path).select(present)
    return lf.with_columns(changes).select([c.name for c in spec.columns]) if changes else lf


def _target(col: Column) -> pl.DataType:
    from analytics.exports import _DTYPES

    return _DTYPES[col.kind]


def is_clean(lf: pl.LazyFrame, spec: ExportSpec) -> bool:
    """No missing required value, no negative count, no NaN or infinite number, and (by row
    hashes) no duplicate key."""
    checks = []
    for col in spec.columns:
        if not col.nullable:
            checks.append(pl.col(col.name).is_null().sum())
        if col.non_negative:
            checks.append((pl.col(col.name) < 0).sum())
        if col.kind == "number":
            checks.append(pl.col(col.name).is_finite().not_().sum())
    if checks:
        counts = lf.select([e.alias(f"c{i}") for i, e in enumerate(checks)]).collect(
            engine="streaming"
        )
        if any(v for v in counts.row(0)):
            return False
    if spec.key:
        # Equal neighbours after sorting are duplicate keys, or (rarely) a hash collision,
        # which the row-by-row path then settles exactly.
        dup = (
            lf.select(pl.struct(list(spec.key)).hash().sort().alias("h"))
            .select((pl.col("h") == pl.col("h").shift(1)).sum())
            .collect(engine="streaming")
            .item()
        )
        if dup:
            return False
    return True
