"""Rate limits, bursts, duplicates and floods, on a clock the test moves (no sleeping)."""

from __future__ import annotations

from service.moderation import Action, MessageContext, ModerationSettings, Pipeline
from service.moderation.activity import MemoryActivityStore
from service.moderation.settings import RateSettings

from .conftest import FakeClock

WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
]


def _ctx(user: str = "u1") -> MessageContext:
    return MessageContext(user_id=user, room_id="match:1", room_kind="match")


def test_a_burst_is_blocked_with_a_retry_time_and_released_when_time_moves(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    texts = [f"{word} is playing well today" for word in WORDS[:7]]
    verdicts = []
    for text in texts:
        verdicts.append(pipeline.check_local(text, _ctx()))
        clock.advance(0.5)
    assert [v.action for v in verdicts[:5]] == [Action.ALLOW] * 5
    assert [v.action for v in verdicts[5:]] == [Action.BLOCK, Action.BLOCK]
    blocked = verdicts[5]
    assert [r.code for r in blocked.reasons] == ["rate.burst"]
    assert blocked.retry_after == 2.5  # the first post (t=0) leaves the 5 s window at t=5
    assert "spam" not in blocked.checks_ms  # first block wins: content checks skipped
    assert "pii" in blocked.checks_ms  # ... except PII masking, which always runs
    clock.advance(10)
    assert pipeline.check_local("back to normal", _ctx()).action is Action.ALLOW
    assert pipeline.check_local("another user", _ctx("u2")).action is Action.ALLOW


def test_sustained_rate_limit(clock: FakeClock) -> None:
    pipeline = Pipeline(
        ModerationSettings(rate=RateSettings(rate_max=10, rate_window_seconds=60)), clock=clock
    )
    actions = []
    for i in range(12):
        actions.append(pipeline.check_local(f"steady {WORDS[i]}", _ctx()).action)
        clock.advance(2.0)
    assert actions[:10] == [Action.ALLOW] * 10
    assert actions[10:] == [Action.BLOCK] * 2


def test_duplicates_are_shadowed_but_chants_are_not(pipeline: Pipeline, clock: FakeClock) -> None:
    spam = "join my channel for the best football content around"
    actions = []
    for i in range(4):
        actions.append(pipeline.check_local(f"{spam} {i}!!", _ctx()).action)
        clock.advance(10)
    assert actions == [Action.ALLOW, Action.ALLOW, Action.SHADOW, Action.SHADOW]
    chants = []
    for _ in range(4):
        chants.append(pipeline.check_local("GOAL!!!", _ctx("u9")).action)
        clock.advance(10)
    assert chants == [Action.ALLOW] * 4
    clock.advance(300)
    assert pipeline.check_local(f"{spam} 9", _ctx()).action is Action.ALLOW


def test_texts_that_differ_in_their_numbers_are_not_copies(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    actions = []
    for i in range(4):
        actions.append(pipeline.check_local(f"goal number {i} what a game", _ctx()).action)
        clock.advance(10)
    assert actions == [Action.ALLOW] * 4
    # ... but they are near copies, which add to a lure's evidence (the counter trick above)
    verdict = pipeline.check_local("goal number 9 what a game", _ctx())
    assert [(r.code, r.score) for r in verdict.reasons] == [("rate.duplicate", 0.45)]


def test_a_flooding_spammer_is_limited_for_as_long_as_they_flood(
    pipeline: Pipeline, clock: FakeClock
) -> None:
    """A bot posting the same lure every 200 ms for a minute: almost nothing gets through."""
    actions = []
    for i in range(300):
        verdict = pipeline.check_local(f"FREE BTC giveaway round {i}, DM me", _ctx("bot"))
        actions.append(verdict.action)
        clock.advance(0.2)
    assert actions.count(Action.ALLOW) == 0  # every message is at least shadowed as a lure
    assert actions.count(Action.BLOCK) >= 290  # and all but the first few are blocked
    assert pipeline.check_local("hello", _ctx("bystander")).action is Action.ALLOW


def test_the_context_clock_wins_over_the_pipeline_clock(pipeline: Pipeline) -> None:
    for i in range(5):
        ctx = MessageContext(user_id="u1", room_id="match:1", room_kind="match", now=float(i))
        assert pipeline.check_local(WORDS[i], ctx).action is Action.ALLOW
    late = MessageContext(user_id="u1", room_id="match:1", room_kind="match", now=100.0)
    assert pipeline.check_local("much later", late).action is Action.ALLOW


def test_forget_user_clears_the_limits(pipeline: Pipeline) -> None:
    for word in WORDS[:6]:
        pipeline.check_local(word, _ctx())
    assert pipeline.check_local("one more", _ctx()).action is Action.BLOCK
    pipeline.forget_user("u1")
    assert pipeline.check_local("one more", _ctx()).action is Action.ALLOW


def test_memory_store_is_bounded_in_users_and_posts() -> None:
    store = MemoryActivityStore(horizon_seconds=60, keep=3, max_users=2)
    for i in range(5):
        store.observe("a", float(i), f"fp{i}")
    assert store.observe("a", 5.0, "x") == ((2.0, "fp2"), (3.0, "fp3"), (4.0, "fp4"))
    store.observe("b", 6.0, "")
    store.observe("c", 7.0, "")  # evicts "a", the least recently seen
    assert len(store) == 2
    assert store.observe("a", 8.0, "") == ()
    assert store.observe("b", 100.0, "") == ()  # older than the horizon


def test_a_custom_store_is_used() -> None:
    calls: list[tuple[str, float, str]] = []

    class Recording:
        def observe(
            self, user_id: str, now: float, fingerprint: str
        ) -> tuple[tuple[float, str], ...]:
            calls.append((user_id, now, fingerprint))
            return ()

        def forget(self, user_id: str) -> None:
            calls.append((user_id, -1.0, ""))

    pipeline = Pipeline(ModerationSettings(), activity=Recording())
    pipeline.check_local(
        "hello there everyone in the chat",
        MessageContext(user_id="u", room_id="match:1", room_kind="match", now=3.0),
    )
    pipeline.forget_user("u")
    assert calls == [("u", 3.0, "hellothereeveryoneinthechat"), ("u", -1.0, "")]


def test_posts_made_through_other_nodes_count_here(pipeline: Pipeline, clock: FakeClock) -> None:
    spam = "join my channel for the best football content around"
    pipeline.observe_elsewhere("u1", f"{spam} 1!!", clock())
    pipeline.observe_elsewhere("u1", f"{spam} 2!!", clock())
    # two copies already went out through another node: the third here is a duplicate
    assert pipeline.check_local(f"{spam} 3!!", _ctx()).action is Action.SHADOW
    for _ in range(2):  # refused attempts elsewhere count for the burst limit too (5 in 5 s)
        pipeline.observe_elsewhere("u1", None, clock())
    verdict = pipeline.check_local("a different message", _ctx())
    assert verdict.action is Action.BLOCK and verdict.retry_after is not None
    assert pipeline.check_local("a different message", _ctx("u2")).action is Action.ALLOW
