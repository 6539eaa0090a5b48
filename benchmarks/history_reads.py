"""History of rooms memory no longer holds: what a join costs when it reads the log.

    .venv/bin/python benchmarks/history_reads.py [--events 1000000] [--rooms 5000] [--crowd 1000]
        [--layout live|uniform]

A room let go of for ``memory.history_messages`` (or a page older than a room's window) is
read from the log shard: its newest messages, then their deletes, reports and decisions.
Builds (once, cached under benchmarks/.cache/, ignored by git) a log of ``--events`` events,
two thirds messages and one third reactions, over ``--rooms`` rooms (``live``: each room's
events fall while it is live, about 50 rooms at once, as a match's chat does, and room ids
sort by when the room is live; ``live-hashed``: the same with ids that do not, as a host's
uuids; ``uniform``: every room interleaved all along, the worst case for a read, as every
row group then holds every room), written through
the real group-commit writer; then measures, in one run:

- ``cold``: one page of 51 messages (a join's 50, plus one to know if more is older) read
  from the log, for 40 rooms in turn: the time each join of such a room would wait;
- ``crowd, each``: ``--crowd`` joins of one such room at once, each reading the log itself
  (the baseline: what every join paid before pages were shared);
- ``crowd, LogPages``: the same crowd through :class:`service.eventlog.pages.LogPages`, which
  reads the page once for every reader waiting on it.

Prints a table (wall time, log reads, the ratio against the baseline) and peak RSS, and
writes ``benchmarks/results/history_reads.json`` (``history_reads-<layout>.json`` for the
other layouts).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import cached_log, peak_rss_mb, percentile, save, table
from service.domain.events import EventType, Metadata, new_event
from service.eventlog.duckdb_log import DuckDBLog
from service.eventlog.pages import LogPages

CACHE = Path(__file__).resolve().parent / ".cache" / "history_reads"
PAGE = 51


def room_of(i: int, n_events: int, n_rooms: int, layout: str) -> str:
    """The room of event ``i``: ``live``, each room gets its events while it is live, a
    window of 1/100 of the log among ~50 rooms live at once (a match's chat); ``uniform``,
    every room all along, interleaved (the worst case for reading a room's newest page);
    ``live-hashed``, as ``live`` with ids that do not sort by when their room is live."""
    if layout == "uniform":
        return room_name(i % n_rooms, layout)
    chunk = max(1, n_events // n_rooms)
    return room_name((i // chunk + (i * 7919) % 50) % n_rooms, layout)


def room_name(n: int, layout: str) -> str:
    if layout == "live-hashed":  # ids that do not sort by when the room is live (a host's uuids)
        return f"match:{(n * 2654435761) % 2**32:08x}"
    return f"match:{n}"


async def build(path: Path, n_events: int, n_rooms: int, layout: str) -> None:
    """A log of ``n_events``: messages, and a reaction after every second message."""
    log = DuckDBLog(path, node_id="bench", batch_max=2000)
    await log.start()
    meta = Metadata(device="ios", language="en", app_version="5.2", session_id="s1")
    written, chunk = 0, 2000
    while written < n_events:
        events = []
        for i in range(written, min(written + chunk, n_events)):
            room = room_of(i - i % 3, n_events, n_rooms, layout)  # a reaction is in its message's room
            if i % 3 == 2:
                events.append(new_event(
                    EventType.REACTION_ADDED, user_id=f"u{i % 9973}", room_id=room,
                    message_id=f"m{i - 1}", metadata=meta, payload={"emoji": "🔥"},
                ))  # fmt: skip
            else:
                events.append(new_event(
                    EventType.MESSAGE_SENT, user_id=f"u{i % 9973}", room_id=room, message_id=f"m{i}",
                    metadata=meta, payload={"text": f"what a move that was, number {i}",
                                            "visibility": "public", "client_msg_id": f"c{i}"},
                ))  # fmt: skip
        await log.append(events)
        written += len(events)
    await log.close()


async def page_of(log: DuckDBLog, room: str) -> Any:
    batch = await log.read_messages_before(room, log.last_seq + 1, PAGE)
    return batch, await log.read_message_changes(room, [e.message_id or "" for e in batch])


async def measure(path: Path, n_rooms: int, crowd: int, layout: str) -> dict[str, Any]:
    log = DuckDBLog(path, node_id="bench")
    await log.start()
    reads = 0
    read_messages_before = log.read_messages_before

    async def counted(*args: Any, **kw: Any) -> Any:
        nonlocal reads
        reads += 1
        return await read_messages_before(*args, **kw)

    log.read_messages_before = counted  # type: ignore[method-assign]
    cold = []
    for k in range(40):
        t = time.perf_counter()
        batch, _ = await page_of(log, room_name(k * 97 % n_rooms, layout))
        cold.append((time.perf_counter() - t) * 1000)
        assert len(batch) == PAGE, len(batch)

    room = room_name(n_rooms - 1, layout)
    reads = 0
    t = time.perf_counter()
    await asyncio.gather(*(page_of(log, room) for _ in range(crowd)))
    each = {"seconds": time.perf_counter() - t, "reads": reads}

    pages = LogPages()
    reads = 0
    t = time.perf_counter()
    got = await asyncio.gather(*(
        pages.read(log, room, log.last_seq + 1, PAGE, newest=True) for _ in range(crowd)
    ))  # fmt: skip
    shared = {"seconds": time.perf_counter() - t, "reads": reads}
    assert all(len(g[0]) == PAGE for g in got)
    await log.close()
    return {
        "cold_ms": _spread(cold), "crowd_each": each, "crowd_shared": shared,
    }


def _spread(ms: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(ms), "p90": percentile(ms, 0.9), "max": max(ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=5_000)
    parser.add_argument("--crowd", type=int, default=1_000)
    parser.add_argument("--layout", choices=("live", "live-hashed", "uniform"), default="live")
    args = parser.parse_args()
    path = CACHE / f"log-{args.events}-{args.rooms}-{args.layout}.duckdb"
    cached_log(path, lambda at: build(at, args.events, args.rooms, args.layout), f"{args.events:,} events")
    r = asyncio.run(measure(path, args.rooms, args.crowd, args.layout))
    each, shared = r["crowd_each"], r["crowd_shared"]
    print(f"\n{args.events:,} events in {args.rooms:,} rooms ({args.layout}); a page of {PAGE} "
          "messages from the log\n")
    cold = r["cold_ms"]
    print(table(["read", "p50 ms", "p90 ms", "max ms"],
                [["cold page, one join", cold["p50"], cold["p90"], cold["max"]]]))  # fmt: skip
    print()
    print(table(
        [f"{args.crowd:,} joins of one room at once", "wall s", "log reads", "vs each"],
        [["each reads the log (baseline)", each["seconds"], each["reads"], 1.0],
         ["LogPages", shared["seconds"], shared["reads"], each["seconds"] / shared["seconds"]]],
    ))  # fmt: skip
    rss = peak_rss_mb()
    print(f"\npeak RSS {rss:,.0f} MiB")
    name = "history_reads" if args.layout == "live" else f"history_reads-{args.layout}"
    saved = save(name, {
        "events": args.events, "rooms": args.rooms, "layout": args.layout, "crowd": args.crowd, **r,
        "ratio": each["seconds"] / shared["seconds"], "peak_rss_mb": rss,
    })  # fmt: skip
    print(f"wrote {saved}")


if __name__ == "__main__":
    main()
