"""Fan-out: one room, 1,000 connected clients, Sideline against a bare broadcast server.

Servers: ``sideline serve`` (memory broker, moderation on, log on; the warehouse export and
the analytics scheduler off, see SIDELINE_ENV) and, as the
Python ceiling, benchmarks/bare_broadcast.py on the same uvicorn (no auth, no log, no
moderation); with redis-server installed, also two ``sideline serve`` nodes on one Redis
(clients split between them, the sender on node A, the probe on node B); and
``sideline-defaults``: one node with every background part on, as ``sideline serve`` starts.
Load: receivers in separate processes (benchmarks/_wsload.py: raw asyncio sockets that count
frames and bytes; one in ten reads the send timestamp for latency); a sender process at 20,
50 and 100 messages/s (open loop), then closed loop (a window of 16 messages in flight, each
freed when the last receiver to join has it) to saturation.
Each target runs ``--repeat`` times (3), interleaved with the others so that drifting load
on a shared machine hits all alike, and the table shows medians. ``--pin`` puts the servers
(and Redis) on CPU 0 and the load generator on the others. On a 2-core machine the two nodes
share the cores with the load generator, so the two-node run shows the cost of the Redis hop
more than extra capacity.
Reported per phase: deliveries/s (to the receivers only), delivered share, p50/p99
send-to-receive latency, server CPU (cores, from /proc of the server pid) and CPU per
delivery, load-generator CPU, server peak RSS; and the ratio of Sideline's saturated
deliveries/s to the ceiling's, measured in the same run.

Usage: ``python benchmarks/fanout.py [--clients 1000] [--seconds 10] [--repeat 3] [--quick] [--pin]``.
Writes benchmarks/results/fanout.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _wsload
from benchmarks._common import (
    peak_rss_mb,
    percentile,
    proc_cpu_seconds,
    proc_peak_rss_mb,
    save,
    table,
)  # fmt: skip

ROOM = "match:bench"
SIDELINE_ENV = {
    "SIDELINE_CROWD_CONTROL__ENABLED": "false",  # it would put the hot room in slow mode
    "SIDELINE_MODERATION__RATE__BURST_MAX": "1000000",  # ten senders post far above user limits
    "SIDELINE_MODERATION__RATE__RATE_MAX": "1000000",
    "SIDELINE_MODERATION__RATE__DUPLICATE_MAX": "1000000",  # texts differ only in numbers
    "SIDELINE_REALTIME__FRAMES_PER_SECOND": "100000",
    "SIDELINE_REALTIME__FRAME_BURST": "100000",
    "SIDELINE_AUTH__HS256_SECRET": "fanout-benchmark-secret-0123456789abcdef",
    "SIDELINE_ADMIN__API_KEY": "fanout-benchmark-admin",
    # Isolate fan-out: the warehouse export runs in the service process (it stalled the event
    # loop for 0.3-0.8 s when this benchmark was written) and the report jobs start a child
    # process on their schedule; "sideline-defaults" keeps both on. They have their own
    # benchmarks (forwarding.py, analytics.py, job_isolation.py).
    "SIDELINE_SINKS__ENABLED": "false",
    "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false",
}
DEFAULTS_ON = ("SIDELINE_SINKS__ENABLED", "SIDELINE_ANALYTICS__SCHEDULE_ENABLED")
SENDERS = 10


def _mint(user: str) -> str:
    from service.identity import mint_token

    return mint_token(SIDELINE_ENV["SIDELINE_AUTH__HS256_SECRET"], user_id=user, context_id=ROOM, ttl_seconds=3600)


def _bare(stack: ExitStack) -> tuple[list[int], list[int]]:
    from tests.fixtures.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("bare_broadcast.py")), str(port)])
    stack.callback(lambda: (proc.kill(), proc.wait()))
    import httpx

    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return [port], [proc.pid]


def _sideline(stack: ExitStack, nodes: int, redis_url: str | None, *, isolated: bool = True,
              ) -> tuple[list[int], list[int]]:  # fmt: skip
    from tests.fixtures.server import ServerProcess

    env = {k: v for k, v in SIDELINE_ENV.items() if isolated or k not in DEFAULTS_ON}
    if redis_url:
        env.update(SIDELINE_REALTIME__BROKER="redis", SIDELINE_REALTIME__REDIS_URL=redis_url)
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    servers = []
    for i in range(nodes):
        node = ServerProcess(tmp / f"n{i}", node_id=f"node-{i}", env=env).start()
        stack.callback(node.kill)
        servers.append(node)
    return [s.port for s in servers], [s.proc.pid for s in servers if s.proc]


def _redis(stack: ExitStack) -> tuple[str, int] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    from tests.fixtures.redis import _wait
    from tests.fixtures.server import free_port

    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)  # fmt: skip
    stack.callback(lambda: (proc.terminate(), proc.wait()))
    url = f"redis://127.0.0.1:{port}/0"
    _wait(url, proc)
    return url, proc.pid


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` to ``cpus`` (Linux), so server and load do not share a core."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except (ProcessLookupError, OSError):
            continue


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (from /proc/stat), to show contention."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in fields]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_target(kind: str, ports: list[int], pids: list[int], clients: int, procs: int,
               plan: list[tuple[str, str, float, float]], *, pinned: bool = False) -> dict[str, Any]:  # fmt: skip
    """Connect the receivers, run the sender's plan, and measure every phase.

    With ``pinned`` (and at least two CPUs) the server processes run on CPU 0 and the load
    generator on the others, so the server's saturation is one full core's.
    """
    ctx = mp.get_context("spawn")
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus, load_cpus = ({cpus[0]}, set(cpus[1:])) if pinned and len(cpus) > 1 else (set(cpus), set(cpus))
    for pid in pids:
        pin(pid, server_cpus)
    results, events = ctx.Queue(), ctx.Queue()
    tokens: list[str | None] = [None] * clients if kind == "bare" else [_mint(f"r{i}") for i in range(clients)]
    controls, loaders = [], []
    for p in range(procs):
        control = ctx.Queue()
        part = tokens[p::procs]
        port = ports[p % len(ports)]
        proc = ctx.Process(target=_wsload.receivers, args=(port, kind, part, ROOM, 10, control, results))
        proc.start()
        pin(proc.pid, load_cpus)
        controls.append(control)
        loaders.append(proc)
    for _ in loaders:
        ready = results.get(timeout=300)
        if ready[0] != "ready":
            raise RuntimeError(f"a load process failed:\n{ready[1]}")
    send_tokens: list[str | None] = [None] * (SENDERS + 1) if kind == "bare" else [
        _mint(f"s{i}") for i in range(SENDERS)] + [_mint("probe")]  # fmt: skip
    sender = ctx.Process(target=_wsload.sender, args=((ports[0], ports[-1]), kind, send_tokens, ROOM, plan, events))
    sender.start()
    pin(sender.pid, load_cpus)
    phases: dict[str, dict[str, Any]] = {}
    while True:
        event = events.get(timeout=600)
        if event[0] == "start":
            phases[event[1]] = {"start": event[2], "cpu0": sum(proc_cpu_seconds(p) for p in pids),
                                "busy0": machine_busy_seconds()}  # fmt: skip
        elif event[0] == "end":
            phase = phases[event[1]]
            phase.update(end=event[2], sent_total=event[3], cpu1=sum(proc_cpu_seconds(p) for p in pids),
                         busy1=machine_busy_seconds())  # fmt: skip
        elif event[0] == "error":
            raise RuntimeError(f"the sender failed:\n{event[1]}")
        else:
            probe_latencies, refused, stalls = event[1], event[2], event[3]
            break
    sender.join()
    rss = max(proc_peak_rss_mb(p) for p in pids)
    for control in controls:
        control.put("stop")
    reports = [results.get(timeout=120) for _ in loaders]
    for proc in loaders:
        proc.join()
    summary = _summarise(kind, clients, plan, phases, reports, probe_latencies, refused, rss)
    summary["closed_loop_stalls"] = stalls
    return summary


def _summarise(kind: str, clients: int, plan: list[tuple[str, str, float, float]],
               phases: dict[str, dict[str, Any]], reports: list[Any], probe: list[tuple[float, float]],
               refused: int, rss: float) -> dict[str, Any]:  # fmt: skip
    rows = {}
    latencies = [x for r in reports for x in r[2]]
    for name, mode, amount, _ in plan:
        ph = phases[name]
        rate = cpu_rate = 0.0
        for _, samples, *_ in reports:  # per load process: rate between the samples nearest
            # to the phase's start (plus a ramp-up second) and end
            t0, f0, _, c0 = min(samples, key=lambda x: abs(x[0] - (ph["start"] + 1.5)))
            t1, f1, _, c1 = min(samples, key=lambda x: abs(x[0] - ph["end"]))
            # frames arrive (within milliseconds) only while the sender sends, so the time
            # they stand for is the part of [t0, t1] inside the phase
            span = min(t1, ph["end"]) - max(t0, ph["start"])
            if span > 0:
                rate += (f1 - f0) / span
                cpu_rate += (c1 - c0) / (t1 - t0)
        wall = ph["end"] - ph["start"]
        server_cores = (ph["cpu1"] - ph["cpu0"]) / wall
        machine_cores = (ph["busy1"] - ph["busy0"]) / wall
        lat = [v for t, v in latencies if ph["start"] + 1 <= t <= ph["end"] + 1]
        rows[name] = {
            "mode": mode, "target": amount, "deliveries_per_s": rate,
            "delivered_share": rate / (amount * clients) if mode == "open" else None,
            "p50_ms": percentile(lat, 0.5) * 1000, "p99_ms": percentile(lat, 0.99) * 1000,
            "server_cores": server_cores,
            "server_us_per_delivery": server_cores / rate * 1e6 if rate else None,
            "client_cores": cpu_rate, "messages_per_s": rate / clients,
            "machine_busy_cores": machine_cores,
        }  # fmt: skip
    closed = sum(r[3] for r in reports)
    return {"kind": kind, "clients": clients, "phases": rows, "server_peak_rss_mb": rss,
            "load_average_1m_at_end": os.getloadavg()[0],
            "refused_sends": refused, "receivers_closed": closed}  # fmt: skip


def _start(name: str, stack: ExitStack) -> tuple[str, list[int], list[int]] | None:
    """Start the servers of one target; (kind, ports, pids), or None when it cannot run here."""
    if name == "bare":
        return ("bare", *_bare(stack))
    if name == "sideline":
        return ("sideline", *_sideline(stack, 1, None))
    if name == "sideline-defaults":
        return ("sideline", *_sideline(stack, 1, None, isolated=False))
    found = _redis(stack)
    if found is None:
        print("redis-server not installed: no two-node run", flush=True)
        return None
    ports, pids = _sideline(stack, 2, found[0])
    return "sideline", ports, [*pids, found[1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--procs", type=int, default=2, help="receiver processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--repeat", type=int, default=3, help="runs per target, interleaved; medians reported")
    parser.add_argument("--quick", action="store_true", help="200 clients, 4 s phases, one run")
    parser.add_argument("--only", help="comma-separated subset of: bare, sideline, sideline-2-nodes, "
                        "sideline-defaults")
    parser.add_argument("--pin", action="store_true", help="pin servers to CPU 0, load to the rest")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.repeat = 200, 4.0, 1
    plan = [(f"open {r}/s", "open", float(r), args.seconds) for r in (20, 50, 100)]
    plan.append(("closed (saturation)", "closed", 16.0, args.seconds))
    names = args.only.split(",") if args.only else ["bare", "sideline", "sideline-2-nodes", "sideline-defaults"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for rep in range(args.repeat):  # interleaved, so drifting machine load hits every target alike
        for name in names:
            with ExitStack() as stack:
                started = _start(name, stack)
                if started is None:
                    continue
                kind, ports, pids = started
                print(f"{name} (run {rep + 1}/{args.repeat}): {args.clients} clients ...", flush=True)
                runs[name].append(run_target(kind, ports, pids, args.clients, args.procs, plan, pinned=args.pin))
    _report({k: v for k, v in runs.items() if v}, args)


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase and metric, the median over the runs."""
    phases = {}
    for phase in runs[0]["phases"]:
        phases[phase] = {
            key: (statistics.median(r["phases"][phase][key] for r in runs)
                  if isinstance(runs[0]["phases"][phase][key], (int, float)) else runs[0]["phases"][phase][key])
            for key in runs[0]["phases"][phase]
        }  # fmt: skip
    return {"phases": phases, "server_peak_rss_mb": max(r["server_peak_rss_mb"] for r in runs),
            "refused_sends": sum(r["refused_sends"] for r in runs),
            "receivers_closed": sum(r["receivers_closed"] for r in runs), "runs": len(runs)}  # fmt: skip


