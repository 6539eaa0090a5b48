"""A Redis connection that stops carrying packets without closing, between two real nodes.

Node B reaches the real redis-server through a TCP proxy (tests/fixtures/tcp_proxy.py) that
can silence B's open connections: from then on nothing either side sends gets through, and
neither socket is closed, which TCP cannot tell from a quiet connection for many minutes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.fixtures.tcp_proxy import proxied
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


async def reaches(client: WsClient, message: dict[str, Any], timeout: float = 15.0) -> str:
    """Wait until ``client`` has ``message``: live (``"live"``), or in the fresh ``joined``
    after a ``resync`` (``"reloaded"``)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await client.recv(left)
        except TimeoutError:
            break
        if frame["type"] == "message" and frame["message_id"] == message["message_id"]:
            return "live"
        ids = [m["message_id"] for m in frame.get("history", [])]
        if frame["type"] == "joined" and message["message_id"] in ids:
            return "reloaded"
    raise AssertionError(f"message {message['message_id']} never reached the client")


async def test_a_publish_on_a_silent_connection_fails_and_the_next_ones_go_out(nodes, proxy):
    """Litestar publishes through a script (EVALSHA) on a connection of B's own; one stuck
    there held up every envelope after it, B's own sockets' included, for good. It now times
    out: redis-py may send it again on a new connection (it arrives late), or give up (the
    envelope is lost, noticed by its number, and the rooms reload with it): either way both
    nodes' sockets get the message, and the ones after it as usual."""
    a, b = nodes
    bob, ann, _ = await ann_seen_by_bob(a, b)
    await asyncio.sleep(0.5)  # B has published heartbeats: its publishing connection is open
    assert proxy.silence(b"EVALSHA") >= 1
    stuck = await post(bob, "stuck", "b1")
    how = {await reaches(bob, stuck), await reaches(ann, stuck)}
    later = await post(bob, "later", "b2")
    for client in (bob, ann):
        await client.expect("message", message_id=later["message_id"])
    counters = metrics(b)
    if "reloaded" in how:  # given up: counted
        assert "sideline_redis_publish_failures_total 0.0" not in counters, counters


async def test_a_quiet_healthy_subscription_is_left_alone(nodes):
    a, b = nodes
    bob, _, _ = await ann_seen_by_bob(a, b)
    await asyncio.sleep(3 * float(TIMEOUT))  # only heartbeats meanwhile
    assert [f for f in await bob.frames(0.2) if f["type"] == "resync"] == []
    assert "sideline_redis_silent_subscriptions_total 0.0" in metrics(b)
    late = await WsClient.login(b, "cat")
    assert texts(late.joined) == ["seen"]
