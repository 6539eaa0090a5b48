"""A Redis connection that stops carrying packets without closing, between two real nodes.

Node B reaches the real redis-server through a TCP proxy (tests/fixtures/tcp_proxy.py) that
can silence B's open connections: from then on nothing either side sends gets through, and
neither socket is closed, which TCP cannot tell from a quiet connection for many minutes.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from tests.fixtures.tcp_proxy import TcpProxy, tcp_proxy
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_lost_envelopes import (
    ann_seen_by_bob,
    metrics,
    never_got,
    post,
    texts,
    told_to_reload,
)
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

TIMEOUT = "1.5"
"""realtime.redis_timeout_seconds of both nodes (heartbeats every 0.2 s in these tests)."""


def proxied(redis_url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(redis_url)
    return parts._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()


@pytest.fixture
def proxy(redis_url: str):
    parts = urlsplit(redis_url)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        yield proxy


@pytest.fixture
def nodes(start_server, redis_url, proxy):
    """A on Redis directly, B through the proxy."""
    return start_two(
        start_server, redis_url, b_redis_url=proxied(redis_url, proxy),
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS=TIMEOUT,
    )  # fmt: skip


async def test_a_subscription_gone_silent_is_made_again_and_what_it_missed_read_back(
    nodes, proxy
):
    a, b = nodes
    bob, ann, _ = await ann_seen_by_bob(a, b)
    assert proxy.silence(b"SUBSCRIBE") == 1, "node B has one subscriber connection"
    lost = await post(ann, "lost", "c2")
    # B's own heartbeats stop coming back: after the timeout it subscribes again, and reads back
    resync, fresh = await told_to_reload(bob, timeout=15)
    never_got(bob, lost["message_id"])
    assert "interrupted" in resync["reason"], resync
    assert texts(fresh).count("lost") == 1 and texts(fresh).count("seen") == 1, fresh
    after = await post(ann, "after", "c3")
    await bob.expect("message", message_id=after["message_id"])
    counters = metrics(b)
    assert "sideline_redis_silent_subscriptions_total 1.0" in counters, counters
    assert "sideline_ws_delivery_gaps_unrecovered_total 0.0" in counters, counters


async def test_a_publish_on_a_silent_connection_fails_and_the_next_ones_go_out(nodes, proxy):
    """Litestar publishes through a script (EVALSHA) on a connection of B's own; one stuck
    there held up every envelope after it, B's own sockets' included, for good."""
    a, b = nodes
    bob, ann, _ = await ann_seen_by_bob(a, b)
    await asyncio.sleep(0.5)  # B has published heartbeats: its publishing connection is open
    assert proxy.silence(b"EVALSHA") >= 1
    stuck = await post(bob, "stuck", "b1")
    # the stuck publish fails after the timeout; its envelope is missing on both nodes, each
    # notices the skipped number at B's next envelope and reloads with the message in it
    _, fresh_b = await told_to_reload(bob, timeout=15, remote=False)
    assert texts(fresh_b).count("stuck") == 1, fresh_b
    _, fresh_a = await told_to_reload(ann, timeout=15)
    assert texts(fresh_a).count("stuck") == 1, fresh_a
    never_got(ann, stuck["message_id"])
    later = await post(bob, "later", "b2")
    for client in (bob, ann):
        await client.expect("message", message_id=later["message_id"])
    counters = metrics(b)
    assert "sideline_redis_publish_failures_total 1.0" in counters, counters


async def test_a_quiet_healthy_subscription_is_left_alone(nodes):
    a, b = nodes
    bob, _, _ = await ann_seen_by_bob(a, b)
    await asyncio.sleep(3 * float(TIMEOUT))  # only heartbeats meanwhile
    assert [f for f in await bob.frames(0.2) if f["type"] == "resync"] == []
    assert "sideline_redis_silent_subscriptions_total 0.0" in metrics(b)
    late = await WsClient.login(b, "cat")
    assert texts(late.joined) == ["seen"]
