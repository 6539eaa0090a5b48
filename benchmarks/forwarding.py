"""Forwarding throughput per sink, and the time to drain a large backlog, against plain usage
of each vendor library measured in the same run.

Setup (not timed): a log file with N events (default 1,000,000) built by inserting Arrow
tables of 100,000 rows straight into the ``events`` table (the writer's per-event path would
take minutes; the rows are the same shape: gap-free seq, UUIDv7 ids, payload JSON, 2,000
users in 50 rooms, 70 % messages, 20 % reactions, 10 % poll votes, all within the last hour).
The local collector (``tests/collector.py``) runs in its own process and validates every
request as in the tests.

Measured, each in a fresh child process (so peak RSS is per measurement):

- ``forwarder``: the Forwarder with one sink, from start until its cursor reaches the target
  (all N for the warehouse, ``--http-events`` for the HTTP sinks).
- baselines, sending the same properties and context as the sinks: Segment
  ``Client.track()`` per event then ``flush()`` (library defaults: a background thread,
  batches of 100); Mixpanel ``Mixpanel.track()`` per event with the library ``Consumer`` (one
  request each); GA4 one ``httpx`` POST per event; warehouse: one DuckDB ``COPY ... TO parquet`` of the whole
  log (a one-shot export, not incremental: the fastest thing DuckDB offers).
- ``collector_ceiling`` (Segment): the same valid full batch body (~475 KB, compact JSON as the
  sink sends it), encoded once, posted
  in a loop on four keep-alive connections: what the collector itself accepts per second
  with no sender-side work, the bound on any sender's figure on this machine.

Usage: ``python benchmarks/forwarding.py [--events N] [--http-events M] [--quick]
[--sinks segment,ga4]``.
Writes ``benchmarks/results/forwarding.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import httpx  # noqa: E402
import pyarrow as pa  # noqa: E402

from benchmarks._common import proc_peak_rss_mb, save, table  # noqa: E402
from service.domain.events import uuid7  # noqa: E402
from service.eventlog.codec import ARROW_SCHEMA, SELECT_COLUMNS, from_row  # noqa: E402
from service.eventlog.duckdb_log import DuckDBLog  # noqa: E402
from service.sinks.privacy import PropertyPolicy  # noqa: E402

ENV = {"SEGMENT_WRITE_KEY": "test-write-key", "MIXPANEL_TOKEN": "test-token",
       "MIXPANEL_API_SECRET": "test-secret", "GA4_API_SECRET": "test-ga4-secret"}  # fmt: skip


# -- setup ------------------------------------------------------------------------------------


def build_backlog(path: Path, n: int) -> float:
    """Create the log with ``n`` events by Arrow inserts; returns the seconds it took."""
    started = time.perf_counter()

    async def init() -> None:
        log = DuckDBLog(path, node_id="bench")
        await log.start()
        await log.close()

    asyncio.run(init())
    con = duckdb.connect(str(path))
    epoch = con.execute("SELECT value FROM log_meta WHERE key = 'epoch'").fetchall()[0][0]
    t0 = datetime.now(UTC) - timedelta(hours=1)
    step = timedelta(hours=1) / n
    kinds = ["community_message_sent"] * 7 + ["reaction_added"] * 2 + ["poll_voted"]
    for start in range(0, n, 100_000):
        rows = range(start, min(n, start + 100_000))
        at = [t0 + step * i for i in rows]
        types = [kinds[i % 10] for i in rows]
        payloads = [
            f'{{"text":"what a goal {i}","client_msg_id":"c{i}","visibility":"public",'
            f'"masked":false,"reply_to":null,"role":"user"}}' if t == "community_message_sent"
            else '{"emoji":"⚽"}' if t == "reaction_added" else f'{{"poll_id":"p{i % 50}","option":{i % 3}}}'
            for i, t in zip(rows, types, strict=True)
        ]  # fmt: skip
        k = len(rows)
        cols = {
            "seq": [i + 1 for i in rows], "event_id": [uuid7(a) for a in at], "epoch": [epoch] * k,
            "node_id": ["bench"] * k, "schema_version": [1] * k, "event_type": types,
            "occurred_at": at, "user_id": [f"u{i % 2000}" for i in rows],
            "room_id": [f"match:{i % 50}" for i in rows], "context_id": [f"match:{i % 50}" for i in rows],
            "actor_id": [None] * k, "message_id": [f"m{i}" for i in rows], "device": ["ios"] * k,
            "language": ["en"] * k, "message_type": ["text"] * k, "app_version": ["4.2.0"] * k,
            "session_id": [f"s{i % 5000}" for i in rows], "payload": payloads,
        }  # fmt: skip
        batch = pa.table(
            {f.name: pa.array(cols[f.name], f.type) for f in ARROW_SCHEMA}, schema=ARROW_SCHEMA
        )
        con.from_arrow(batch).insert_into("events")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - started


def start_collector(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = tmp / "collector.port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.collector", "--port-file", str(port_file)],
                            cwd=ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("collector did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text()}"


# -- measurements (each runs in a child process) ----------------------------------------------


def sink_config(kind: str, url: str) -> dict[str, Any]:
    """Default sink settings, except no linger (a backlog never waits for more events)."""
    common = {"name": kind, "linger_seconds": 0.0}
    return {
        "segment": {**common, "host": url},
        "mixpanel": {**common, "base_url": url},
        "ga4": {**common, "base_url": url, "measurement_id": "G-TEST"},
        "warehouse": common,
    }[kind]  # fmt: skip


def run_forwarder(data: str, log_path: str, kind: str, url: str, target: int) -> dict[str, Any]:
    from service.settings import load_settings
    from service.sinks.factory import build_forwarder

    async def main() -> dict[str, Any]:
        # Only the measured sink (the default warehouse export would otherwise run beside it).
        sinks = {"warehouse": [], kind: [sink_config(kind, url)], "stop_timeout_seconds": 0.1}
        settings = load_settings(environ={}, data_dir=data, node_id="bench", log={"path": log_path},
                                 sinks=sinks)  # fmt: skip
        log = DuckDBLog(Path(log_path), node_id="bench")
        await log.start()
        forwarder = build_forwarder(settings, log, environ=ENV)
        started = time.perf_counter()
        await forwarder.start()
        while (status := forwarder.status()[0]).cursor < target:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await forwarder.stop()
        await log.close()
        return {"events": status.cursor, "seconds": elapsed, "dead_letters": status.dead_letters}

    return asyncio.run(main())


def _events(log_path: str, k: int) -> list[Any]:
    con = duckdb.connect(log_path, read_only=True)
    rows = con.execute(f"SELECT {SELECT_COLUMNS} FROM events ORDER BY seq LIMIT ?", [k]).fetchall()
    con.close()
    return [from_row(r) for r in rows]


def baseline_segment(log_path: str, url: str, k: int) -> dict[str, Any]:
    from segment.analytics import Client

    from service.sinks.segment import context_of, spec_name

    events = _events(log_path, k)
    policy = PropertyPolicy(include_text=False)
    client = Client("test-write-key", host=url, max_queue_size=k + 10)
    started = time.perf_counter()
    for e in events:
        client.track(user_id=e.user_id, event=spec_name(e.event_type), properties=policy.properties(e),
                     context=context_of(e), timestamp=e.occurred_at, message_id=e.event_id)  # fmt: skip
    client.flush()
    return {"events": k, "seconds": time.perf_counter() - started}


def baseline_mixpanel(log_path: str, url: str, k: int) -> dict[str, Any]:
    from mixpanel import Consumer, Mixpanel

    events = _events(log_path, k)
    policy = PropertyPolicy(include_text=False)
    mp_ = Mixpanel(
        "test-token", consumer=Consumer(events_url=f"{url}/track", import_url=f"{url}/import")
    )
    started = time.perf_counter()
    for e in events:
        mp_.track(e.user_id, e.event_type.value, policy.properties(e))
    return {"events": k, "seconds": time.perf_counter() - started}


def baseline_ga4(log_path: str, url: str, k: int) -> dict[str, Any]:
    from service.sinks.ga4_mapping import client_id, map_event

    events = _events(log_path, k)
    policy = PropertyPolicy(include_text=False)
    params = {"measurement_id": "G-TEST", "api_secret": "test-ga4-secret"}
    now, max_age = datetime.now(UTC), timedelta(hours=71)
    started = time.perf_counter()
    with httpx.Client(base_url=url) as client:
        for e in events:
            mapped = map_event(e, policy, now=now, max_age=max_age).event
            body = {
                "client_id": client_id(e.user_id, "s"),
                "user_id": e.user_id,
                "events": [mapped],
            }
            client.post("/mp/collect", params=params, json=body).raise_for_status()
    return {"events": k, "seconds": time.perf_counter() - started}


def baseline_warehouse(log_path: str, out: str, k: int) -> dict[str, Any]:
    con = duckdb.connect(log_path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    started = time.perf_counter()
    con.execute(f"COPY (SELECT * FROM events) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    elapsed = time.perf_counter() - started
    con.close()
    return {"events": k, "seconds": elapsed}


def collector_ceiling(log_path: str, url: str, seconds: float) -> dict[str, Any]:
    """What the collector itself can take: one valid Segment batch body (the first events
    that fit one request, encoded once up front) posted over and over on four keep-alive
    connections for ``seconds``. No mapping, no encoding: the most any sender can get through."""
    import base64
    import http.client
    import threading
    from urllib.parse import urlsplit

    from segment.analytics.consumer import BATCH_SIZE_LIMIT

    from service.sinks.batch import Batch
    from service.sinks.segment import SegmentSink
    from service.sinks.settings import SegmentSinkSettings

    con = duckdb.connect(log_path, read_only=True)
    table = con.sql(f"SELECT {SELECT_COLUMNS} FROM events ORDER BY seq LIMIT {_CEILING_EVENTS}")
    batch = Batch(table.to_arrow_table().cast(ARROW_SCHEMA))
    con.close()
    sink = SegmentSink(SegmentSinkSettings(name="ceiling", host=url), write_key=ENV["SEGMENT_WRITE_KEY"])
    messages, size = [], 0
    for _, _, msg, msg_size in sink.messages(batch):  # one request's worth, as the sink cuts it
        if isinstance(msg, dict) and size + msg_size <= BATCH_SIZE_LIMIT:
            messages.append(msg)
            size += msg_size
    body = json.dumps({"batch": messages, "sentAt": datetime.now(UTC).isoformat(),
                       "writeKey": ENV["SEGMENT_WRITE_KEY"]}, separators=(",", ":")).encode()  # as sent
    auth = base64.b64encode(f"{ENV['SEGMENT_WRITE_KEY']}:".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {auth}"}
    where = urlsplit(url)
    sent = [0] * 4
    deadline = time.perf_counter() + seconds

    def post_loop(i: int) -> None:
        conn = http.client.HTTPConnection(where.hostname, where.port)
        while time.perf_counter() < deadline:
            conn.request("POST", "/v1/batch", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"collector answered {response.status}")
            sent[i] += len(messages)
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=post_loop, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"events": sum(sent), "seconds": time.perf_counter() - started}


_CEILING_EVENTS = 2500
"""Segment's per-request event limit; the body keeps those that fit in 500 KB."""


