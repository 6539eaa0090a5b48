"""The labelled corpus: targets that must hold, and no message may regress.

Definitions of "caught" and the headline figures live in ``service.moderation.evaluation``;
``benchmarks/moderation_eval.py`` prints the same figures as a table.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from service.moderation.evaluation import (
    CLASS_OF,
    CorpusItem,
    Outcome,
    corpus_pipeline,
    load_corpus,
    report,
    run_corpus,
)

CORPUS = Path(__file__).resolve().parents[2] / "moderation_corpus"

KNOWN_MISSES = {
    "b067": "'Dick Advocaat': a name that is a blocked word (fix per room with an allowlist)",
}
"""Messages the default pipeline gets wrong today. Anything else going wrong is a regression."""

HOLDOUT_KNOWN_MISSES = {
    "hxb016": "'Fucking is a village in Austria': a place that is a blocked word, left blocked "
    "(allowlist it per room)",
}
"""Holdout messages the default pipeline knowingly gets wrong (see docs/moderation.md)."""


@pytest.fixture(scope="module")
def items() -> list[CorpusItem]:
    return load_corpus(sorted(CORPUS.glob("*.jsonl")))


@pytest.fixture(scope="module")
def outcomes(items: list[CorpusItem]) -> list[Outcome]:
    return run_corpus(corpus_pipeline(), items, "match")


@pytest.fixture(scope="module")
def holdout() -> list[Outcome]:
    items = load_corpus(sorted((CORPUS / "holdout").glob("*.jsonl")))
    return run_corpus(corpus_pipeline(), items, "match")


def test_corpus_is_big_varied_and_well_formed(items: list[CorpusItem]) -> None:
    assert len(items) >= 500
    assert len({i.id for i in items}) == len(items)
    counts = Counter(i.category for i in items)
    assert set(counts) == set(CLASS_OF)
    assert counts["benign"] > len(items) / 3  # live chat is mostly ordinary talk
    assert min(counts.values()) >= 50
    for item in items:
        if CLASS_OF[item.category] == "pii":
            assert item.masked is not None and "[" in item.masked, item.id


def test_headline_targets(outcomes: list[Outcome]) -> None:
    headline = report(outcomes).headline
    assert headline["pii_recall"] >= 0.97
    assert headline["benign_altered"] <= 0.01
    assert headline["spam_recall"] >= 0.90
    assert headline["benign_false_blocks"] <= 0.01
    assert headline["abuse_recall"] >= 0.95


def test_no_message_regresses(outcomes: list[Outcome]) -> None:
    missed = {
        o.item.id: (o.item.text, o.verdict.action.value, o.verdict.text)
        for o in outcomes
        if not o.caught
    }
    assert set(missed) <= set(KNOWN_MISSES), {
        k: v for k, v in missed.items() if k not in KNOWN_MISSES
    }
    # and a known miss that is now right leaves the list, so the list stays what docs say
    assert set(missed) == set(KNOWN_MISSES), set(KNOWN_MISSES) - set(missed)


def test_holdout_meets_the_same_targets(holdout: list[Outcome]) -> None:
    headline = report(holdout).headline
    assert headline["pii_recall"] >= 0.97
    assert headline["benign_altered"] <= 0.01
    assert headline["spam_recall"] >= 0.90
    assert headline["benign_false_blocks"] <= 0.01
    assert {o.item.id for o in holdout if not o.caught} == set(HOLDOUT_KNOWN_MISSES)


def test_pii_messages_keep_everything_but_the_personal_data(outcomes: list[Outcome]) -> None:
    for o in outcomes:
        if CLASS_OF[o.item.category] == "pii":
            assert o.verdict.altered and o.verdict.text == o.item.masked, o.item.id
