"""Erasure reaches every file readers read, also files that are not the log's own (a history
seeded by ``sideline demo seed --target warehouse``, one named by an older seed)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from analytics.io import write_events
from service.cli import main
from service.domain.events import EventType, new_event, utcnow
from service.eventlog.codec import to_arrow
from service.sinks import offline
from service.sinks.warehouse import files
from tests.sinks.conftest import Rig, message

WH = {"name": "warehouse", "linger_seconds": 0.05}


def scan(root: Path) -> pl.DataFrame:
    return pl.scan_parquet(str(root / "events" / "**" / "*.parquet"), hive_partitioning=True).collect()


def held_by(root: Path, user: str) -> int:
    """Rows of ``user`` in the folder, as user or actor, or quoted anywhere in a row."""
    frame = scan(root).drop("event_date")
    return sum(user in json.dumps(row, default=str) for row in frame.rows())


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