def _report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    medians = {name: _median_run(rs) for name, rs in runs.items()}
    rows = []
    for name, run in medians.items():
        for phase, r in run["phases"].items():
            rows.append([name, phase, r["deliveries_per_s"], r["delivered_share"] or "-", r["p50_ms"],
                         r["p99_ms"], r["server_cores"], r["server_us_per_delivery"] or "-",
                         r["client_cores"], r["machine_busy_cores"], run["server_peak_rss_mb"]])  # fmt: skip
    where = "servers pinned to CPU 0, load to the rest" if args.pin else "not pinned"
    print(f"machine: {os.cpu_count()} cores, {where}; medians of {args.repeat} interleaved runs; "
          "'machine busy' counts every process on the machine")  # fmt: skip
    print(table(["server", "phase", "deliveries/s", "delivered", "p50 ms", "p99 ms", "server cores",
                 "server µs/delivery", "client cores", "machine busy", "server peak RSS MB"], rows))  # fmt: skip
    sat = "closed (saturation)"
    ratios = {}
    if "bare" in medians:
        ceiling = medians["bare"]["phases"][sat]["deliveries_per_s"]
        ratios = {name: run["phases"][sat]["deliveries_per_s"] / ceiling for name, run in medians.items()}
        print("saturated deliveries/s vs the bare ceiling (medians): "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))  # fmt: skip
    for name, run in medians.items():
        print(f"{name}: refused sends {run['refused_sends']}, receivers closed {run['receivers_closed']}")
    print(f"benchmark peak RSS {peak_rss_mb():.0f} MB")
    path = save("fanout", {"clients": args.clients, "seconds_per_phase": args.seconds, "pinned": args.pin,
                           "repeat": args.repeat, "medians": medians, "runs": runs,
                           "saturation_ratio_to_ceiling": ratios})  # fmt: skip
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
