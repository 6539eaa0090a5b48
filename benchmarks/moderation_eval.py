"""Precision and recall of the default moderation pipeline on the labelled corpus.

Runs ``Pipeline.check_local`` (policy ``match``) over ``tests/moderation_corpus/*.jsonl`` (the
development corpus) and ``tests/moderation_corpus/holdout/*.jsonl`` (written after the code,
for an honest second opinion; all together, then each file alone). Prints, per category,
recall (share handled as the category demands) and exact-action agreement; per class,
precision and recall; the headline targets (PII recall >= 0.97 with <= 1% of benign messages
altered; spam recall >= 0.9 with <= 1% of benign messages shadowed, held or blocked); the
messages it gets wrong; the run's peak RSS.
Writes ``benchmarks/results/moderation_eval.json``. Definitions: service/moderation/evaluation.py
(the corpus is chat of a host at ``CORPUS_HOST``: ``corpus_pipeline`` is the pipeline the service
builds for it).

    .venv/bin/python benchmarks/moderation_eval.py
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.moderation.evaluation import (  # noqa: E402
    Outcome,
    Report,
    corpus_pipeline,
    load_corpus,
    report,
    run_corpus,
)

CORPUS = ROOT / "tests" / "moderation_corpus"
RESULTS = ROOT / "benchmarks" / "results" / "moderation_eval.json"
TARGETS = {
    "pii_recall": (">=", 0.97),
    "benign_altered": ("<=", 0.01),
    "spam_recall": (">=", 0.90),
    "benign_false_blocks": ("<=", 0.01),
    "abuse_recall": (">=", 0.95),
}
CLASS_OF_TARGET = {
    "pii_recall": "pii",
    "benign_altered": "benign",
    "spam_recall": "spam",
    "benign_false_blocks": "benign",
    "abuse_recall": "abuse",
}


def measured(key: str, result: Report) -> bool:
    """Whether the set has messages of the class a target is about (a holdout file of
    threats has no PII to recall)."""
    return result.classes[CLASS_OF_TARGET[key]]["n"] > 0


def show(name: str, outcomes: list[Outcome], result: Report, seconds: float) -> None:
    print(f"\n== {name}: {len(outcomes)} messages in {seconds * 1000:.0f} ms ==")
    print(f"{'category':18} {'n':>5} {'recall':>8} {'exact action':>13}")
    for category, row in result.categories.items():
        print(f"{category:18} {row['n']:>5.0f} {row['recall']:>8.3f} {row['exact_action']:>13.3f}")
    print(f"\n{'class':18} {'n':>5} {'precision':>10} {'recall':>8}")
    for cls, row in result.classes.items():
        print(f"{cls:18} {row['n']:>5.0f} {row['precision']:>10.3f} {row['recall']:>8.3f}")
    print(f"\n{'headline':22} {'value':>7}  target")
    for key, value in result.headline.items():
        op, bound = TARGETS[key]
        if not measured(key, result):
            print(f"{key:22} {'-':>7}  {op} {bound:<5} n/a (no such messages)")
            continue
        ok = value >= bound if op == ">=" else value <= bound
        print(f"{key:22} {value:>7.3f}  {op} {bound:<5} {'met' if ok else 'MISSED'}")
    wrong = [o for o in outcomes if not o.caught]
    if wrong:
        print("\nwrong:")
        for o in wrong:
            print(
                f"  {o.item.id} {o.item.category}: {o.item.text!r} -> {o.verdict.action.value} {o.verdict.text!r}"
            )


def main() -> int:
    results: dict[str, object] = {"benchmark": "moderation_eval", "policy": "match"}
    all_met = True
    holdout = sorted((CORPUS / "holdout").glob("*.jsonl"))
    sets = [("corpus", sorted(CORPUS.glob("*.jsonl"))), ("holdout", holdout)]
    if len(holdout) > 1:  # each holdout file was written at its own time: show it alone too
        sets += [(f"holdout/{path.name}", [path]) for path in holdout]
    for name, paths in sets:
        items = load_corpus(paths)
        started = time.perf_counter()
        outcomes = run_corpus(corpus_pipeline(), items, "match")
        seconds = time.perf_counter() - started
        result = report(outcomes)
        show(name, outcomes, result, seconds)
        for key, value in result.headline.items():
            op, bound = TARGETS[key]
            if measured(key, result):
                all_met &= value >= bound if op == ">=" else value <= bound
        results[name] = {
            "messages": len(items),
            "categories": result.categories,
            "classes": result.classes,
            "headline": result.headline,
            "wrong": [o.item.id for o in outcomes if not o.caught],
        }
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    results["peak_rss_mb"] = round(peak_rss_mb, 1)
    results["targets_met"] = all_met
    print(f"\npeak RSS {peak_rss_mb:.0f} MB; targets {'met' if all_met else 'MISSED'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main())
