"""Replay bounds: a cursor never points past the log's end, where it would skip events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from service.sinks import offline, store
from tests.sinks.conftest import Rig, message

WH = {"name": "warehouse", "linger_seconds": 0.05}


def exported_seqs(rig: Rig) -> list[int]:
    root = rig.settings.data_path / "warehouse" / "events"
    return sorted(pl.read_parquet(str(root / "**" / "*.parquet"))["seq"].to_list())


async def stored_cursor(rig: Rig) -> int:
    return (await rig.log.run_read(store.load_cursors))["warehouse"]


async def test_replay_past_the_end_is_refused_and_changes_nothing(make_rig: Any) -> None:
    rig: Rig = await make_rig({"warehouse": [WH]})
    await rig.append([message(i) for i in range(3)])
    await rig.drained()
    with pytest.raises(store.ReplayOutOfRange) as refused:
        await rig.fw.replay("warehouse", 1000)
    assert str(refused.value) == (
        "from_seq 1000 is outside the log: its last seq is 3, so from_seq must be between 1 "
        "and 4 (the next event)"
    )
    status = rig.fw.status()[0]
    assert (status.cursor, status.lag, status.state) == (3, 0, "idle")
    assert await stored_cursor(rig) == 3 and exported_seqs(rig) == [1, 2, 3]
    # The worker still runs: later commits are forwarded.
    await rig.append([message(i) for i in range(3, 6)])
    await rig.drained()
    assert exported_seqs(rig) == [1, 2, 3, 4, 5, 6]
    # "From the next event" is the last allowed value.
    status = await rig.fw.replay("warehouse", 7)
    assert status.cursor == 6 and await stored_cursor(rig) == 6


async def test_a_stored_cursor_past_the_end_is_shown_then_rewound_at_start(tmp_path: Path) -> None:
    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    await rig.append([message(i) for i in range(5)])
    await rig.drained()
    await rig.log.run_write(lambda con: store.advance(con, "warehouse", 999))
    await rig.stop()

    row = offline.status(rig.settings)[0]
    assert (row.cursor, row.last_seq, row.lag) == (999, 5, -994)  # never a lag of 0
    assert row.last_error == "cursor 999 is past the log's last seq 5; the next start rewinds it"

    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    try:
        status = rig.fw.status()[0]
        assert (status.cursor, status.lag, status.errors) == (5, 0, 1)
        assert status.last_error == "stored cursor 999 was past the log's last seq 5; rewound"
        assert await stored_cursor(rig) == 5
        await rig.append([message(i) for i in range(5, 8)])
        await rig.drained()
        assert exported_seqs(rig) == list(range(1, 9))
    finally:
        await rig.stop()


async def test_replaying_dead_lettered_events_keeps_one_dead_letter_per_event(
    make_rig: Any, collector: Any
) -> None:
    from datetime import timedelta

    from service.domain.events import utcnow
    from tests.sinks.conftest import sink_config

    rig: Rig = await make_rig({"ga4": [sink_config("ga4", collector.url)]})
    old = utcnow() - timedelta(days=4)  # past GA4's 72 h: the mapping dead-letters them
    await rig.append([message(i, occurred_at=old) for i in range(3)])
    await rig.append([message(i) for i in range(3, 5)])
    await rig.drained()
    assert rig.fw.status()[0].dead_letters == 3
    for _ in range(2):
        await rig.fw.replay("ga4", 1)
        await rig.drained()
    assert rig.fw.status()[0].dead_letters == 3
    stored = await rig.log.run_read(store.dead_letter_counts)
    assert stored == {"ga4": 3}
    letters = await rig.fw.dead_letters("ga4")
    assert sorted(d.seq for d in letters) == [1, 2, 3]
    collector.wait_for("ga4", 6)  # the two recent events, delivered three times


async def test_a_log_with_doubled_dead_letters_keeps_the_first_of_each(tmp_path: Path) -> None:
    # A log written before dead letters were unique: schema 1-3, the same event twice.
    import duckdb

    from service.domain.events import utcnow
    from service.eventlog.duckdb_log import DuckDBLog, schema_files

    path = tmp_path / "log.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL)")  # fmt: skip
    for version, sql in schema_files():
        if version <= 3:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, utcnow()])
    first, later = utcnow(), utcnow()
    rows = [("ga4", 1, "e1", "first", first), ("ga4", 1, "e1", "again", later),
            ("ga4", 2, "e2", "first", first), ("segment", 1, "e1", "first", first)]  # fmt: skip
    con.executemany("INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?)", rows)
    con.close()

    log = DuckDBLog(path, node_id="node-1")
    await log.start()
    try:
        sql = "SELECT sink, seq, reason FROM dead_letters ORDER BY ALL"
        kept = await log.run_read(lambda c: c.execute(sql).fetchall())
        assert kept == [("ga4", 1, "first"), ("ga4", 2, "first"), ("segment", 1, "first")]
    finally:
        await log.close()
