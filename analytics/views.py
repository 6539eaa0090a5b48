"""DuckDB views over the report Parquet files, for notebooks and dashboards.

The runner writes them into ``<warehouse>/reports.duckdb`` (a file of its own, so the
warehouse export's ``warehouse.duckdb`` stays the warehouse sink's): one view per report,
named like the report, reading every window file of it. The file is rebuilt next to the old
one and renamed over it, so a reader holding the old file open is never blocked or broken.
:func:`register_report_views` adds the same views to any connection, e.g. ``warehouse.duckdb``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from service import duck


def _literal(text: str) -> str:
    # DDL cannot take bound parameters; paths are quoted as SQL string literals instead.
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def report_folders(reports_root: Path) -> dict[str, Path]:
    """Report name -> folder, for every report folder that holds at least one Parquet file."""
    if not reports_root.is_dir():
        return {}
    return {
        p.name: p
        for p in sorted(reports_root.iterdir())
        if p.is_dir() and not p.name.startswith("_") and next(p.glob("*.parquet"), None)
    }


def register_report_views(con: duckdb.DuckDBPyConnection, reports_root: Path) -> list[str]:
    """Create or replace one view per report on ``con``; returns the view names."""
    names = []
    for name, folder in report_folders(reports_root).items():
        glob = str(folder.resolve() / "*.parquet")
        con.execute(
            f"CREATE OR REPLACE VIEW {_identifier(name)} AS "
            f"SELECT * FROM read_parquet({_literal(glob)}, union_by_name = true)"
        )
        names.append(name)
    return names


def write_views_file(reports_root: Path, path: Path) -> list[str]:
    """Rebuild the views file at ``path`` and swap it in; returns the view names."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duck.connect(tmp)
        try:
            names = register_report_views(con, reports_root)
        finally:
            con.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return names
