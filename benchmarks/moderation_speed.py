"""How fast is the local moderation pipeline on a live-chat mix?

Runs ``Pipeline.check_local`` (every in-process check, no external provider) over a
deterministic live-chat mix built from the labelled corpus: mostly short benign messages, a
minority with digits, a few with PII, spam or abuse, and a few long ones. The baseline, run on
the same messages in the same process, is ``better_profanity.profanity.censor`` alone (it is
two orders of magnitude slower, so it is timed on the mix's first ``--baseline-messages``).

Each message is timed twice: wall time (perf_counter) and this thread's CPU time
(thread_time). On a machine shared with other work, wall time includes waiting for a core;
CPU time is what the pipeline itself costs on one core. The table shows both.

Prints messages per second (wall and CPU), p50/p99/max per message, speed against the baseline
(per CPU second), per-kind latencies, peak RSS, and writes
``benchmarks/results/moderation_speed.json``. Single-threaded.

    .venv/bin/python benchmarks/moderation_speed.py [--messages 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from better_profanity import profanity  # noqa: E402

from service.moderation import MessageContext, ModerationSettings, Pipeline  # noqa: E402
from service.moderation.evaluation import CorpusItem, load_corpus  # noqa: E402

CORPUS = ROOT / "tests" / "moderation_corpus"
RESULTS = ROOT / "benchmarks" / "results" / "moderation_speed.json"

# Share of each kind of message in the mix (live chat is mostly short, ordinary talk).
MIX = {
    "benign": 0.80,
    "benign_lookalike": 0.07,
    "pii": 0.03,
    "spam": 0.03,
    "abuse": 0.04,
    "long": 0.03,
}


class Run:
    """One timed pass: wall and CPU totals, and per-message wall and CPU nanoseconds."""

    def __init__(self, wall: float, cpu: float, wall_ns: list[int], cpu_ns: list[int]) -> None:
        self.wall, self.cpu, self.wall_ns, self.cpu_ns = wall, cpu, wall_ns, cpu_ns


def build_mix(items: Sequence[CorpusItem], n: int, seed: int = 7) -> list[tuple[str, str]]:
    """``n`` (kind, text) pairs drawn from the corpus with the shares in MIX."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {k: [] for k in MIX}
    for item in items:
        kind = "pii" if item.category.startswith("pii") else item.category
        pools[kind].append(item.text)
    pools["long"] = [" ".join(rng.sample(pools["benign"], 8)) for _ in range(200)]
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    return [(kind, rng.choice(pools[kind])) for kind in rng.choices(kinds, weights, k=n)]


def time_each(fn: Callable[[int, str], object], messages: Sequence[tuple[str, str]]) -> Run:
    """Time ``fn(i, text)`` for every message, in wall and in CPU time."""
    wall_ns: list[int] = []
    cpu_ns: list[int] = []
    wall, cpu = time.perf_counter_ns, time.thread_time_ns
    start, start_cpu = time.perf_counter(), time.process_time()
    for i, (_, text) in enumerate(messages):
        w0, c0 = wall(), cpu()
        fn(i, text)
        c1, w1 = cpu(), wall()
        wall_ns.append(w1 - w0)
        cpu_ns.append(c1 - c0)
    return Run(time.perf_counter() - start, time.process_time() - start_cpu, wall_ns, cpu_ns)


def _ratio(value: object) -> str:
    return f"{value:.1f}x" if isinstance(value, float) else "-"


