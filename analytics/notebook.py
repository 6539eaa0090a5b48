"""The notebook helper: the warehouse export and the reports, read-only, from DuckDB or Polars.

::

    from analytics.notebook import connect, scan
    con = connect()                       # warehouse.duckdb, read-only, reports attached
    con.sql("SELECT event_type, count(*) FROM events GROUP BY ALL").pl()
    scan("events").group_by("event_type").len().collect()      # the same in Polars
    scan("churn_posting").collect()                              # a report

The data directory comes from the argument, else ``SIDELINE_DATA_DIR``, else ``data``. The
warehouse is ``<data_dir>/warehouse`` unless ``SIDELINE_ANALYTICS__WAREHOUSE_DIR`` says
otherwise. Nothing here writes: DuckDB opens the export's view file read-only (the service
may be running and rebuilding it), Polars scans the Parquet files lazily.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb
import polars as pl

from service import duck

log = logging.getLogger(__name__)

EVENTS = "events"
_EVENT_GLOB = ("events", "event_date=*", "node=*", "*.parquet")


def data_dir(path: str | Path | None = None) -> Path:
    """``path``, else ``$SIDELINE_DATA_DIR``, else ``data``."""
    return Path(path or os.environ.get("SIDELINE_DATA_DIR") or "data")


def warehouse_dir(path: str | Path | None = None) -> Path:
    """The warehouse export root of the data directory."""
    configured = os.environ.get("SIDELINE_ANALYTICS__WAREHOUSE_DIR")
    return Path(configured) if configured and path is None else data_dir(path) / "warehouse"


def _literal(text: str) -> str:
    # DuckDB view and ATTACH statements take no bound parameters; quote the path instead.
    return "'" + text.replace("'", "''") + "'"


def connect(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with ``events`` (and the export's other views) and every report.

    Opens ``<warehouse>/warehouse.duckdb`` read-only when the warehouse sink has written it;
    otherwise (a warehouse written by ``sideline demo seed --target warehouse``) an in-memory
    database with an ``events`` view over the Parquet files. The reports' view file
    ``reports.duckdb`` is attached read-only as ``reports`` and put on the search path, so
    ``FROM churn_posting`` works as well as ``FROM reports.churn_posting``. The session's time
    zone is UTC whatever the machine's, so dates and hours agree with the reports.

    Raises:
        FileNotFoundError: there is no warehouse export under the data directory.
    """
    root = warehouse_dir(path)
    if not root.is_dir():
        raise FileNotFoundError(
            f"no warehouse export at {root}: set SIDELINE_DATA_DIR to the service's data_dir, "
            "or create demo data with `sideline demo seed`"
        )
    views = root / "warehouse.duckdb"
    if views.exists():
        con = duck.connect(views, read_only=True)
        search = ["warehouse.main"]
    else:
        con = duck.connect()
        search = ["memory.main"]
        glob = str(root.resolve().joinpath(*_EVENT_GLOB))
        if any(root.glob("/".join(_EVENT_GLOB))):
            con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({_literal(glob)}, "
                        "hive_partitioning = true, union_by_name = true)")  # fmt: skip
        log.info("no %s yet: events are read straight from the Parquet files", views)
    reports = root / "reports.duckdb"
    if reports.exists():
        con.execute(f"ATTACH {_literal(str(reports))} AS reports (READ_ONLY)")
        search.append("reports.main")
    con.execute(f"SET search_path = {_literal(','.join(search))}")
    # DuckDB takes its session zone from the machine; the reports, their windows and the
    # event_date partitions are UTC days, so `CAST(occurred_at AS DATE)` must be one too.
    con.execute("SET TimeZone = 'UTC'")
    return con


def reports(path: str | Path | None = None) -> list[str]:
    """Names of the reports computed so far."""
    root = warehouse_dir(path) / "reports"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith("_") and any(p.glob("*.parquet")))  # fmt: skip


def scan(name: str, path: str | Path | None = None) -> pl.LazyFrame:
    """``events`` (the export, with its ``event_date`` and ``node`` partitions) or a report,
    as a Polars LazyFrame.

    Raises:
        ValueError: ``name`` is neither ``events`` nor a computed report (the message lists them).
    """
    root = warehouse_dir(path)
    if name == EVENTS:
        if not any(root.glob("/".join(_EVENT_GLOB))):
            raise ValueError(f"the warehouse export at {root} has no event files yet")
        return pl.scan_parquet(root.joinpath(*_EVENT_GLOB), hive_partitioning=True,
                               missing_columns="insert")  # fmt: skip
    known = reports(path)
    if name not in known:
        raise ValueError(
            f"no report {name!r} under {root / 'reports'}; computed: {', '.join(known) or 'none'}"
            " (run `sideline jobs run --all`)"
        )
    return pl.scan_parquet(root / "reports" / name / "*.parquet", missing_columns="insert")
