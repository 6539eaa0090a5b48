"""DuckDB connections in UTC, whatever the machine's time zone.

DuckDB gives a ``TIMESTAMPTZ`` back in its session's ``TimeZone``, which defaults to the
machine's. On a server set to another zone than UTC, every time read from the log came back
in that zone: after a restart the history the API served said ``+14:00`` where the same
messages had said ``Z`` before it, as did history pages read from the log. Every connection
the service and its jobs open goes through :func:`connect`, which sets the database's zone to
UTC (``SET GLOBAL``: the cursors branched off a connection share it). (The forwarder already
relabelled the rows it reads as UTC, so the warehouse's ``event_date`` partitions were right.)
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (an in-memory database by default) with its time zone set to UTC."""
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("SET GLOBAL TimeZone = 'UTC'")
    except BaseException:
        con.close()
        raise
    return con
