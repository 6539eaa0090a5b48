"""Checkpoints written while the service runs, by a forked child: the file is the state as it
stood at the fork, whatever the parent does meanwhile; a failed write is reported, not lost.

Real DuckDB logs on temp files, real forks; each restored state is compared field by field
with a fold of the log up to the checkpoint's seq.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.domain.state import CommunityState
from service.eventlog import checkpoint
from service.eventlog.duckdb_log import DuckDBLog
from service.eventlog.running_checkpoints import RunningCheckpoints
from tests.unit.test_checkpoint import assert_same, every_kind, fold, fresh, start

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture
async def log(tmp_path: Path) -> AsyncIterator[DuckDBLog]:
    opened = await start(tmp_path / "log-n1.duckdb")
    yield opened
    await opened.close()


def restored(path: Path, log: DuckDBLog) -> CommunityState:
    state = fresh()
    state.apply_all(log.replay(after=checkpoint.read(path, state, log)))
    return state


async def test_the_child_writes_the_state_as_it_stood_at_the_fork(log: DuckDBLog, tmp_path: Path) -> None:
    await log.append(every_kind())
    state = fold(log)
    at = log.last_seq
    path = checkpoint.path_for(Path(log.path))
    running = RunningCheckpoints(path, state, log, every=1)

    writing = asyncio.create_task(running.write_now())
    await asyncio.sleep(0)  # forked: the parent goes on and changes its state
    state.apply_all(await log.append(every_kind(100, tag="x")))
    said = await writing

    assert said.startswith(f"state checkpoint written at seq {at} (") and "paused" in said, said
    assert running.written == 1
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = fresh()
    assert checkpoint.read(path, again, log) == at
    assert again.last_seq == at < log.last_seq
    # plus the events after it, it is the fold of the whole log
    assert_same(restored(path, log), fold(log))


async def test_a_failed_write_is_reported_and_leaves_no_file(log: DuckDBLog, tmp_path: Path) -> None:
    await log.append(every_kind())
    folder = tmp_path / "gone"
    running = RunningCheckpoints(folder / "log-n1.checkpoint", fold(log), log, every=1)
    with pytest.raises(OSError, match="child process ended with 1: FileNotFoundError"):
        await running.write_now()
    assert running.written == 0
    assert not folder.exists()


async def test_due_after_every_events_and_only_when_the_state_caught_up(
    log: DuckDBLog, tmp_path: Path
) -> None:
    state = fold(log)
    path = tmp_path / "log-n1.checkpoint"
    running = RunningCheckpoints(path, state, log, every=50)
    await running.start()
    try:
        committed = await log.append(every_kind()[:40])
        state.apply_all(committed)
        running.notify(log.last_seq)
        await asyncio.sleep(0.3)
        assert not path.exists(), "40 events: not due yet"

        committed = await log.append(every_kind(200, tag="y")[:20])
        running.notify(log.last_seq)  # due, but the state has not applied them yet
        await asyncio.sleep(0.3)
        assert not path.exists(), "written before the state caught up with the log"
        state.apply_all(committed)
        running.notify(log.last_seq)  # told of it again before the checkpoint is written
        for _ in range(500):
            if running.written:
                break
            await asyncio.sleep(0.02)
        assert running.written == 1
        assert checkpoint.read(path, fresh(), log) == 60
        await asyncio.sleep(0.3)
        assert running.written == 1, "written again with nothing new to write"
    finally:
        await running.stop()


async def test_no_checkpoint_once_the_state_holds_other_nodes_events(
    log: DuckDBLog, tmp_path: Path
) -> None:
    await log.append(every_kind())
    state = fold(log)
    state.holds_remote = True
    path = tmp_path / "log-n1.checkpoint"
    running = RunningCheckpoints(path, state, log, every=1)
    await running.start()
    try:
        running.notify(log.last_seq)
        await asyncio.sleep(0.3)
        assert not path.exists() and running.written == 0
    finally:
        await running.stop()


async def test_it_starts_from_the_seq_of_the_checkpoint_a_start_would_use(
    log: DuckDBLog, tmp_path: Path
) -> None:
    """What a node killed now would fold (``sideline_state_checkpoint_seq``) is counted from
    the newest checkpoint a start would use, not from where this start stood."""
    await log.append(every_kind())
    path = tmp_path / "log-n1.checkpoint"
    checkpoint.write(path, fold(log), log)
    at = log.last_seq
    await log.append(every_kind(100, tag="z"))
    state = fold(log)
    assert checkpoint.usable_seq(path, state, log) == at

    running = RunningCheckpoints(path, state, log, every=10_000)
    await running.start()
    assert running.checkpoint_seq == at < state.last_seq
    await running.stop()

    # one a start would not use (other settings; another file; none) counts as none
    assert checkpoint.usable_seq(path, fold(log, message_index_size=10), log) == 0
    path.write_bytes(b"not a checkpoint")
    assert checkpoint.usable_seq(path, state, log) == 0
    path.unlink()
    running = RunningCheckpoints(path, state, log, every=10_000)
    await running.start()
    assert running.checkpoint_seq == 0
    await running.stop()
