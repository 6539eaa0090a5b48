"""Event-loop stalls while the service runs its report jobs: worker thread against child process.

    .venv/bin/python benchmarks/job_isolation.py [--events N] [--users N] [--repeat 2]

The service runs scheduled report jobs and then renders the dashboards. This measures how long
its asyncio event loop waits meanwhile, the way every chat message and WebSocket frame would:
a ticker sleeps 2 ms in a loop and records how late it wakes (loop lag), while a full refresh
of every report plus the dashboard render runs over the analytics benchmark's warehouse
(generated and cached by ``benchmarks/analytics.py``; 10M events, 1M users by default)

- ``thread``: on a worker thread of the service process (``asyncio.to_thread``; the baseline,
  how the service ran them before), and
- ``child``: in a child process (``analytics.child.run_in_child``, what the service does).

Modes alternate, ``--repeat`` runs each, every run in a fresh process (so peak RSS is its own).
Reported: job seconds, loop lag p50/p99/max, wake-ups later than 50 ms and 200 ms, peak RSS of
the process that stands for the service and of the child. Writes
``benchmarks/results/job_isolation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import peak_rss_mb, percentile, save, table

TICK = 0.002


async def _measure(mode: str, settings: Any) -> dict[str, Any]:
    from analytics.child import run_in_child
    from analytics.runner import Runner

    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append(time.perf_counter() - t - TICK)

    task = asyncio.create_task(ticker())
    t0 = time.perf_counter()
    if mode == "thread":
        results = await asyncio.to_thread(Runner.from_settings(settings, progress=False).run,
                                          None, full=True)  # fmt: skip
    else:
        _, results = await run_in_child(settings, None, full=True)
    seconds = time.perf_counter() - t0
    done.set()
    await task
    failed = [r.job for r in results if r.status == "failed"]
    ms = [x * 1000 for x in lags]
    return {
        "mode": mode, "job_seconds": seconds, "failed_jobs": failed, "ticks": len(ms),
        "lag_p50_ms": percentile(ms, 0.50), "lag_p99_ms": percentile(ms, 0.99), "lag_max_ms": max(ms),
        "late_50ms": sum(x > 50 for x in ms), "late_200ms": sum(x > 200 for x in ms),
        "service_peak_rss_mib": peak_rss_mb(),
        "child_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }  # fmt: skip


def _work_dir(folder: Path, work: Path) -> Path:
    """A data folder whose warehouse events and exports link to the cached data."""
    shutil.rmtree(work, ignore_errors=True)
    (work / "warehouse" / "events").mkdir(parents=True)
    os.symlink(folder / "exports", work / "exports")
    for day in sorted((folder / "warehouse" / "events").iterdir()):
        os.symlink(day, work / "warehouse" / "events" / day.name)
    return work


def main() -> int:
    from benchmarks.analytics import CACHE, start_day
    from service.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--mode", choices=("thread", "child"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = CACHE / f"e{args.events}-u{args.users}-{start_day()}"
    if args.mode:
        work = _work_dir(folder, folder.parent / f"work-isolation-{args.mode}")
        try:
            info = asyncio.run(_measure(args.mode, load_settings(environ={}, data_dir=str(work))))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(info))
        return 0
    if not (folder / "done").exists():
        print(f"no cached warehouse at {folder}: run benchmarks/analytics.py --events "
              f"{args.events} --users {args.users} first")  # fmt: skip
        return 2
    runs: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        for mode in ("thread", "child"):
            print(f"{mode} (run {rep + 1}/{args.repeat}) ...", flush=True)
            out = subprocess.run([sys.executable, __file__, "--events", str(args.events),
                                  "--users", str(args.users), "--mode", mode],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 check=True)  # fmt: skip
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows = []
    medians: dict[str, dict[str, float]] = {}
    for mode in ("thread", "child"):
        mine = [r for r in runs if r["mode"] == mode]
        med = {k: statistics.median(r[k] for r in mine)
               for k in ("job_seconds", "lag_p50_ms", "lag_p99_ms", "lag_max_ms", "late_50ms",
                         "late_200ms")}  # fmt: skip
        medians[mode] = med
        rows.append([mode, f"{med['job_seconds']:.1f}", f"{med['lag_p50_ms']:.2f}",
                     f"{med['lag_p99_ms']:.1f}", f"{med['lag_max_ms']:.0f}",
                     " / ".join(str(r["lag_max_ms"].__round__()) for r in mine),
                     f"{med['late_50ms']:.0f}", f"{med['late_200ms']:.0f}",
                     f"{max(r['service_peak_rss_mib'] for r in mine):.0f}",
                     f"{max(r['child_peak_rss_mib'] for r in mine):.0f}" if mode == "child" else "-"])  # fmt: skip
    print(f"{args.events:,} events, {args.users:,} users, {os.cpu_count()} cores; medians of "
          f"{args.repeat} alternating runs")  # fmt: skip
    print(table(["jobs run on", "seconds", "lag p50 ms", "lag p99 ms", "lag max ms",
                 "max per run", "> 50 ms", "> 200 ms", "service peak RSS MiB",
                 "child peak RSS MiB"], rows))  # fmt: skip
    ratio = medians["thread"]["lag_max_ms"] / max(medians["child"]["lag_max_ms"], 1e-9)
    print(f"worst stall, thread / child: {ratio:.1f}x")
    path = save("job_isolation", {"events": args.events, "users": args.users,
                                  "repeat": args.repeat, "medians": medians,
                                  "max_stall_ratio_thread_over_child": ratio, "runs": runs})  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
