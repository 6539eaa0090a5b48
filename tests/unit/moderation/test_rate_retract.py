"""Retracting a rate-limit sample: an attempt the log failed to store stops counting."""

from __future__ import annotations

from service.moderation import Action, MessageContext, Pipeline
from service.moderation.activity import MemoryActivityStore

SPAM = "join my channel for the best football content around"


def _ctx() -> MessageContext:
    return MessageContext(user_id="u1", room_id="match:1", room_kind="match")


def test_a_retracted_attempt_is_not_an_earlier_copy(pipeline: Pipeline) -> None:
    kept = pipeline.check_local(SPAM, _ctx())
    failed = pipeline.check_local(SPAM, _ctx())
    assert kept.rate_sample == failed.rate_sample == ("u1", 1000.0, SPAM.replace(" ", ""))
    pipeline.retract(failed.rate_sample)
    # one earlier copy remains (the kept one): the third copy would be a duplicate, this is not
    assert pipeline.check_local(SPAM, _ctx()).action is Action.ALLOW
    assert pipeline.check_local(SPAM, _ctx()).action is Action.SHADOW


def test_no_sample_when_the_rate_check_did_not_run(pipeline: Pipeline) -> None:
    assert pipeline.check_local("\u200b", _ctx()).rate_sample is None
    pipeline.retract(None)  # nothing to uncount


def test_memory_store_retracts_the_most_recent_matching_post() -> None:
    store = MemoryActivityStore(horizon_seconds=60, keep=5, max_users=2)
    for t, fp in [(1.0, "a"), (2.0, "b"), (2.0, "a"), (3.0, "c")]:
        store.observe("u", t, fp)
    store.retract("u", 2.0, "a")
    store.retract("u", 9.0, "zz")  # not there: nothing happens
    store.retract("nobody", 1.0, "a")
    assert store.observe("u", 4.0, "") == ((1.0, "a"), (2.0, "b"), (3.0, "c"))
