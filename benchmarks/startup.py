"""Start-up: the state rebuilt from a state checkpoint against a fold of the whole log.

    .venv/bin/python benchmarks/startup.py [--events 1000000] [--rooms 5000] [--tail 0.1]

A node rebuilds its state (rooms, roles, restrictions, the message index, recent history ...)
before it serves. Builds (once, cached under benchmarks/.cache/, ignored by git) a log of
``--events`` events written through the real group-commit writer, in ``--rooms`` rooms, each
live for a while as a match's chat is: 55% messages, 25% reactions, 12% joins and leaves, 3%
poll votes, and reports, deletes, mutes, bans, role grants and mode changes. Then measures,
each in a fresh process (a start's heap and peak RSS), with the default settings:

- ``whole log`` (the baseline): the fold of every event, what a start without a checkpoint does;
- ``checkpoint``: a start from the checkpoint a clean stop wrote at the last seq;
- ``checkpoint + tail``: a start from a checkpoint ``--tail`` of the log behind (a node killed
  after its last clean stop), folding the events after it; and the same start as the service
  makes it, which writes a checkpoint before serving when it folded 100,000 events or more;
- ``write``: what the clean stop spends writing the checkpoint, and its size.

Every start goes through ``service.eventlog.checkpoint.rebuild``, the call the service's start
makes; each restored state is checked equal to the fold of the whole log. Prints a table and
writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import cached_log, peak_rss_mb, save, table
from service.domain.events import EventType, Metadata, new_event
from service.eventlog import checkpoint
from service.eventlog.duckdb_log import DuckDBLog

CACHE = Path(__file__).resolve().parent / ".cache" / "startup"


def events_for(i: int, n_events: int, n_rooms: int, meta: Metadata) -> Any:
    """Event ``i`` of the log: its room is one of ~50 live at once (as in history_reads.py)."""
    chunk = max(1, n_events // n_rooms)
    room = f"match:{(i // chunk + (i * 7919) % 50) % n_rooms}"
    user = f"u{(i * 31) % 20011}"
    k = i % 100
    E = EventType
    if k < 55:
        return new_event(E.MESSAGE_SENT, user_id=user, room_id=room, message_id=f"m{i}", metadata=meta,
                         payload={"text": f"what a move that was, number {i}", "visibility": "public",
                                  "client_msg_id": f"c{i}", "role": "user"})  # fmt: skip
    target = f"m{i - i % 100 + (k % 50)}"  # a message of the same hundred, in the same room window
    if k < 80:
        return new_event(E.REACTION_ADDED, user_id=user, room_id=room, message_id=target,
                         metadata=meta, payload={"emoji": ("🔥", "⚽", "👏")[k % 3]})  # fmt: skip
    if k < 86:
        return new_event(E.ROOM_JOINED, user_id=user, room_id=room, metadata=meta)
    if k < 92:
        return new_event(E.ROOM_LEFT, user_id=f"u{((i - 6) * 31) % 20011}", room_id=room, metadata=meta)
    if k < 95:
        return new_event(E.POLL_VOTED, user_id=user, room_id=room, metadata=meta,
                         payload={"poll_id": f"p{i // 1000}", "option": k % 2})  # fmt: skip
    if k == 95:
        return new_event(E.POLL_CREATED, user_id="mod", room_id=room, metadata=meta,
                         payload={"poll_id": f"p{i // 1000 + 1}", "question": "who wins?",
                                  "options": ["home", "away"]})  # fmt: skip
    if k == 96:
        return new_event(E.MESSAGE_REPORTED, user_id=user, room_id=room, message_id=target,
                         metadata=meta, payload={"reason": "spam"})  # fmt: skip
    if k == 97:
        return new_event(E.MESSAGE_DELETED, user_id="mod", room_id=room, message_id=target, metadata=meta)
    if k == 98:
        kind = E.USER_MUTED if i % 3 else E.USER_BANNED
        return new_event(kind, user_id=user, room_id=room, metadata=meta, payload={"reason": "calm"})
    return new_event(E.ROLE_GRANTED if i % 2 else E.ROOM_MODE_CHANGED, user_id=user, room_id=room,
                     metadata=meta, payload={"role": "speaker", "mode": "open", "slow_mode_seconds": 0,
                                             "max_message_length": 500, "cause": "admin"})  # fmt: skip


async def build(path: Path, n_events: int, n_rooms: int) -> None:
    log = DuckDBLog(path, node_id="bench", batch_max=2000)
    await log.start()
    meta = Metadata(device="ios", language="en", app_version="5.2", session_id="s1")
    for start in range(0, n_events, 2000):
        await log.append([events_for(i, n_events, n_rooms, meta) for i in range(start, min(start + 2000, n_events))])
    await log.close()


class At:
    """The log as it stood at ``seq`` (for a checkpoint taken behind its end)."""

    def __init__(self, log: DuckDBLog, seq: int) -> None:
        self.node_id, self.epoch, self.schema_version = log.node_id, log.epoch, log.schema_version
        self.last_seq, self.last_event_id = seq, log.event_id_at(seq) or ""


def state() -> Any:
    from service.app import build_community
    from service.settings import Settings

    return build_community(Settings(node_id="bench")).state


async def child(mode: str, log_path: Path, ckpt: Path, seq: int) -> dict[str, Any]:
    """One start (or one write) in this process."""
    log = DuckDBLog(log_path, node_id="bench")
    await log.start()
    try:
        s = state()
        if mode == "write":  # a state folded up to seq, written as the clean stop writes it
            s.apply_all(log.replay() if seq == log.last_seq else _upto(log, seq))
            started = time.perf_counter()
            said = checkpoint.write(ckpt, s, At(log, seq))
            return {"seconds": time.perf_counter() - started, "said": said, "bytes": ckpt.stat().st_size}
        if mode == "running":
            s.apply_all(log.replay())
            return await running_writes(s, log, ckpt)
        started = time.perf_counter()
        write_after = checkpoint.WRITE_AT_START_AFTER if mode == "checkpoint+write" else log.last_seq + 1
        how = checkpoint.rebuild(s, log, None if mode == "whole" else ckpt, write_after=write_after)
        seconds = time.perf_counter() - started
        rss = peak_rss_mb()
        out: dict[str, Any] = {"seconds": seconds, "how": how, "peak_rss_mb": rss}
        if mode != "whole":  # checked after the timing: equal to a fold of the whole log
            whole = state()
            whole.apply_all(log.replay())
            out["equal"] = whole.snapshot() == s.snapshot() and all(
                getattr(whole, k) == getattr(s, k) for k in checkpoint.CARRIED
            )
        return out
    finally:
        await log.close()


async def running_writes(s: Any, log: DuckDBLog, ckpt: Path) -> dict[str, Any]:
    """A checkpoint written while the service runs: on a thread of the service, as the clean
    stop writes it (the baseline), and by a forked child (``RunningCheckpoints``). A ticker on
    the event loop, waking every millisecond, measures how long the loop was held at most."""
    from service.eventlog.running_checkpoints import RunningCheckpoints

    stalls: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last)
            last = now

    async def timed(write: Any) -> dict[str, Any]:
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        stalls.clear()
        started = time.perf_counter()
        said = await write()
        seconds = time.perf_counter() - started
        tick.cancel()
        return {"seconds": seconds, "loop_held_max_ms": max(stalls) * 1000, "said": said}

    loop = asyncio.get_running_loop()
    thread = await timed(lambda: loop.run_in_executor(None, checkpoint.write, ckpt, s, log))
    forked = await timed(RunningCheckpoints(ckpt, s, log, every=1).write_now)
    return {"thread": thread, "fork": forked}


def _upto(log: DuckDBLog, seq: int) -> Any:
    for e in log.replay():
        if e.seq > seq:
            return
        yield e


def run_child(mode: str, log_path: Path, ckpt: Path, seq: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(log_path), str(ckpt), str(seq)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=5_000)
    parser.add_argument("--tail", type=float, default=0.1)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, log_path, ckpt, seq = args.child
        print(json.dumps(asyncio.run(child(mode, Path(log_path), Path(ckpt), int(seq)))))
        return
    path = CACHE / f"log-{args.events}-{args.rooms}.duckdb"
    cached_log(path, lambda at: build(at, args.events, args.rooms), f"{args.events:,} events")
    work = CACHE / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log_path = work / "log-bench.duckdb"
    shutil.copy(path, log_path)
    ckpt = checkpoint.path_for(log_path)
    behind = int(args.events * (1 - args.tail))

    whole = run_child("whole", log_path, ckpt, args.events)
    wrote = run_child("write", log_path, ckpt, args.events)
    at_end = run_child("checkpoint", log_path, ckpt, args.events)
    wrote_behind = run_child("write", log_path, ckpt, behind)
    tail = run_child("checkpoint", log_path, ckpt, behind)
    tail_written = run_child("checkpoint+write", log_path, ckpt, behind)
    running = run_child("running", log_path, ckpt, args.events)
    shutil.rmtree(work)
    for r in (at_end, tail, tail_written):
        assert r["equal"], "a start from the checkpoint differs from the fold of the whole log"

    print(f"\n{args.events:,} events in {args.rooms:,} rooms; state rebuilt with the default settings\n")
    base = whole["seconds"]
    print(table(
        ["start", "seconds", "vs whole log", "peak RSS MiB"],
        [["whole log (baseline)", base, 1.0, whole["peak_rss_mb"]],
         ["checkpoint at the last seq", at_end["seconds"], base / at_end["seconds"], at_end["peak_rss_mb"]],
         [f"checkpoint {args.tail:.0%} behind + its tail", tail["seconds"], base / tail["seconds"],
          tail["peak_rss_mb"]],
         [f"the same, then a checkpoint written (>= {checkpoint.WRITE_AT_START_AFTER:,} events folded)",
          tail_written["seconds"], base / tail_written["seconds"], tail_written["peak_rss_mb"]]],
    ))  # fmt: skip
    print(f"\nclean stop: checkpoint of {wrote['bytes'] / 1e6:.1f} MB written in {wrote['seconds']:.2f} s")
    thread, fork = running["thread"], running["fork"]
    print(f"while running: on a thread of the service {thread['seconds']:.2f} s, the event loop held "
          f"up to {thread['loop_held_max_ms']:.0f} ms (baseline); by a forked child "
          f"{fork['seconds']:.2f} s, the loop held up to {fork['loop_held_max_ms']:.0f} ms "
          f"({thread['loop_held_max_ms'] / fork['loop_held_max_ms']:.0f}x less)\n  {fork['said']}")
    saved = save("startup", {
        "events": args.events, "rooms": args.rooms, "tail": args.tail,
        "whole": whole, "checkpoint": at_end, "checkpoint_tail": tail,
        "checkpoint_tail_written": tail_written, "write": wrote,
        "write_behind": wrote_behind, "running": running,
        "ratio": base / at_end["seconds"], "ratio_tail": base / tail["seconds"],
    })  # fmt: skip
    print(f"wrote {saved}")


if __name__ == "__main__":
    main()
