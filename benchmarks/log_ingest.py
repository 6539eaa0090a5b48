"""Durable events/s through the group-commit writer, against one commit per event.

Part 1 (in-process): N concurrent senders (1, 10, 100, 1,000) each append one event at a time
and await its commit, through ``DuckDBLog`` as the service uses it. The baseline is the same
writer with ``batch_max=1``: one transaction per event, the naive log. Both run in this one
process, one after the other, on fresh files. Reported: events/s, ratio to the baseline,
p50/p99 commit wait, batches.

Part 2 (HTTP): a real ``sideline serve`` process, and a load generator in a separate process
(a minimal keep-alive HTTP/1.1 client on raw sockets, so the client is not the bottleneck)
sending messages from C concurrent users: requests/s and p50/p99 latency, server CPU, server
peak RSS.

Usage: ``python benchmarks/log_ingest.py [--quick]``. Writes benchmarks/results/log_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    peak_rss_mb,
    percentile,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    save,
    table,
)  # fmt: skip
from service.domain.events import EventType, Metadata, new_event
from service.eventlog.duckdb_log import DuckDBLog


async def writer_run(path: Path, senders: int, total: int, batch_max: int) -> dict[str, float]:
    log = DuckDBLog(path, node_id="bench", batch_max=batch_max)
    await log.start()
    per_sender = max(1, total // senders)
    waits: list[float] = []
    meta = Metadata(device="web", language="en", message_type="text", app_version="1.0")

    async def sender(n: int) -> None:
        for i in range(per_sender):
            event = new_event(
                EventType.MESSAGE_SENT, user_id=f"u{n}", room_id="match:1", message_id=f"{n}-{i}",
                metadata=meta, payload={"text": "what a strike from outside the box!",
                                        "client_msg_id": f"{n}-{i}", "visibility": "public"},
            )  # fmt: skip
            t = time.perf_counter()
            await log.append([event])
            waits.append(time.perf_counter() - t)

    started = time.perf_counter()
    await asyncio.gather(*(sender(n) for n in range(senders)))
    elapsed = time.perf_counter() - started
    batches = log.stats.batches
    await log.close()
    events = per_sender * senders
    return {
        "events": events, "seconds": elapsed, "events_per_s": events / elapsed,
        "p50_ms": percentile(waits, 0.5) * 1000, "p99_ms": percentile(waits, 0.99) * 1000,
        "batches": batches,
    }  # fmt: skip


def writer_table(quick: bool) -> list[dict[str, float]]:
    import uvloop

    rows = []
    for senders in (1, 10, 100, 1000):
        grouped_total = 5_000 if quick else max(20_000, senders * 40)
        baseline_total = 1_000 if quick else 3_000
        with tempfile.TemporaryDirectory() as d:
            grouped = uvloop.run(writer_run(Path(d) / "g.duckdb", senders, grouped_total, 2000))
            baseline = uvloop.run(writer_run(Path(d) / "b.duckdb", senders, baseline_total, 1))
        rows.append({"senders": senders, "grouped": grouped, "baseline": baseline,
                     "ratio": grouped["events_per_s"] / baseline["events_per_s"]})  # fmt: skip
        print(f"  {senders} senders: {grouped['events_per_s']:,.0f} ev/s vs {baseline['events_per_s']:,.0f}", flush=True)
    return rows


# -- HTTP -------------------------------------------------------------------------------------


async def _http_user(port: int, token: str, n: int, duration: float, lat: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /v1/rooms/match:1/messages HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\n")  # fmt: skip
    done, i = 0, 0
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        body = f'{{"client_msg_id":"{n}-{i}","text":"what a strike from outside the box! #{i}"}}'.encode()
        i += 1
        t = time.perf_counter()
        writer.write(head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        lat.append(time.perf_counter() - t)
        if status.split()[1] == b"201":
            done += 1
    writer.close()
    return done


def _load_process(port: int, tokens: list[str], offset: int, duration: float, queue: mp.Queue) -> None:
    async def main() -> tuple[int, list[float]]:
        lat: list[float] = []
        counts = await asyncio.gather(*(_http_user(port, t, offset + k, duration, lat) for k, t in enumerate(tokens)))
        return sum(counts), lat

    queue.put(asyncio.run(main()))


def http_run(concurrency: int, duration: float) -> dict[str, float]:
    from tests.conftest import SERVER_ENV
    from tests.fixtures.server import ServerProcess

    with tempfile.TemporaryDirectory() as d:
        # moderation runs; crowd control and per-user rate limits would refuse a load generator
        env = {**SERVER_ENV, "SIDELINE_CROWD_CONTROL__ENABLED": "false", "SIDELINE_MODERATION__RATE__BURST_MAX": "1000000", "SIDELINE_MODERATION__RATE__RATE_MAX": "1000000"}
        node = ServerProcess(Path(d) / "data", env=env).start()
        try:
            pid = node.proc.pid  # type: ignore[union-attr]
            tokens = [node.token(f"u{i}", "match:1") for i in range(concurrency)]
            procs, queue = [], mp.Queue()
            halves = [tokens[: len(tokens) // 2], tokens[len(tokens) // 2 :]] if concurrency > 1 else [tokens]
            cpu0 = proc_cpu_seconds(pid)
            t0 = time.perf_counter()
            for k, part in enumerate(halves):
                p = mp.Process(target=_load_process, args=(node.port, part, k * 10_000, duration, queue))
                p.start()
                procs.append(p)
            results = [queue.get() for _ in procs]
            elapsed = time.perf_counter() - t0
            for p in procs:
                p.join()
            cpu = proc_cpu_seconds(pid) - cpu0
            rss = proc_peak_rss_mb(pid)
        finally:
            node.stop()
    ok = sum(r[0] for r in results)
    lat = [x for r in results for x in r[1]]
    return {"concurrency": concurrency, "requests_per_s": ok / elapsed, "p50_ms": percentile(lat, 0.5) * 1000,
            "p99_ms": percentile(lat, 0.99) * 1000, "server_cpu_s_per_s": cpu / elapsed,
            "server_peak_rss_mb": rss}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    args = parser.parse_args()
    print("writer: durable events/s by concurrent senders", flush=True)
    writer = writer_table(args.quick)
    writer_rss = peak_rss_mb()
    print("http: POST /v1/rooms/{room}/messages from a separate load process", flush=True)
    http = [http_run(c, 3 if args.quick else 8) for c in (10, 100)]
    print()
    print(table(
        ["senders", "grouped ev/s", "p50 wait ms", "p99 wait ms", "batches", "1 commit/event ev/s", "ratio"],
        [[r["senders"], r["grouped"]["events_per_s"], r["grouped"]["p50_ms"], r["grouped"]["p99_ms"],
          r["grouped"]["batches"], r["baseline"]["events_per_s"], f"{r['ratio']:.1f}x"] for r in writer],
    ))  # fmt: skip
    print(f"writer benchmark peak RSS: {writer_rss:.0f} MiB")
    print()
    print(table(
        ["HTTP clients", "sends/s", "p50 ms", "p99 ms", "server CPU (cores)", "server peak RSS MiB"],
        [[h["concurrency"], h["requests_per_s"], h["p50_ms"], h["p99_ms"], h["server_cpu_s_per_s"],
          h["server_peak_rss_mb"]] for h in http],
    ))  # fmt: skip
    path = save("log_ingest", {"writer": writer, "writer_peak_rss_mb": writer_rss, "http": http})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