def _child(queue: Any, fn: Any, args: tuple[Any, ...]) -> None:
    result = fn(*args)
    # VmHWM of this process's own memory; getrusage's ru_maxrss keeps the parent's across exec.
    result["peak_rss_mb"] = proc_peak_rss_mb(os.getpid())
    queue.put(result)


def in_child(fn: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--http-events", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="100k backlog, 20k per HTTP sink")
    parser.add_argument("--sinks", default="warehouse,segment,mixpanel,ga4",
                        help="which sinks to measure, comma-separated (default: all four)")
    args = parser.parse_args()
    kinds = [k for k in ("warehouse", "segment", "mixpanel", "ga4") if k in args.sinks.split(",")]
    n, http_n = (100_000, 20_000) if args.quick else (args.events, args.http_events)
    base_k = {"segment": min(http_n, 50_000), "mixpanel": 2_000, "ga4": 2_000, "warehouse": n}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        log_path = tmp / "log-bench.duckdb"
        setup_s = build_backlog(log_path, n)
        print(f"backlog of {n:,} events built in {setup_s:.1f} s (Arrow inserts)", flush=True)
        collector, url = start_collector(tmp)
        results: dict[str, Any] = {"events": n, "http_events": http_n, "setup_seconds": setup_s}
        rows = []
        try:
            for kind in kinds:
                target = n if kind == "warehouse" else http_n
                ours = in_child(
                    run_forwarder, str(tmp / f"data-{kind}"), str(log_path), kind, url, target
                )
                base_fn = {"segment": baseline_segment, "mixpanel": baseline_mixpanel,
                           "ga4": baseline_ga4, "warehouse": baseline_warehouse}[kind]  # fmt: skip
                extra = str(tmp / "copy.parquet") if kind == "warehouse" else url
                base = in_child(base_fn, str(log_path), extra, base_k[kind])
                ours["events_per_s"] = ours["events"] / ours["seconds"]
                base["events_per_s"] = base["events"] / base["seconds"]
                results[kind] = {"forwarder": ours, "baseline": base}
                rows.append([kind, ours["events"], ours["seconds"], ours["events_per_s"],
                             base["events_per_s"], round(ours["events_per_s"] / base["events_per_s"], 2),
                             ours["peak_rss_mb"], base["peak_rss_mb"]])  # fmt: skip
                print(f"{kind}: {ours['events_per_s']:,.0f} ev/s vs baseline {base['events_per_s']:,.0f}",
                      flush=True)  # fmt: skip
                if kind == "segment":
                    ceiling = in_child(collector_ceiling, str(log_path), url, 8.0)
                    ceiling["events_per_s"] = ceiling["events"] / ceiling["seconds"]
                    results["segment"]["collector_ceiling"] = ceiling
                    print(f"segment: the collector's own ceiling {ceiling['events_per_s']:,.0f} ev/s "
                          f"(pre-encoded batches, 4 connections)", flush=True)  # fmt: skip
            stats = httpx.get(f"{url}/_stats").json()
        finally:
            collector.terminate()
            collector.wait()
    results["collector"] = {k: stats[k] for k in ("events", "requests", "invalid_count", "invalid")}
    print()
    print(table(["sink", "events", "seconds", "events/s", "baseline ev/s", "ratio",
                 "peak RSS MB", "baseline RSS MB"], rows))  # fmt: skip
    print(
        f"\ncollector: {json.dumps({k: v for k, v in results['collector'].items() if k != 'invalid'})}"
    )
    name = "forwarding" if len(kinds) == 4 else "forwarding-" + "-".join(kinds)  # a part: aside
    print(f"saved {save(name, results)}")


if __name__ == "__main__":
    main()
