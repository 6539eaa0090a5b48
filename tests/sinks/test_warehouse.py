"""The Parquet export: readable while written, idempotent across crashes and replays,
compacted, erasable, and never holding an unmasked original."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from service.domain.events import EventType, new_event, utcnow
from service.sinks import store
from service.sinks.warehouse import files
from service.sinks.warehouse.ducklake import DuckLakeUnavailable
from service.sinks.warehouse.sink import WarehouseSink
from tests.sinks.conftest import Rig, message

WH = {"name": "warehouse", "linger_seconds": 0.05, "batch_size": 500}

COUNT_IN_SUBPROCESS = """
import sys, time, duckdb
path, rounds = sys.argv[1], int(sys.argv[2])
counts = []
for _ in range(rounds):
    con = duckdb.connect(path, read_only=True)
    counts.append(con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchall()[0])
    con.close()
    time.sleep(0.05)
print(counts)
"""


def scan(root: Path) -> pl.DataFrame:
    return pl.scan_parquet(
        str(root / "events" / "**" / "*.parquet"), hive_partitioning=True
    ).collect()


async def test_polars_and_a_duckdb_process_read_while_the_writer_appends(make_rig, tmp_path: Path):
    rig: Rig = await make_rig({"warehouse": [WH]})
    root = rig.settings.data_path / "warehouse"
    await rig.append([message(i) for i in range(100)])
    await rig.drained()
    views = root / "warehouse.duckdb"
    reader = subprocess.Popen([sys.executable, "-c", COUNT_IN_SUBPROCESS, str(views), "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    polars_counts = []
    for i in range(100, 3100, 100):
        await rig.append([message(j) for j in range(i, i + 100)])
        frame = await asyncio.to_thread(scan, root)
        assert frame["event_id"].n_unique() == frame.height <= rig.log.last_seq
        polars_counts.append(frame.height)
        await asyncio.sleep(0.03)
    out, err = await asyncio.to_thread(reader.communicate, timeout=60)
    assert reader.returncode == 0, err
    duck_counts = eval(out)  # a printed list of (rows, distinct ids) tuples
    assert all(rows == distinct for rows, distinct in duck_counts)
    assert [r for r, _ in duck_counts] == sorted(r for r, _ in duck_counts)  # never goes back
    assert polars_counts == sorted(polars_counts) and len(set(polars_counts)) > 5
    await rig.drained()
    frame = scan(root)
    assert frame.height == rig.log.last_seq == 3100 == frame["event_id"].n_unique()
    assert frame["seq"].sort().to_list() == list(range(1, 3101))
    con = duckdb.connect(str(views), read_only=True)
    assert con.execute("SELECT count(*) FROM messages WHERE text LIKE 'hello %'").fetchall() == [
        (3100,)
    ]
    con.close()


async def test_restart_after_a_crash_between_file_and_cursor_never_duplicates(tmp_path: Path):
    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    await rig.append([message(i) for i in range(300)])
    await rig.drained()
    root = rig.settings.data_path / "warehouse"
    # The crash: files up to seq 300 exist, the stored cursor is still at 120.
    await rig.log.run_write(lambda con: store.advance(con, "warehouse", 120))
    await rig.stop()
    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    assert rig.fw.status()[0].cursor <= 120
    await rig.append([message(i) for i in range(300, 350)])
    await rig.drained()
    frame = scan(root)
    assert frame.height == 350 == frame["event_id"].n_unique()
    await rig.stop()


async def test_replay_rewrites_instead_of_adding(make_rig):
    rig: Rig = await make_rig({"warehouse": [WH]})
    for i in range(0, 400, 100):
        await rig.append([message(j) for j in range(i, i + 100)])
        await rig.drained()
    root = rig.settings.data_path / "warehouse"
    assert len(list(files.parts(root))) >= 4
    status = await rig.fw.replay("warehouse", 150)  # inside a file: that file is redone whole
    assert status.cursor <= 149
    await rig.drained()
    frame = scan(root)
    assert frame.height == 400 == frame["event_id"].n_unique()


async def test_daily_compaction_merges_small_files_and_survives_interruption(make_rig):
    rig: Rig = await make_rig({"warehouse": [WH]})
    for i in range(0, 500, 50):
        await rig.append([message(j) for j in range(i, i + 50)])
        await rig.drained()
    root = rig.settings.data_path / "warehouse"
    small = list(files.parts(root))
    assert len(small) >= 10
    keep = small[3].path.read_bytes()
    (sink,) = [s for s in rig.fw.sinks if isinstance(s, WarehouseSink)]
    done = await sink.compact(before="9999-12-31")
    assert [c.inputs for c in done] == [len(small)]
    (merged,) = list(files.parts(root))
    assert (merged.first, merged.last) == (1, 500)
    # An interrupted compaction leaves an input beside the merged file: recovery removes it.
    small[3].path.write_bytes(keep)
    assert scan(root).height == 550
    await rig.fw.replay("warehouse", 501)
    assert scan(root).height == 500 == scan(root)["event_id"].n_unique()


async def test_erasure_rewrites_files_records_it_and_survives_replay(make_rig, collector):
    from tests.sinks.conftest import sink_config

    rig: Rig = await make_rig(
        {"warehouse": [WH], "segment": [sink_config("segment", collector.url)]}
    )
    events = [message(i, user="alice" if i % 3 == 0 else f"u{i}", text=f"alice says {i}" if i % 3 == 0 else None)
              for i in range(30)]  # fmt: skip
    events.append(new_event(EventType.MESSAGE_DELETED, user_id="bob", room_id="match:1",
                            actor_id="alice", payload={"reason": "spam"}))  # fmt: skip
    await rig.append(events)
    await rig.drained()
    record = await rig.fw.erase("alice", "ticket-42")
    assert record.rows_rewritten == 11 and record.files and record.requested_by == "ticket-42"
    root = rig.settings.data_path / "warehouse"
    frame = scan(root)
    assert "alice" not in frame["user_id"].to_list() + frame["actor_id"].drop_nulls().to_list()
    assert not frame.filter(pl.col("payload").str.contains("alice says")).height
    assert frame.filter(pl.col("user_id") == record.pseudonym).height == 10
    audit = [json.loads(line) for line in (root / "erasures.jsonl").read_text().splitlines()]
    assert audit[0]["erasure_id"] == record.erasure_id and "alice" not in json.dumps(audit)
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT rows_rewritten FROM erasures").fetchall() == [(11,)]
    con.close()
    # A replay (or a sink added later) must not bring her back.
    collector.received["segment"].clear()
    await rig.fw.replay("warehouse", 1)
    await rig.fw.replay("segment", 1)
    later = await rig.append([message(99, user="alice", text="alice is back")])
    await rig.drained()
    frame = scan(root)
    assert frame.filter(pl.col("user_id") == "alice")["seq"].to_list() == [later[0].seq]
    # Segment got the replay under the pseudonym, and under her id only her new event.
    alice = [
        m["properties"]["seq"] for m in collector.received["segment"] if m["userId"] == "alice"
    ]
    assert alice == [later[0].seq]
    assert sum(m["userId"] == record.pseudonym for m in collector.received["segment"]) == 10


async def test_export_never_holds_an_unmasked_original(make_rig):
    rig: Rig = await make_rig({"warehouse": [WH]})
    original = "call me at +44 20 7946 0958"
    masked = message(1, text="call me at [phone]")
    masked.payload["masked"] = True

    def record_original(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO moderation_records VALUES (?, ?, ?, ?, ?, ?)",
                    [masked.event_id, "m1", "match:1", masked.user_id, original, utcnow()])  # fmt: skip

    await rig.log.append([masked], extra=record_original)
    rig.fw.notify(rig.log.last_seq)
    await rig.drained()
    frame = scan(rig.settings.data_path / "warehouse")
    text_columns = [c for c, t in frame.schema.items() if t == pl.String]
    assert frame.height == 1
    assert not any(original in str(v) for c in text_columns for v in frame[c].to_list())
    assert "[phone]" in frame["payload"][0]


async def test_warehouse_without_text(make_rig):
    rig: Rig = await make_rig({"warehouse": [{**WH, "include_text": False}]})
    await rig.append([message(1, text="words")])
    await rig.drained()
    payload = json.loads(scan(rig.settings.data_path / "warehouse")["payload"][0])
    assert "text" not in payload and payload["visibility"] == "public"


async def test_ducklake_unavailable_is_reported_not_ignored(tmp_path: Path):
    rig = Rig(tmp_path / "data", {"warehouse": [{**WH, "ducklake": True}]})
    with pytest.raises(
        DuckLakeUnavailable, match=f"not available with DuckDB {duckdb.__version__}"
    ):
        await rig.start()
    await rig.log.close()


async def test_replay_over_days_out_of_seq_order_never_duplicates(make_rig):
    # Backfilled events (``sideline events import``) carry old dates at new seqs, so a day's
    # files need not be contiguous in seq, and a compacted day spans other days' files.
    rig: Rig = await make_rig({"warehouse": [WH]})
    now = utcnow()
    day1, day2 = now - timedelta(days=3), now - timedelta(days=2)
    for dates in ([day1, day1, day2], [day2, day1, day1]):
        await rig.append([message(i, occurred_at=at) for i, at in enumerate(dates)])
        await rig.drained()
    root = rig.settings.data_path / "warehouse"
    (sink,) = [s for s in rig.fw.sinks if isinstance(s, WarehouseSink)]
    await sink.compact(before=day2.date().isoformat())  # day1: seqs 1-2 and 5-6 in one file
    assert sorted((p.event_date, p.first, p.last) for p in files.parts(root)) == [
        (day1.date().isoformat(), 1, 6), (day2.date().isoformat(), 3, 3),
        (day2.date().isoformat(), 4, 4),
    ]  # fmt: skip
    status = await rig.fw.replay("warehouse", 6)  # day1's file is redone whole, from seq 1
    assert status.cursor == 0
    await rig.drained()
    frame = scan(root)
    assert sorted(frame["seq"].to_list()) == [1, 2, 3, 4, 5, 6]


async def test_sideline_erase_completes_an_erasure_left_pending(tmp_path: Path):
    from service.sinks import offline
    from service.sinks.forwarder import new_erasure

    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    await rig.append([message(i, user="alice" if i % 2 else "bob") for i in range(10)])
    await rig.drained()
    # The state a crash between saving the record and rewriting the files leaves behind.
    left = new_erasure("alice", rig.log.last_seq, "ticket-1", rig.fw.erasures.keys)
    await rig.log.run_write(lambda con: store.save_erasure(con, left))
    await rig.stop()
    assert [r.pending_erasures for r in offline.status(rig.settings)] == [1]

    record = offline.erase(rig.settings, "bob", "ticket-2")
    assert record.rows_rewritten == 5 and record.done_at is not None
    users = scan(rig.settings.data_path / "warehouse")["user_id"].to_list()
    assert "alice" not in users and "bob" not in users and len(users) == 10
    assert [r.pending_erasures for r in offline.status(rig.settings)] == [0]
    con = duckdb.connect(str(rig.settings.log_path), read_only=True)
    rows = con.execute("SELECT requested_by, rows_rewritten, done_at IS NOT NULL FROM erasures "
                       "ORDER BY requested_by").fetchall()  # fmt: skip
    con.close()
    assert rows == [("ticket-1", 5, True), ("ticket-2", 5, True)]


async def test_rows_rewritten_is_what_the_files_held_when_the_erasure_was_done(tmp_path: Path):
    """The count is taken from the files when the erasure completes and kept: a sink behind the
    log exports the rest of the user's events up to the erasure's seq afterwards, erased as
    they arrive, and they do not raise the recorded count (nor the audit line's)."""
    from service.sinks import offline

    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    await rig.append([message(i, user="alice" if i % 2 else "bob") for i in range(10)])
    await rig.drained()
    await rig.stop()
    behind = Rig(tmp_path / "data", {"warehouse": [WH]})  # the log alone: nothing exports these
    await behind.log.start()
    await behind.log.append([message(i, user="alice") for i in range(10, 14)])
    await behind.log.close()

    record = offline.erase(rig.settings, "alice", "ticket-1")
    assert (record.rows_rewritten, record.up_to_seq, len(record.files)) == (5, 14, 1)
    rig = await Rig(tmp_path / "data", {"warehouse": [WH]}).start()
    try:
        await rig.drained()
        users = scan(rig.settings.data_path / "warehouse")["user_id"].to_list()
        assert "alice" not in users and users.count(record.pseudonym) == 9
        stored = await rig.log.run_read(store.load_erasures)
    finally:
        await rig.stop()
    assert [(r.rows_rewritten, r.files) for r in stored] == [(5, record.files)]
    audit = (rig.settings.data_path / "warehouse" / "erasures.jsonl").read_text().splitlines()
    assert [json.loads(line)["rows_rewritten"] for line in audit] == [5]


async def test_a_user_erased_again_is_counted_only_for_the_rows_the_second_erasure_adds(make_rig):
    # Counts are read from the files after the rewrite; rows the first erasure covers carry
    # the same pseudonym and stay that one's.
    rig: Rig = await make_rig({"warehouse": [WH]})
    await rig.append([message(i, user="alice" if i % 2 else "bob") for i in range(10)])
    await rig.drained()
    first = await rig.fw.erase("alice", "ticket-1")
    await rig.append([message(i, user="alice") for i in range(10, 14)])
    await rig.drained()
    second = await rig.fw.erase("alice", "ticket-2")
    assert (first.rows_rewritten, second.rows_rewritten) == (5, 4)
    assert second.pseudonym == first.pseudonym
    users = scan(rig.settings.data_path / "warehouse")["user_id"].to_list()
    assert users.count(first.pseudonym) == 9
    stored = await rig.log.run_read(store.load_erasures)
    counts = [(r.requested_by, r.rows_rewritten) for r in stored]
    assert counts == [("ticket-1", 5), ("ticket-2", 4)]


ERASURE_COLUMNS = [
    ("erasure_id", "VARCHAR"), ("subject_hash", "VARCHAR"), ("pseudonym", "VARCHAR"),
    ("up_to_seq", "BIGINT"), ("requested_by", "VARCHAR"),
    ("requested_at", "TIMESTAMP WITH TIME ZONE"), ("rows_rewritten", "BIGINT"),
    ("files", "VARCHAR[]"), ("done_at", "TIMESTAMP WITH TIME ZONE"), ("warnings", "VARCHAR[]"),
    ("scheme", "VARCHAR"), ("key_id", "VARCHAR"),
]  # fmt: skip


def _erasures_view(root: Path) -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        columns = [(r[0], r[1]) for r in con.execute("DESCRIBE erasures").fetchall()]
        return columns, con.execute("SELECT erasure_id, warnings, done_at FROM erasures").fetchall()
    finally:
        con.close()


async def test_the_erasures_view_exists_before_any_erasure_with_the_same_columns(make_rig):
    """docs/forwarding.md lists ``erasures`` among the views: an analyst's query of it (or a
    join against it) works on a fresh export, and its columns do not depend on what the
    audit file happens to hold (a pending record's null ``done_at``, empty ``warnings``)."""
    rig: Rig = await make_rig({"warehouse": [WH]})
    root = rig.settings.data_path / "warehouse"
    await rig.append([message(i, user="alice" if i == 0 else f"u{i}") for i in range(5)])
    await rig.drained()
    assert _erasures_view(root) == (ERASURE_COLUMNS, [])
    record = await rig.fw.erase("alice", "ticket-7")
    columns, rows = _erasures_view(root)
    assert columns == ERASURE_COLUMNS
    assert [(r[0], r[1], r[2] is not None) for r in rows] == [(record.erasure_id, [], True)]
