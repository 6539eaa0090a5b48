"""Erasure reaches every warehouse folder readers read: the folders of sinks that are not
running (disabled, or forwarding off), and files that are not the log's own (a history seeded
by ``sideline demo seed --target warehouse``, one named by an older seed)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from analytics.io import write_events
from service.cli import main
from service.domain.events import EventType, new_event, utcnow
from service.eventlog.codec import to_arrow
from service.sinks import offline, store
from service.sinks.factory import erasure_keys
from service.sinks.forwarder import new_erasure
from service.sinks.warehouse import files
from service.sinks.warehouse.erase import append_audit, erase_files
from tests.sinks.conftest import Rig, message

WH = {"name": "warehouse", "linger_seconds": 0.05}


def scan(root: Path) -> pl.DataFrame:
    return pl.scan_parquet(str(root / "events" / "**" / "*.parquet"), hive_partitioning=True).collect()


def held_by(root: Path, user: str) -> int:
    """Rows of ``user`` in the folder, as user or actor, or quoted anywhere in a row."""
    frame = scan(root).drop("event_date")
    return sum(user in json.dumps(row, default=str) for row in frame.rows())


async def until_erased_from(rig: Rig, root: Path, user: str, timeout: float = 20.0) -> None:
    """Wait until the started ``rig``'s forwarder has erased ``user`` from ``root`` and has no
    erasure left pending."""
    deadline = time.monotonic() + timeout
    while held_by(root, user) or rig.fw.status()[0].pending_erasures:
        assert time.monotonic() < deadline, rig.fw.status()
        await asyncio.sleep(0.05)


def audit_ids(root: Path) -> list[str]:
    return [json.loads(line)["erasure_id"] for line in (root / "erasures.jsonl").read_text().splitlines()]


async def exported_to_two(tmp_path: Path) -> tuple[Path, Path, dict[str, object]]:
    """Alice's events exported to two warehouse folders; the service stopped."""
    second = {**WH, "name": "second", "path": str(tmp_path / "second")}
    rig = await Rig(tmp_path / "data", {"warehouse": [WH, second]}).start()
    await rig.append([message(i, user="alice" if i % 2 else "bob", text=f"alice says {i}" if i % 2 else None)
                      for i in range(10)])  # fmt: skip
    await rig.drained()
    await rig.stop()
    return rig.settings.data_path / "warehouse", tmp_path / "second", second


async def test_a_disabled_warehouse_is_erased_by_the_running_service(tmp_path: Path):
    main_root, second_root, second = await exported_to_two(tmp_path)
    assert held_by(second_root, "alice") == 5
    rig = await Rig(tmp_path / "data", {"warehouse": [WH, {**second, "enabled": False}]}).start()
    try:
        states = [(s.name, s.state) for s in rig.fw.status()]
        assert states == [("warehouse", "idle"), ("second", "disabled")], states
        record = await rig.fw.erase("alice", "ticket-1")
    finally:
        await rig.stop()
    assert held_by(main_root, "alice") == held_by(second_root, "alice") == 0
    assert scan(second_root).filter(pl.col("user_id") == record.pseudonym).height == 5
    assert record.done_at is not None and record.rows_rewritten == 10  # 5 in each folder
    assert audit_ids(second_root) == audit_ids(main_root) == [record.erasure_id]


async def test_with_forwarding_off_every_configured_warehouse_is_erased(tmp_path: Path):
    main_root, second_root, second = await exported_to_two(tmp_path)
    rig = await Rig(tmp_path / "data", {"enabled": False, "warehouse": [WH, second]}).start()
    try:
        assert {s.state for s in rig.fw.status()} == {"disabled"}  # nothing runs
        record = await rig.fw.erase("alice", "ticket-1")
        stored = await rig.log.run_read(store.load_erasures)
    finally:
        await rig.stop()
    assert held_by(main_root, "alice") == held_by(second_root, "alice") == 0
    assert record.rows_rewritten == 10 and [r.done_at is not None for r in stored] == [True]
    assert audit_ids(second_root) == [record.erasure_id]


