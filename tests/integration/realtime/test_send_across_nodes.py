"""A send's idempotency by ``client_msg_id`` across two real nodes sharing a real Redis.

The client's first attempt goes through node A; its retry (a dropped connection, the load
balancer picked the other node) through node B, before, or without, A's envelope having
reached B. AI moderation is a real local HTTP server answering as the provider does, as slowly
as a test needs; what was written is read from both nodes' DuckDB log shards once they stopped.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.fixtures.server import ServerProcess, logged_rows
from tests.fixtures.tcp_proxy import proxied
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

_ANSWERS = {
    "clean": {"flagged": False, "categories": {"harassment": False}, "category_scores": {"harassment": 0.01}},
    "flagged": {"flagged": True, "categories": {"harassment": True}, "category_scores": {"harassment": 0.95}},
}  # fmt: skip


@dataclass
class Provider:
    """An OpenAI-compatible ``POST /moderations`` on 127.0.0.1. Each request takes the next
    ``(seconds, answer)`` of ``script`` (then answers ``clean`` at once); each is recorded with
    the times it came in and was answered."""

    url: str = ""
    script: list[tuple[float, str]] = field(default_factory=list)
    asked: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def asked_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.asked) < n:
            assert time.monotonic() < deadline, f"the provider was asked {len(self.asked)} times, not {n}"
            await asyncio.sleep(0.02)


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            record = {"input": body["input"], "came": time.monotonic()}
            with p.lock:
                p.asked.append(record)
                seconds, answer = p.script.pop(0) if p.script else (0.0, "clean")
            time.sleep(seconds)
            data = json.dumps({"results": [_ANSWERS[answer]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            record["answered"] = time.monotonic()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    p.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield p
    finally:
        httpd.shutdown()
        httpd.server_close()


def moderated(provider: Provider) -> dict[str, str]:
    """Env of nodes that moderate (the realtime tests' default is off) and ask ``provider``."""
    return dict(
        SIDELINE_MODERATION__ENABLED="true", SIDELINE_MODERATION__PROVIDER__ENABLED="true",
        SIDELINE_MODERATION__PROVIDER__BASE_URL=provider.url,
        SIDELINE_MODERATION__PROVIDER__API_KEY="sk-test",
        SIDELINE_MODERATION__PROVIDER__TIMEOUT_SECONDS="5",
    )  # fmt: skip


async def post(http: httpx.AsyncClient, node: ServerProcess, cid: str, text: str) -> httpx.Response:
    """``ann`` sends ``text`` as ``cid`` to match:1 through ``node``."""
    token = node.token("ann", "match:1")
    return await http.post(
        f"{node.url}/v1/rooms/match:1/messages", headers={"Authorization": f"Bearer {token}"},
        json={"client_msg_id": cid, "text": text},
    )  # fmt: skip


def sent(nodes: tuple[ServerProcess, ...], cid: str) -> list[str]:
    """The ids of the ``community_message_sent`` events of ``cid`` in the nodes' log shards
    (read once the nodes have stopped)."""
    return [str(r[0]) for r in logged_rows(nodes,
        "SELECT message_id FROM events WHERE event_type = 'community_message_sent' "
        "AND json_extract_string(payload, '$.client_msg_id') = ?", [cid],
    )]  # fmt: skip


@pytest.mark.parametrize("via", ["http", "ws"])
async def test_a_retry_through_b_while_a_still_sends_gets_the_same_message(
    start_server, redis_url, provider, via
):
    """A's moderation takes 2 s; the retry through B comes meanwhile. B writes nothing and asks
    no provider: it answers with A's message once A's envelope reached it."""
    a, b = start_two(start_server, redis_url, **moderated(provider))
    provider.script = [(2.0, "clean")]
    async with httpx.AsyncClient(timeout=30) as http:
        first = asyncio.create_task(post(http, a, "c1", "hello, slowly"))
        await provider.asked_for(1)  # A's attempt is in flight
        if via == "http":
            answer = await post(http, b, "c1", "hello, slowly")
            assert answer.status_code == 201, answer.text
            retried = answer.json()["message_id"]
        else:
            ann = await WsClient.login(b, "ann")
            await ann.send(type="send", room="match:1", client_msg_id="c1", text="hello, slowly", ref="s")
            ack = await ann.expect("ack", ref="s", timeout=20)
            retried = ack["message_id"]
            # its seq is A's: so is the epoch that says whose seq it is
            assert ack["epoch"] == (await http.get(f"{a.url}/ready")).json()["epoch"], ack
        done = await first
    assert done.status_code == 201, done.text
    assert retried == done.json()["message_id"]
    assert len(provider.asked) == 1, "B judged the retry itself"
    assert sent((a, b), "c1") == [retried]


async def test_a_retry_through_b_after_a_answered_gets_the_same_message(start_server, redis_url):
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        a_epoch, b_epoch = [(await http.get(f"{n.url}/ready")).json()["epoch"] for n in (a, b)]
        first = await post(http, a, "c1", "hello")
        assert first.status_code == 201, first.text
        await asyncio.sleep(0.3)  # A's envelope reaches B
        again = await post(http, b, "c1", "hello")
    assert again.status_code == 201 and again.json()["message_id"] == first.json()["message_id"]
    assert again.json()["seq"] == first.json()["seq"]
    assert again.json()["epoch"] == first.json()["epoch"] == a_epoch != b_epoch
    assert sent((a, b), "c1") == [first.json()["message_id"]]


async def test_a_retry_through_b_of_a_message_whose_envelope_b_lost_gets_the_same_message(
    start_server, redis_url, proxy
):
    """B's subscription goes silent: A's envelope never reaches B, whose state lacks the message
    when the retry comes. B waits until it reads the message back (after redis_timeout_seconds)."""
    a, b = start_two(
        start_server, redis_url, b_redis_url=proxied(redis_url, proxy),
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="1.5",
    )  # fmt: skip
    assert proxy.silence(b"SUBSCRIBE") == 1, "node B has one subscriber connection"
    async with httpx.AsyncClient(timeout=30) as http:
        first = await post(http, a, "c1", "hello")
        assert first.status_code == 201, first.text
        again = await post(http, b, "c1", "hello")
    assert again.status_code == 201, again.text
    assert again.json()["message_id"] == first.json()["message_id"]
    assert sent((a, b), "c1") == [first.json()["message_id"]]


async def test_a_retry_through_b_of_a_message_b_never_gets_is_answered_from_the_claim(
    start_server, redis_url, proxy
):
    """A's envelope never reaches B and B cannot read it back (no recent stream kept): B's state
    never has the message. The retry through B is still answered with A's message, from what
    A's claim recorded, after B's wait for the envelope (Redis timeout 1.5 s + 2 s); before,
    every retry was refused with send_in_flight for as long as the claim was kept."""
    a, b = start_two(
        start_server, redis_url, b_redis_url=proxied(redis_url, proxy),
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="1.5", SIDELINE_REALTIME__REDIS_RECENT_EVENTS="0",
    )  # fmt: skip
    assert proxy.silence(b"SUBSCRIBE") == 1, "node B has one subscriber connection"
    async with httpx.AsyncClient(timeout=30) as http:
        first = await post(http, a, "c1", "hello")
        assert first.status_code == 201, first.text
        again = await post(http, b, "c1", "hello")
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
        history = await http.get(
            f"{b.url}/v1/rooms/match:1/messages",
            headers={"Authorization": f"Bearer {b.token('ann', 'match:1')}"},
        )  # fmt: skip
        assert first.json()["message_id"] not in [m["message_id"] for m in history.json()["messages"]]
    assert sent((a, b), "c1") == [first.json()["message_id"]]


async def test_a_refused_first_attempt_lets_the_retry_through_b_be_judged_afresh(
    start_server, redis_url, provider
):
    """The provider flags the first attempt after 2 s: A blocks it. The retry through B, sent
    meanwhile, waits for that verdict, then is moderated itself (clean now) and sent by B."""
    a, b = start_two(start_server, redis_url, **moderated(provider))
    provider.script = [(2.0, "flagged")]
    async with httpx.AsyncClient(timeout=30) as http:
        first = asyncio.create_task(post(http, a, "c1", "you are all wonderful"))
        await provider.asked_for(1)
        again = await post(http, b, "c1", "you are all wonderful")
        refused = await first
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "message_blocked", refused.text
    assert again.status_code == 201, again.text
    assert len(provider.asked) == 2, "B judged the retry itself"
    assert provider.asked[1]["came"] >= provider.asked[0]["answered"], "B judged it while A still did"
    assert sent((a, b), "c1") == [again.json()["message_id"]]


async def test_a_retry_through_b_of_a_send_whose_node_died_is_refused_then_sent_once_the_claim_expires(
    start_server, redis_url, provider
):
    """A dies (kill -9) while moderating: its claim stays. The retry through B writes nothing
    and is refused with send_in_flight after B's wait (provider timeout 3 s + Redis timeout 1 s
    + 2 s); once A's claim ran out (twice that, from A's claim) a retry through B sends it."""
    env = {**moderated(provider), "SIDELINE_MODERATION__PROVIDER__TIMEOUT_SECONDS": "3",
           "SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS": "1"}  # fmt: skip
    a, b = start_two(start_server, redis_url, **env)
    provider.script = [(20.0, "clean")]
    async with httpx.AsyncClient(timeout=30) as http:
        first = asyncio.create_task(post(http, a, "c1", "hello from a dying node"))
        await provider.asked_for(1)
        claimed = time.monotonic()
        a.kill()
        with pytest.raises(httpx.HTTPError):
            await first
        refused = await post(http, b, "c1", "hello from a dying node")
        waited = time.monotonic() - claimed
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "send_in_flight" and "'node-a'" in error["message"], error
        assert refused.headers["Retry-After"] == "1" and 5.5 < waited < 9, (refused.headers, waited)
        for _ in range(3):  # as a client does: retry while told to
            again = await post(http, b, "c1", "hello from a dying node")
            if again.status_code != 503:
                break
        assert again.status_code == 201, again.text
        assert time.monotonic() - claimed > 11.5, "sent before A's claim ran out"
    assert len(provider.asked) == 2
    assert sent((b,), "c1") == [again.json()["message_id"]]


async def test_sends_go_on_when_redis_is_unreachable(start_server, redis_url, proxy):
    """Chat must not stop because Redis is down: each node sends without a claim (counted),
    and a retry through the same node is still answered with its message."""
    a, b = start_two(start_server, proxied(redis_url, proxy))
    proxy.stop()  # every connection to Redis closed, and no new one taken
    async with httpx.AsyncClient(timeout=30) as http:
        first = await post(http, a, "c1", "hello without redis")
        again = await post(http, a, "c1", "hello without redis")
        other = await post(http, b, "c2", "hello from b")
        assert [r.status_code for r in (first, again, other)] == [201, 201, 201], other.text
        assert again.json()["message_id"] == first.json()["message_id"]
        counters = (await http.get(f"{a.url}/metrics")).text
    assert "sideline_send_claims_skipped_total 1.0" in counters, counters
