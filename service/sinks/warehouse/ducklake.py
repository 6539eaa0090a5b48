"""Optional DuckLake target beside the Parquet export, where the installed DuckDB can load it.

Extensions are not downloaded at run time (autoinstall is switched off): DuckLake must be
installed already, or given as a local extension file. When it cannot be loaded, starting a
warehouse sink with ``ducklake = true`` fails with :class:`DuckLakeUnavailable` naming the
DuckDB version, instead of exporting without it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from service import duck
from service.sinks.warehouse.views import sql_literal


class DuckLakeUnavailable(Exception):
    """DuckLake cannot be loaded by this DuckDB."""


def load_ducklake(con: duckdb.DuckDBPyConnection, extension_path: str = "") -> None:
    """Load DuckLake into ``con`` without any download.

    Raises:
        DuckLakeUnavailable: the extension is not installed or not built for this DuckDB.
    """
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    target = sql_literal(extension_path) if extension_path else "ducklake"
    try:
        con.execute(f"LOAD {target}")
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise DuckLakeUnavailable(
            f"DuckLake is not available with DuckDB {duckdb.__version__}: {first} "
            "(the duckdb-extension-ducklake packages on PyPI are built for DuckDB 1.5 only; "
            "set ducklake = false, or ducklake_extension_path to an extension built for "
            f"DuckDB {duckdb.__version__})"
        ) from exc


def ducklake_status(extension_path: str = "") -> str:
    """A one-line report for ``sideline sinks check``."""
    con = duck.connect()
    try:
        load_ducklake(con, extension_path)
    except DuckLakeUnavailable as exc:
        return str(exc)
    finally:
        con.close()
    return f"DuckLake loads with DuckDB {duckdb.__version__}"


class DuckLakeWriter:
    """Appends export batches to ``<root>/lake.ducklake`` (data under ``<root>/lake/``).

    Idempotent like the Parquet files: a batch first deletes its own (node, epoch, seq range).
    """

    def __init__(self, root: Path, extension_path: str = "") -> None:
        self._root = root
        self._extension_path = extension_path
        self._con: duckdb.DuckDBPyConnection | None = None

    def open(self) -> None:
        con = duck.connect()
        load_ducklake(con, self._extension_path)
        catalog = sql_literal(f"ducklake:{self._root / 'lake.ducklake'}")
        data = sql_literal(str(self._root / "lake") + "/")
        con.execute(f"ATTACH {catalog} AS lake (DATA_PATH {data})")
        self._con = con

    def write(self, table: pa.Table) -> None:
        con = self._con
        assert con is not None, "DuckLake writer not opened"
        con.register("batch", table)
        try:
            con.execute("CREATE TABLE IF NOT EXISTS lake.events AS SELECT * FROM batch LIMIT 0")
            con.execute("BEGIN")
            con.execute(
                "DELETE FROM lake.events WHERE node_id = ? AND epoch = ? AND seq BETWEEN ? AND ?",
                [
                    table.column("node_id")[0].as_py(), table.column("epoch")[0].as_py(),
                    table.column("seq")[0].as_py(), table.column("seq")[-1].as_py(),
                ],
            )  # fmt: skip
            con.execute("INSERT INTO lake.events SELECT * FROM batch")
            con.execute("COMMIT")
        finally:
            con.unregister("batch")

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
