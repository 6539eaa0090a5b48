"""Measure a pipeline against a labelled corpus: recall and precision per category.

Corpus lines are JSON: ``{"id", "text", "category", "expected", "masked"?}`` with category in
``benign``, ``benign_lookalike``, ``pii_plain``, ``pii_evasive``, ``spam``, ``abuse``.
Definitions (the tests and ``benchmarks/moderation_eval.py`` use exactly these):

* a benign message is handled right when it is allowed and its text is untouched;
* a PII message is caught when the verdict's text equals its ``masked`` text exactly;
* a spam message is caught when it is shadowed, held or blocked;
* an abusive message is caught when it is held or blocked.

Predicted classes, for precision: ``pii`` when a PII reason is present; ``spam`` when the
action is shadow or stronger and a spam or rate reason is present; ``abuse`` when the action is
hold or stronger and a blocklist or provider reason is present; ``benign`` when the message is
allowed untouched.

The corpus is chat of a host product at ``CORPUS_HOST``: :func:`corpus_pipeline` is the default
pipeline as the service builds it for that host (links to it are the host's own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import msgspec

from service.moderation.pipeline import Pipeline
from service.moderation.settings import ModerationSettings, host_domains
from service.moderation.verdict import Action, MessageContext, Verdict

Category = Literal["benign", "benign_lookalike", "pii_plain", "pii_evasive", "spam", "abuse"]
CLASS_OF: dict[str, str] = {
    "benign": "benign",
    "benign_lookalike": "benign",
    "pii_plain": "pii",
    "pii_evasive": "pii",
    "spam": "spam",
    "abuse": "abuse",
}


CORPUS_HOST = "https://ourapp.com"
"""The host product the corpus's messages are posted in (its ``server.public_url``)."""


def corpus_pipeline() -> Pipeline:
    """The default pipeline, as the service builds it for ``CORPUS_HOST``."""
    return Pipeline(ModerationSettings(), host_domains=host_domains([CORPUS_HOST]))


class CorpusItem(msgspec.Struct, forbid_unknown_fields=True):
    """One labelled message."""

    id: str
    text: str
    category: Category
    expected: Action
    masked: str | None = None


class Outcome(msgspec.Struct):
    """What the pipeline did with one corpus item."""

    item: CorpusItem
    verdict: Verdict
    caught: bool
    predicted: frozenset[str]


def load_corpus(paths: Iterable[Path]) -> list[CorpusItem]:
    """Read corpus JSONL files; a bad line raises ValueError naming the file and line."""
    decoder = msgspec.json.Decoder(CorpusItem)
    items: list[CorpusItem] = []
    for path in paths:
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = decoder.decode(line)
            except msgspec.DecodeError as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from exc
            if CLASS_OF[item.category] == "pii" and item.masked is None:
                raise ValueError(f"{path.name} line {number}: PII item without `masked`")
            items.append(item)
    return items


def run_corpus(pipeline: Pipeline, items: Sequence[CorpusItem], kind: str) -> list[Outcome]:
    """Check every item as a first message of its own user (no rate-limit interplay)."""
    outcomes = []
    for item in items:
        ctx = MessageContext(
            user_id=f"eval-{item.id}", room_id=f"{kind}:eval", room_kind=kind, now=0.0
        )
        verdict = pipeline.check_local(item.text, ctx)
        outcomes.append(Outcome(item, verdict, _caught(item, verdict), _predicted(verdict)))
    return outcomes


def _caught(item: CorpusItem, verdict: Verdict) -> bool:
    severity = verdict.action.severity
    match CLASS_OF[item.category]:
        case "benign":
            return verdict.action is Action.ALLOW and not verdict.altered
        case "pii":
            return verdict.text == item.masked
        case "spam":
            return severity >= Action.SHADOW.severity
        case _:
            return severity >= Action.HOLD.severity


def _predicted(verdict: Verdict) -> frozenset[str]:
    checks = {r.check for r in verdict.reasons if r.score > 0}
    severity = verdict.action.severity
    out = set()
    if "pii" in checks:
        out.add("pii")
    if severity >= Action.SHADOW.severity and checks & {"spam", "rate"}:
        out.add("spam")
    if severity >= Action.HOLD.severity and checks & {"blocklist", "threat", "hate", "provider"}:
        out.add("abuse")
    if verdict.action is Action.ALLOW and not verdict.altered:
        out.add("benign")
    return frozenset(out)


class Report(msgspec.Struct):
    """Per-category and per-class figures, plus the headline targets."""

    categories: dict[str, dict[str, float]]
    classes: dict[str, dict[str, float]]
    headline: dict[str, float]


def report(outcomes: Sequence[Outcome]) -> Report:
    """Summarise outcomes (see the module docstring for the definitions)."""
    categories: dict[str, dict[str, float]] = {}
    for category in CLASS_OF:
        rows = [o for o in outcomes if o.item.category == category]
        if rows:
            categories[category] = {
                "n": len(rows),
                "recall": _share(o.caught for o in rows),
                "exact_action": _share(o.verdict.action is o.item.expected for o in rows),
            }
    classes: dict[str, dict[str, float]] = {}
    for cls in ("benign", "pii", "spam", "abuse"):
        truth = [CLASS_OF[o.item.category] == cls for o in outcomes]
        said = [cls in o.predicted for o in outcomes]
        tp = sum(t and s for t, s in zip(truth, said, strict=True))
        precision = tp / sum(said) if any(said) else 1.0
        recall = tp / sum(truth) if any(truth) else 1.0
        classes[cls] = {"n": sum(truth), "precision": precision, "recall": recall}
    benign = [o for o in outcomes if CLASS_OF[o.item.category] == "benign"]
    headline = {
        "pii_recall": _share(o.caught for o in outcomes if CLASS_OF[o.item.category] == "pii"),
        "benign_altered": _share(o.verdict.altered for o in benign),
        "spam_recall": categories.get("spam", {}).get("recall", 1.0),
        "benign_false_blocks": _share(
            o.verdict.action.severity >= Action.SHADOW.severity for o in benign
        ),
        "abuse_recall": categories.get("abuse", {}).get("recall", 1.0),
    }
    return Report(categories=categories, classes=classes, headline=headline)


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else 0.0
