"""kill -9 in the middle of forwarding, restart: nothing is lost, duplicates share a key."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import polars as pl
import pytest

from service.sinks import offline
from tests.collector import Collector
from tests.fixtures.server import free_port
from tests.sinks.conftest import Rig
from tests.sinks.test_admin import cli
from tests.sinks.test_contract import dedup_key

ROOT = Path(__file__).resolve().parents[2]
WH = {"name": "warehouse", "linger_seconds": 0.05}


def _spawn(data: Path, url: str, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sinks.crash_worker", str(data), url, mode],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _kill_9_at(data: Path, mode: str, marker: str) -> None:
    """Run the crash worker in ``mode`` and kill -9 it once it prints a line starting with
    ``marker``."""
    proc = _spawn(data, "-", mode)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(marker):
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]


async def _no_erasure_pending(rig: Rig) -> None:
    """Wait (30 s at most) until the started ``rig`` has applied every recorded erasure."""
    deadline = time.monotonic() + 30
    while rig.fw.status()[0].pending_erasures:
        assert time.monotonic() < deadline, rig.fw.status()
        await asyncio.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_forwarding_loses_nothing(tmp_path: Path):
    data = tmp_path / "data"
    with Collector() as collector:
        collector.delay = 0.005
        proc = _spawn(data, collector.url, "write")
        try:
            collector.wait_for("segment", 1500, timeout=60)
            collector.wait_for("mixpanel", 1500, timeout=60)
            # Slow every sink down and let the writer get well ahead, so the kill lands while
            # batches are being sent (the sinks are faster than the writer otherwise, and
            # could all be caught up at the kill).
            collector.delay = 1.0
            ahead = max(collector.count(k) for k in ("segment", "mixpanel", "ga4")) + 400
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("COMMITTED") and int(line.split()[1]) >= ahead:
                    break
        finally:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        at_kill = {k: collector.count(k) for k in ("segment", "mixpanel", "ga4")}

        collector.delay = 0.0
        proc = _spawn(data, collector.url, "drain")
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
        assert "DRAINED" in out

        con = duckdb.connect(str(data / "log-node-1.duckdb"), read_only=True)
        logged = [r[0] for r in con.execute("SELECT event_id FROM events ORDER BY seq").fetchall()]
        con.close()
        assert len(logged) > at_kill["segment"]  # the log was ahead of the sinks at the kill
        for kind in ("segment", "mixpanel", "ga4"):
            keys = Counter(dedup_key(kind, r) for r in collector.received[kind])
            assert set(keys) == set(logged), kind
            print(f"{kind}: {at_kill[kind]} of {len(logged)} events before the kill, "
                  f"{sum(keys.values()) - len(keys)} delivered twice (same dedup key)")  # fmt: skip
        assert collector.invalid == []

    rows = pl.scan_parquet(str(data / "warehouse" / "events" / "**" / "*.parquet"),
                           hive_partitioning=True).select("event_id").collect()  # fmt: skip
    assert rows.height == len(logged) == rows["event_id"].n_unique()


@pytest.mark.slow
async def test_kill_9_between_erasure_record_and_rewrite_is_completed_at_restart(tmp_path: Path):
    data = tmp_path / "data"
    _kill_9_at(data, "erase", "ERASURE RECORDED")
    root = data / "warehouse"

    def users() -> list[str]:
        return list(pl.read_parquet(str(root / "events" / "**" / "*.parquet"))["user_id"])

    assert users().count("alice") == 10  # the kill landed before the rewrite

    settings = Rig(data, {"warehouse": [WH]}).settings
    (row,) = offline.status(settings)
    assert row.pending_erasures == 1  # visibly pending, before anything is redone
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nport = {free_port()}\n'
                      '[[sinks.warehouse]]\nname = "warehouse"\n')  # fmt: skip
    out = cli(config, "sinks", "status")
    assert out.returncode == 0 and "source: log file" in out.stdout, out.stderr
    assert "pending erasures: 1 recorded but not yet applied" in out.stdout

    rig = await Rig(data, {"warehouse": [WH]}).start()
    try:
        await _no_erasure_pending(rig)
        assert "alice" not in users()
        assert sum(u.startswith("erased-") for u in users()) == 10
    finally:
        await rig.stop()
    con = duckdb.connect(str(data / "log-node-1.duckdb"), read_only=True)
    done = con.execute("SELECT rows_rewritten, done_at IS NOT NULL FROM erasures").fetchall()
    con.close()
    assert done == [(10, True)]
    audit = (root / "erasures.jsonl").read_text().splitlines()
    assert len(audit) == 1 and "ticket-7" in audit[0]

    # Idempotent: a second start finds nothing pending and changes nothing.
    rig = await Rig(data, {"warehouse": [WH]}).start()
    try:
        assert rig.fw.status()[0].pending_erasures == 0
    finally:
        await rig.stop()
    assert len((root / "erasures.jsonl").read_text().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("finish", ["start", "sideline erase"])
async def test_rows_rewritten_by_a_pass_killed_midway_are_counted(tmp_path: Path, finish: str):
    # The killed pass rewrote the first of four files; the pass that finishes the erasure
    # finds only the other three to change, but the record must count all of alice's rows.
    data = tmp_path / "data"
    _kill_9_at(data, "erase-midway", "FILE REWRITTEN")
    root = data / "warehouse"

    def frame() -> pl.DataFrame:
        return pl.read_parquet(str(root / "events" / "**" / "*.parquet"), include_file_paths="file")

    assert 0 < frame()["user_id"].to_list().count("alice") < 10  # the kill landed midway
    settings = Rig(data, {"warehouse": [WH]}).settings
    if finish == "start":
        rig = await Rig(data, {"warehouse": [WH]}).start()
        try:
            await _no_erasure_pending(rig)
        finally:
            await rig.stop()
    else:
        offline.erase(settings, "u0", "ticket-9")
    erased = frame().filter(pl.col("user_id").str.starts_with("erased-"))
    assert "alice" not in frame()["user_id"].to_list()
    con = duckdb.connect(str(settings.log_path), read_only=True)
    (count, files, pseudonym) = con.execute(
        "SELECT rows_rewritten, files, pseudonym FROM erasures WHERE requested_by = 'ticket-8'"
    ).fetchall()[0]
    con.close()
    mine = erased.filter(pl.col("user_id") == pseudonym)
    assert mine.height == 10
    assert count == 10
    listed = sorted(str(Path(f).relative_to(root)) for f in mine["file"].unique().to_list())
    assert json.loads(files) == listed and len(listed) == 4
    (audit,) = [json.loads(line) for line in (root / "erasures.jsonl").read_text().splitlines()
                if "ticket-8" in line]  # fmt: skip
    assert audit["rows_rewritten"] == 10 and audit["files"] == listed