async def test_an_erasure_an_older_version_marked_done_without_a_folder_is_applied_at_start(
    tmp_path: Path,
):
    """The state the old service left: the erasure done, only the running sink's folder
    rewritten and audited, the disabled one's untouched. Re-enabling it repairs that."""
    main_root, second_root, second = await exported_to_two(tmp_path)
    rig = Rig(tmp_path / "data", {"warehouse": [WH, second]})
    with offline.open_log(rig.settings.log_path, read_only=False) as con:
        epoch = con.execute("SELECT value FROM log_meta WHERE key = 'epoch'").fetchall()[0][0]
        keys = erasure_keys(rig.settings)
        record = new_erasure("alice", store.last_seq(con), "ticket-1", keys)
        erase_files(main_root, "node-1", record, keys=keys, epoch=epoch)
        done = store.finished(record, 5, [])
        append_audit(main_root, done)
        store.save_erasure(con, record)
        store.finish_erasure(con, done)
    await rig.start()
    try:
        await until_erased_from(rig, second_root, "alice")
        stored = await rig.log.run_read(store.load_erasures)
    finally:
        await rig.stop()
    assert audit_ids(second_root) == audit_ids(main_root) == [record.erasure_id]
    assert [(r.rows_rewritten, r.done_at is not None) for r in stored] == [(10, True)]


async def test_erasure_reaches_a_seeded_history_and_files_named_by_an_older_seed(tmp_path: Path, capsys):
    data = tmp_path / "data"
    assert main(["demo", "seed", "--users", "50", "--target", "warehouse", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    root = data / "warehouse"
    seeded = scan(root)
    (seed_epoch,) = seeded["epoch"].unique().to_list()
    # Named as the sink names files, so erasure, compaction and recovery list them.
    assert sorted(p.path for p in files.parts(root)) == sorted(root.rglob("*.parquet"))
    user = "u000001"
    mine = seeded.filter(pl.col("user_id") == user).height
    assert mine > 10 and seeded.filter(pl.col("user_id") == user)["seq"].max() > 100
    # A file as an older seed named them: seqs only.
    older = [new_event(EventType.REACTION_ADDED, user_id=user, room_id="match:1", message_id="m1",
                       payload={"emoji": "⚽"}, occurred_at=utcnow()) for _ in range(3)]  # fmt: skip
    for i, e in enumerate(older, 1):
        e.seq, e.epoch, e.node_id = i, "0190a000-0000-7000-8000-000000000000", "node-1"
    (renamed,) = write_events(to_arrow(older), root)
    legacy = renamed.with_name("000000000001-000000000003.parquet")
    renamed.rename(legacy)

    rig = await Rig(data, {"warehouse": [WH]}).start()
    try:
        await rig.append([message(i, user=user if i == 0 else "bob") for i in range(3)])
        await rig.drained()
        frame = scan(root)
        # The log numbers from 1 too: a row is told apart by its node, epoch and seq.
        assert frame.select("node_id", "epoch", "seq").is_duplicated().sum() == 0
        assert frame["event_id"].n_unique() == frame.height == len(seeded) + 3 + 3
        record = await rig.fw.erase(user, "ticket-1")
        assert record.up_to_seq == 3 and record.rows_rewritten == mine + 3 + 1
        # A replay rewrites the log's files only; the seeded history stays, erased.
        await rig.fw.replay("warehouse", 1)
        await rig.drained()
    finally:
        await rig.stop()
    frame = scan(root)
    assert frame.height == len(seeded) + 6 and held_by(root, user) == 0
    assert frame.filter(pl.col("user_id") == record.pseudonym).height == mine + 3 + 1
    assert pq.read_table(legacy).column("user_id").to_pylist() == [record.pseudonym] * 3
    assert seed_epoch in frame["epoch"].to_list()


async def test_sideline_erase_without_a_service_reaches_seeded_files_past_the_logs_seqs(tmp_path: Path):
    data = tmp_path / "data"
    rig = await Rig(data, {"warehouse": [WH]}).start()
    await rig.append([message(0, user="bob")])
    await rig.drained()
    await rig.stop()
    root = data / "warehouse"
    seeded = [message(i, user="zoe") for i in range(5)]
    for i, e in enumerate(seeded, 50):
        e.seq, e.epoch, e.node_id = i, "0190a000-0000-7000-8000-000000000001", "node-1"
    write_events(to_arrow(seeded), root)
    record = offline.erase(rig.settings, "zoe", "ticket-2")
    assert (record.up_to_seq, record.rows_rewritten) == (1, 5)
    assert held_by(root, "zoe") == 0
