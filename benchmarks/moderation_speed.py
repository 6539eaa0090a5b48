"""How fast is the local moderation pipeline on a live-chat mix?

Runs ``Pipeline.check_local`` (every in-process check, no external provider) over a
deterministic live-chat mix built from the labelled corpus: mostly short benign messages, a
minority with digits, a few with PII, spam or abuse, and a few long ones. The baseline, run on
the same messages in the same process, is ``better_profanity.profanity.censor`` alone.

Prints a table (messages/s, p50/p99/max per message, ratio against the baseline, peak RSS) and
writes ``benchmarks/results/moderation_speed.json``. Single-threaded: it measures one core.

    .venv/bin/python benchmarks/moderation_speed.py [--messages 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import json
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


def build_mix(items: Sequence[CorpusItem], n: int, seed: int = 7) -> list[tuple[str, str]]:
    """``n`` (kind, text) pairs drawn from the corpus with the shares in MIX."""
    rng = random.Random(seed)
    pools: dict[str, list[str]] = {k: [] for k in MIX}
    for item in items:
        kind = "pii" if item.category.startswith("pii") else item.category
        pools[kind].append(item.text)
    benign = pools["benign"]
    pools["long"] = [" ".join(rng.sample(benign, 8)) for _ in range(200)]
    kinds = list(MIX)
    weights = [MIX[k] for k in kinds]
    out = []
    for kind in rng.choices(kinds, weights, k=n):
        out.append((kind, rng.choice(pools[kind])))
    return out


def time_each(
    fn: Callable[[int, str], object], messages: Sequence[tuple[str, str]]
) -> tuple[float, list[int]]:
    """Total seconds and per-message nanoseconds of ``fn(i, text)`` over ``messages``."""
    per: list[int] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for i, (_, text) in enumerate(messages):
        t0 = clock()
        fn(i, text)
        per.append(clock() - t0)
    return time.perf_counter() - start, per


def pct(values: Sequence[int], q: float) -> float:
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
    parser.add_argument(
        "--baseline-messages",
        type=int,
        default=5_000,
        help="the baseline is ~100x slower: time it on this many messages (the mix's first ones)",
    )
    args = parser.parse_args(argv)

    items = load_corpus(sorted(CORPUS.glob("*.jsonl")))
    messages = build_mix(items, args.messages)
    profanity.load_censor_words()

    def run_pipeline() -> tuple[float, list[int]]:
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
            pipeline.check_local(
                text, MessageContext(user_id=f"w{i}", room_id="match:0", room_kind="match", now=0.0)
            )
        return time_each(lambda i, text: pipeline.check_local(text, ctxs[i]), messages)

    def run_baseline() -> tuple[float, list[int]]:
        for _, text in messages[:200]:
            profanity.censor(text)
        return time_each(
            lambda _i, text: profanity.censor(text), messages[: args.baseline_messages]
        )

    runs: dict[str, list[tuple[float, list[int]]]] = {"pipeline": [], "baseline": []}
    cpu_start = time.process_time()
    for _ in range(args.repeat):
        for name, fn in (("pipeline", run_pipeline), ("baseline", run_baseline)):
            gc.collect()
            runs[name].append(fn())
    cpu = time.process_time() - cpu_start

    def median_run(name: str) -> tuple[float, list[int]]:
        ordered = sorted(runs[name], key=lambda r: r[0])
        return ordered[len(ordered) // 2]

    total, per = median_run("pipeline")
    base_total, base_per = median_run("baseline")
    rows = []
    for name, (secs, nanos) in (
        ("check_local (all checks)", (total, per)),
        ("better_profanity.censor (baseline)", (base_total, base_per)),
    ):
        rows.append(
            {
                "name": name,
                "messages_per_s": len(nanos) / secs,
                "p50_us": pct(nanos, 0.50),
                "p99_us": pct(nanos, 0.99),
                "max_us": max(nanos) / 1000.0,
                "speed_vs_baseline": (len(nanos) / secs) / (len(base_per) / base_total),
            }
        )
    by_kind = {}
    for kind in MIX:
        nanos = [t for (k, _), t in zip(messages, per, strict=True) if k == kind]
        by_kind[kind] = {
            "share": len(nanos) / len(per),
            "p50_us": pct(nanos, 0.5),
            "p99_us": pct(nanos, 0.99),
        }
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    print(
        f"moderation speed: {len(messages):,} messages (baseline: first {len(base_per):,}), "
        f"median of {args.repeat} runs, one thread"
    )
    print(
        f"{'path':38} {'msgs/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>9} {'vs baseline':>12}"
    )
    for r in rows:
        print(
            f"{r['name']:38} {r['messages_per_s']:>10,.0f} {r['p50_us']:>8.1f} {r['p99_us']:>8.1f} "
            f"{r['max_us']:>9.0f} {r['speed_vs_baseline']:>11.2f}x"
        )
    print(f"\n{'pipeline by kind':38} {'share':>10} {'p50 µs':>8} {'p99 µs':>8}")
    for kind, r in by_kind.items():
        print(f"{kind:38} {r['share']:>10.1%} {r['p50_us']:>8.1f} {r['p99_us']:>8.1f}")
    print(f"\npeak RSS {peak_rss_mb:.0f} MB; CPU {cpu:.1f} s")
    targets = {
        "messages_per_s >= 20000": rows[0]["messages_per_s"] >= 20_000,
        "p99_us <= 1000": rows[0]["p99_us"] <= 1000,
    }
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items()))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "moderation_speed",
                "messages": len(messages),
                "baseline_messages": len(base_per),
                "repeat": args.repeat,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rows": rows,
                "by_kind": by_kind,
                "peak_rss_mb": round(peak_rss_mb, 1),
                "targets": targets,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
