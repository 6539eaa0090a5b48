"""Helpers for the moderation tests: one real pipeline per test, a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.moderation import MessageContext, ModerationSettings, Pipeline, Verdict


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pipeline(clock: FakeClock) -> Pipeline:
    return Pipeline(ModerationSettings(), clock=clock)


_counter = iter(range(10**9))


def ctx(kind: str = "match", user: str | None = None) -> MessageContext:
    """A context for a fresh user (no rate-limit history) unless ``user`` is given."""
    return MessageContext(
        user_id=user or f"user-{next(_counter)}", room_id=f"{kind}:1", room_kind=kind
    )


@pytest.fixture
def check(pipeline: Pipeline) -> Callable[..., Verdict]:
    """``check(text, kind="match", user=None)`` through ``Pipeline.check_local``."""

    def run(text: str, kind: str = "match", user: str | None = None) -> Verdict:
        return pipeline.check_local(text, ctx(kind, user))

    return run