def pct(values: Sequence[int], q: float) -> float:
    """The ``q`` quantile of nanoseconds, in microseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--users", type=int, default=2_000, help="distinct senders in the mix")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second of chat time")
    parser.add_argument("--baseline-messages", type=int, default=2_000)
    args = parser.parse_args(argv)

    items = load_corpus(sorted(CORPUS.glob("*.jsonl")))
    messages = build_mix(items, args.messages)
    profanity.load_censor_words()

    def run_pipeline() -> Run:
        pipeline = Pipeline(ModerationSettings())
        ctxs = [
            MessageContext(
                user_id=f"u{i % args.users}",
                room_id="match:1",
                room_kind="match",
                now=i / args.rate,
            )
            for i in range(len(messages))
        ]
        for i, (_, text) in enumerate(messages[:2000]):  # warm caches, tables, phonenumbers
            warm = MessageContext(user_id=f"w{i}", room_id="match:0", room_kind="match", now=0.0)
            pipeline.check_local(text, warm)
        return time_each(lambda i, text: pipeline.check_local(text, ctxs[i]), messages)

    def run_baseline() -> Run:
        for _, text in messages[:100]:
            profanity.censor(text)
        subset = messages[: args.baseline_messages]
        return time_each(lambda _i, text: profanity.censor(text), subset)

    runs: dict[str, list[Run]] = {"pipeline": [], "baseline": []}
    for _ in range(args.repeat):
        for name, fn in (("pipeline", run_pipeline), ("baseline", run_baseline)):
            gc.collect()
            runs[name].append(fn())

    def median(name: str) -> Run:
        ordered = sorted(runs[name], key=lambda r: r.cpu)
        return ordered[len(ordered) // 2]

    pipe, base = median("pipeline"), median("baseline")
    base_rate = len(base.cpu_ns) / base.cpu
    # The pipeline on exactly the baseline's messages (the mix's first ones), for the ratio.
    k = len(base.cpu_ns)
    same = Run(
        sum(pipe.wall_ns[:k]) / 1e9, sum(pipe.cpu_ns[:k]) / 1e9, pipe.wall_ns[:k], pipe.cpu_ns[:k]
    )
    rows = []
    for name, run in (
        ("check_local (all checks)", pipe),
        (f"check_local, first {k:,}", same),
        (f"better_profanity.censor, first {k:,}", base),
    ):
        n = len(run.cpu_ns)
        rows.append(
            {
                "name": name,
                "messages": n,
                "messages_per_s": n / run.wall,
                "messages_per_cpu_s": n / run.cpu,
                "p50_us": pct(run.wall_ns, 0.50),
                "p99_us": pct(run.wall_ns, 0.99),
                "max_us": max(run.wall_ns) / 1000.0,
                "cpu_p50_us": pct(run.cpu_ns, 0.50),
                "cpu_p99_us": pct(run.cpu_ns, 0.99),
                "cpu_max_us": max(run.cpu_ns) / 1000.0,
                "speed_vs_baseline": (n / run.cpu) / base_rate if run is not pipe else None,
            }
        )
    by_kind = {}
    for kind in MIX:
        cpu_ns = [t for (k, _), t in zip(messages, pipe.cpu_ns, strict=True) if k == kind]
        wall_ns = [t for (k, _), t in zip(messages, pipe.wall_ns, strict=True) if k == kind]
        by_kind[kind] = {
            "share": len(cpu_ns) / len(pipe.cpu_ns),
            "cpu_p50_us": pct(cpu_ns, 0.5),
            "cpu_p99_us": pct(cpu_ns, 0.99),
            "p99_us": pct(wall_ns, 0.99),
        }
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    load = os.getloadavg()[0]

    print(
        f"moderation speed: {len(messages):,} messages, median of {args.repeat} runs, one thread "
        f"(baseline timed on the first {len(base.cpu_ns):,})"
    )
    print(
        f"{'path':34} {'msgs/s':>8} {'msgs/cpu-s':>10} {'p50 µs':>7} {'p99 µs':>7} {'max µs':>8} "
        f"{'cpu p50':>8} {'cpu p99':>8} {'cpu max':>8} {'vs base':>8}"
    )
    for r in rows:
        print(
            f"{r['name']:34} {r['messages_per_s']:>8,.0f} {r['messages_per_cpu_s']:>10,.0f} "
            f"{r['p50_us']:>7.1f} {r['p99_us']:>7.1f} {r['max_us']:>8.0f} {r['cpu_p50_us']:>8.1f} "
            f"{r['cpu_p99_us']:>8.1f} {r['cpu_max_us']:>8.0f} {_ratio(r['speed_vs_baseline']):>8}"
        )
    print(f"\n{'pipeline by kind':34} {'share':>8} {'cpu p50':>10} {'cpu p99':>8} {'p99 µs':>8}")
    for kind, r in by_kind.items():
        print(
            f"{kind:34} {r['share']:>8.1%} {r['cpu_p50_us']:>10.1f} {r['cpu_p99_us']:>8.1f} "
            f"{r['p99_us']:>8.1f}"
        )
    print(f"\npeak RSS {peak_rss_mb:.0f} MB; load average (1 min) at the end {load:.2f}")
    first = rows[0]
    targets = {
        "messages_per_cpu_s >= 20000": first["messages_per_cpu_s"] >= 20_000,
        "cpu_p99_us <= 1000": first["cpu_p99_us"] <= 1000,
        "messages_per_s >= 20000": first["messages_per_s"] >= 20_000,
        "p99_us <= 1000": first["p99_us"] <= 1000,
    }
    print("targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "moderation_speed",
        "messages": len(messages),
        "repeat": args.repeat,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": round(load, 2),
        "rows": rows,
        "by_kind": by_kind,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "targets": targets,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
