"""The AI provider adapter against a real HTTP server on 127.0.0.1 (fast, slow, broken)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.moderation import Action, MessageContext, ModerationSettings, Pipeline, Policy
from service.moderation.providers import (
    OpenAIModerationProvider,
    ProviderError,
    ProviderResult,
    build_provider,
)
from service.moderation.settings import ProviderSettings


def _result(flagged: bool, **scores: float) -> dict[str, Any]:
    return {
        "results": [
            {
                "flagged": flagged,
                "categories": {k: v >= 0.5 for k, v in scores.items()},
                "category_scores": scores,
            }
        ]
    }


ANSWERS: dict[str, tuple[int, bytes]] = {
    "flagged": (200, json.dumps(_result(True, harassment=0.95, hate=0.1)).encode()),
    "hold": (200, json.dumps(_result(True, harassment=0.75)).encode()),
    "flag-low": (200, json.dumps(_result(True, harassment=0.1, violence=0.05)).encode()),
    "clean": (200, json.dumps(_result(False, harassment=0.01)).encode()),
    "error": (500, b'{"error": "boom"}'),
    "garbage": (200, b"<html>not json</html>"),
    "empty": (200, b'{"results": []}'),
    "two-over": (200, json.dumps(_result(True, a=2.0, b=2.0)).encode()),
    "both-over": (200, json.dumps(_result(True, a=1.5, b=1.5)).encode()),
    "one-over": (200, json.dumps(_result(True, a=1.5)).encode()),
    "negative": (200, json.dumps(_result(False, a=-0.5, b=0.6)).encode()),
}


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.path.strip("/").split("/")[0]
        self.requests.append(
            {
                "path": self.path,
                "auth": self.headers.get("Authorization"),
                "body": json.loads(body),
            }
        )
        if mode == "slow":
            time.sleep(10)  # far beyond any timeout under test
            mode = "clean"
        status, answer = ANSWERS[mode]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _pipeline(base_url: str, **provider: Any) -> Pipeline:
    options = {"enabled": True, "base_url": base_url, "api_key": "sk-test", "timeout_seconds": 2.0}
    settings = ModerationSettings(provider=ProviderSettings(**(options | provider)))
    return Pipeline(settings, provider=build_provider(settings.provider))


def _ctx(kind: str = "match") -> MessageContext:
    return MessageContext(user_id="u1", room_id=f"{kind}:1", room_kind=kind, now=0.0)


async def test_a_flagged_message_is_blocked_and_the_provider_sees_only_masked_text(server) -> None:
    url, requests = server
    pipeline = _pipeline(f"{url}/flagged")
    verdict = await pipeline.check("you are worthless, call me 07700 900123", _ctx())
    assert verdict.action is Action.BLOCK
    assert [(r.code, r.score) for r in verdict.reasons] == [
        ("pii.phone", 0.9),
        ("provider.harassment", 0.95),
    ]
    assert "provider" in verdict.checks_ms
    assert requests == [
        {
            "path": "/flagged/moderations",
            "auth": "Bearer sk-test",
            "body": {
                "input": "you are worthless, call me [phone]",
                "model": "omni-moderation-latest",
            },
        }
    ]


async def test_scores_climb_the_policy_ladder(server) -> None:
    url, _ = server
    assert (await _pipeline(f"{url}/hold").check("hmm", _ctx())).action is Action.HOLD
    low = await _pipeline(f"{url}/flag-low").check("hmm", _ctx())
    assert low.action is Action.HOLD
    assert [r.code for r in low.reasons] == ["provider.flagged"]
    clean = await _pipeline(f"{url}/clean").check("what a goal", _ctx())
    assert (clean.action, clean.reasons) == (Action.ALLOW, [])


@pytest.mark.parametrize(("mode", "detail"), [("slow", "timed out"), ("error", "HTTP 500"),
                                              ("garbage", "unexpected body"), ("empty", "no results")])  # fmt: skip
async def test_failures_fail_open_by_default(server, mode: str, detail: str) -> None:
    url, requests = server
    pipeline = _pipeline(f"{url}/{mode}", timeout_seconds=0.3)
    verdict = await pipeline.check("what a goal", _ctx())
    assert verdict.action is Action.ALLOW
    [reason] = verdict.reasons
    assert reason.code == "provider.unavailable" and reason.score == 0.0
    assert detail in reason.detail and "failing open" in reason.detail
    assert len(requests) == 1


@pytest.mark.parametrize("mode", ["two-over", "both-over", "one-over", "negative"])
async def test_a_score_outside_0_to_1_is_a_failure_not_a_verdict(server, mode: str) -> None:
    """Scores are probabilities the ladder combines as 1 - prod(1 - s): two of 2.0 combined to
    0 (allowed), two of 1.5 to 0.75 (held), one of 1.5 to 1.5 (blocked). Such a body is of
    another shape: a provider failure, which fails open (or closed) as any other."""
    url, _ = server
    verdict = await _pipeline(f"{url}/{mode}").check("what a goal", _ctx())
    assert (verdict.action, verdict.score) == (Action.ALLOW, 0.0)
    [reason] = verdict.reasons
    assert reason.code == "provider.unavailable", verdict.reasons
    assert "unexpected body" in reason.detail and "category_scores" in reason.detail, reason.detail
    closed = await _pipeline(f"{url}/{mode}", on_failure="closed").check("what a goal", _ctx())
    assert closed.action is Action.HOLD and "failing closed" in closed.reasons[0].detail


@pytest.mark.parametrize("mode", ["slow", "error"])
async def test_failures_hold_the_message_when_failing_closed(server, mode: str) -> None:
    url, _ = server
    pipeline = _pipeline(f"{url}/{mode}", timeout_seconds=0.3, on_failure="closed")
    verdict = await pipeline.check("what a goal", _ctx())
    assert verdict.action is Action.HOLD
    assert "failing closed" in verdict.reasons[0].detail


async def test_closed_action_is_configurable(server) -> None:
    url, _ = server
    pipeline = _pipeline(f"{url}/error", on_failure="closed", closed_action=Action.BLOCK)
    assert (await pipeline.check("what a goal", _ctx())).action is Action.BLOCK


async def test_a_refused_connection_is_a_failure() -> None:
    pipeline = _pipeline("http://127.0.0.1:9", timeout_seconds=0.5)  # discard port: nothing listens
    verdict = await pipeline.check("what a goal", _ctx())
    assert verdict.action is Action.ALLOW
    assert verdict.reasons[0].code == "provider.unavailable"


async def test_the_provider_is_not_asked_when_the_local_verdict_decided(server) -> None:
    url, requests = server
    pipeline = _pipeline(f"{url}/flagged")
    assert (
        await pipeline.check("Double your bitcoin in 24h, DM me", _ctx())
    ).action is Action.SHADOW
    assert (await pipeline.check("fuck this", _ctx())).action is Action.BLOCK
    pipeline.check_local("what a goal", _ctx())  # the synchronous path never calls out
    assert requests == []


async def test_a_policy_can_opt_out_of_the_provider(server) -> None:
    url, requests = server
    pipeline = _pipeline(f"{url}/flagged")
    pipeline.set_policy("dashboard", Policy(provider=False))
    assert (await pipeline.check("hmm", _ctx("dashboard"))).action is Action.ALLOW
    assert requests == []


async def test_adapter_direct_use(server) -> None:
    url, _ = server
    provider = OpenAIModerationProvider(f"{url}/flagged", model="m1", timeout_seconds=2)
    try:
        result = await provider.classify("x")
        assert result == ProviderResult(
            flagged=True, category_scores={"harassment": 0.95, "hate": 0.1}
        )
        broken = OpenAIModerationProvider(f"{url}/error")
        with pytest.raises(ProviderError, match="answered HTTP 500"):
            await broken.classify("x")
        await broken.aclose()
    finally:
        await provider.aclose()


def test_no_provider_unless_enabled() -> None:
    assert build_provider(ProviderSettings()) is None


@pytest.mark.parametrize(
    "policy",
    [
        Policy(actions={"pii": Action.ALLOW}),
        Policy(actions={}, shadow_at=0.95, hold_at=0.97, block_at=0.99),
        Policy(act_at=0.95),
    ],
    ids=["pii-allowed", "ladder-above-pii", "act_at-above-pii"],
)
async def test_personal_data_is_masked_whatever_the_policy(server, policy: Policy) -> None:
    """However a policy weighs personal data, the verdict's text and what the provider is given
    carry none of it; the message is then at least masked, never allowed 'as sent'."""
    url, requests = server
    settings = ModerationSettings(
        policies={"default": policy},
        provider=ProviderSettings(enabled=True, base_url=f"{url}/clean", timeout_seconds=2.0),
    )
    pipeline = Pipeline(settings, provider=build_provider(settings.provider))
    verdict = await pipeline.check("mail me at joe@example.com", _ctx())
    assert (verdict.action, verdict.text, verdict.altered) == (
        Action.MASK,
        "mail me at [email]",
        True,
    )
    assert [r["body"]["input"] for r in requests] == ["mail me at [email]"]
