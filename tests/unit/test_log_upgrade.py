"""A log shard written by an older release (schema files 1-3, as on 2026-11-25) opened by this
one: the later schema files are applied, said so in the start's log lines, and the events,
epoch, cursors and erasure records are the ones the older release left."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest

from service.domain.events import EventType as T
from service.domain.events import new_event, utcnow
from service.eventlog.duckdb_log import DuckDBLog, schema_files


def old_log(path: Path, epoch: str) -> None:
    """Schema 1-3 and what an older node wrote into them: three events, a cursor, an erasure."""
    con = duckdb.connect(str(path))
    try:
        for version, sql in schema_files():
            if version <= 3:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow()])
        con.execute("INSERT INTO log_meta VALUES ('epoch', ?)", [epoch])
        for seq in (1, 2, 3):
            e = new_event(T.ROOM_JOINED, user_id=f"u{seq}", room_id="match:1")
            con.execute(
                "INSERT INTO events (seq, event_id, epoch, node_id, schema_version, event_type, "
                "occurred_at, user_id, room_id, context_id, payload) "
                "VALUES (?, ?, ?, 'node-1', 1, ?, ?, ?, 'match:1', 'match:1', '{}')",
                [seq, e.event_id, epoch, str(e.event_type), e.occurred_at, e.user_id],
            )
        con.execute("INSERT INTO sink_cursors VALUES ('warehouse', 2, ?)", [utcnow()])
        con.execute(
            "INSERT INTO erasures VALUES ('x1', 'h', 'erased-0011223344556677', 3, 'ops', ?, 0, "
            "'[]')", [utcnow()],
        )
    finally:
        con.close()


async def test_an_older_log_is_migrated_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "log-node-1.duckdb"
    old_log(path, "old-epoch")
    caplog.set_level(logging.INFO, logger="service.eventlog.duckdb_log")
    log = DuckDBLog(path, node_id="node-1")
    await log.start()
    try:
        assert (log.epoch, log.last_seq) == ("old-epoch", 3)
        versions = await log.run_read(
            lambda c: c.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
        )
        assert [v for (v,) in versions] == [n for n, _ in schema_files()]
        cursors = await log.run_read(
            lambda c: c.execute("SELECT sink, seq FROM sink_cursors").fetchall()
        )
        assert cursors == [("warehouse", 2)]
        erasures = await log.run_read(
            lambda c: c.execute("SELECT scheme, done_at FROM erasures").fetchall()
        )
        assert erasures == [("sha256", None)]  # redone once by the forwarder's start
    finally:
        await log.close()
    latest = schema_files()[-1][0]
    assert f"schema of {path} upgraded from version 3 to {latest}" in caplog.text
    caplog.clear()
    log = DuckDBLog(path, node_id="node-1")
    await log.start()
    await log.close()
    assert "upgraded" not in caplog.text  # nothing left to apply: nothing said
    caplog.clear()
    log = DuckDBLog(tmp_path / "new.duckdb", node_id="node-1")
    await log.start()
    await log.close()
    assert "upgraded" not in caplog.text  # a new file is no upgrade
