"""Reactions across nodes: two ``sideline serve`` processes on a real Redis.

Each node judges a reaction from its own state, which holds the other node's reactions only
once their envelopes arrived: the same reaction through both nodes at once was written twice,
adds of different emoji through both nodes passed the cap, and a change through a node that
had not heard of the user's last ones was applied in a different order on each node. So a
reaction change is also claimed in Redis; what was written is read from both nodes' DuckDB log
shards once they stopped.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.fixtures.server import ServerProcess, logged_rows
from tests.fixtures.tcp_proxy import proxied
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

ROOM = "match:1"


def auth(node: ServerProcess, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.token(user, ROOM)}"}


async def post(http: httpx.AsyncClient, node: ServerProcess, cid: str) -> str:
    r = await http.post(f"{node.url}/v1/rooms/{ROOM}/messages", headers=auth(node, "sam"),
                        json={"client_msg_id": cid, "text": f"message {cid}"})  # fmt: skip
    assert r.status_code == 201, r.text
    message_id: str = r.json()["message_id"]
    return message_id


async def react(
    http: httpx.AsyncClient, node: ServerProcess, message_id: str, emoji: str, *, add: bool = True
) -> httpx.Response:
    """``ann`` adds (or removes) ``emoji`` on ``message_id`` through ``node``."""
    path = f"{node.url}/v1/rooms/{ROOM}/messages/{message_id}/reactions"
    if add:
        return await http.post(path, headers=auth(node, "ann"), json={"emoji": emoji})
    return await http.delete(f"{path}/{emoji}", headers=auth(node, "ann"))


async def counts(http: httpx.AsyncClient, node: ServerProcess) -> dict[str, dict[str, int]]:
    """The reaction counts of the room's messages as ``node`` shows them, by message id."""
    r = await http.get(f"{node.url}/v1/rooms/{ROOM}/messages", headers=auth(node, "cat"))
    assert r.status_code == 200, r.text
    return {m["message_id"]: m["reactions"] for m in r.json()["messages"]}


async def arrived(http: httpx.AsyncClient, node: ServerProcess, message_ids: list[str]) -> None:
    """Wait until ``node`` has the messages (their envelopes reached it)."""
    for _ in range(100):
        if set(message_ids) <= set(await counts(http, node)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"messages {message_ids} never reached {node.url}")


def reactions_in_logs(nodes: tuple[ServerProcess, ...]) -> list[tuple[str, str, str, str]]:
    """(event type, message, user, emoji) of every reaction event in the nodes' log shards
    (read once they stopped)."""
    return sorted(logged_rows(nodes,
        "SELECT event_type, message_id, user_id, json_extract_string(payload, '$.emoji') "
        "FROM events WHERE event_type IN ('reaction_added', 'reaction_removed')"
    ))  # fmt: skip


async def test_the_same_reaction_through_both_nodes_at_once_is_written_once(start_server, redis_url):
    """Sent at the same instant, neither node's state has the other's: one is written, and the
    other is answered as a duplicate is on one node (200, the count with it)."""
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        messages = [await post(http, a, f"c{i}") for i in range(5)]
        await arrived(http, b, messages)
        for message_id in messages:
            answers = await asyncio.gather(react(http, a, message_id, "🔥"), react(http, b, message_id, "🔥"))
            assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
            assert [r.json()["count"] for r in answers] == [1, 1], [r.text for r in answers]
        await asyncio.sleep(0.3)  # the envelopes cross
        for node in (a, b):
            assert await counts(http, node) == {m: {"🔥": 1} for m in messages}, node.node_id
    added = [r for r in reactions_in_logs((a, b)) if r[0] == "reaction_added"]
    assert added == sorted(("reaction_added", m, "ann", "🔥") for m in messages)


async def test_different_reactions_through_both_nodes_at_once_keep_the_cap(start_server, redis_url):
    """One reaction per user and message: adds of two emoji through two nodes at once pass
    one, whichever node took it, and both nodes show that one."""
    a, b = start_two(start_server, redis_url, SIDELINE_REACTIONS__MAX_PER_USER_PER_MESSAGE="1")
    async with httpx.AsyncClient(timeout=30) as http:
        messages = [await post(http, a, f"c{i}") for i in range(5)]
        await arrived(http, b, messages)
        for message_id in messages:
            answers = await asyncio.gather(react(http, a, message_id, "🔥"), react(http, b, message_id, "👏"))
            assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
            refused = next(r for r in answers if r.status_code == 409).json()["error"]
            assert refused["code"] == "conflict" and "the most one user may add" in refused["message"], refused
            assert refused["at"] == "$.emoji", refused
        await asyncio.sleep(0.3)
        shown = [await counts(http, node) for node in (a, b)]
    assert shown[0] == shown[1], shown
    assert all(sum(shown[0][m].values()) == 1 for m in messages), shown
    added = [r for r in reactions_in_logs((a, b)) if r[0] == "reaction_added"]
    assert sorted(r[1] for r in added) == sorted(messages), added


async def test_changes_through_nodes_that_lost_each_others_envelopes_end_the_same_on_both(
    start_server, redis_url, proxy
):
    """Both subscriptions go silent: neither node hears of the other's reactions until it
    notices (after redis_timeout_seconds) and reads them back. ann adds 🔥 through A, adds it
    again through B (which has not heard of the first), then removes it through A. Judged by
    each node's state, B wrote a second add that A applied after the remove and B before it:
    A showed 🔥 and B did not. Claimed in Redis, B's add is a duplicate and writes nothing."""
    a, b = start_two(start_server, proxied(redis_url, proxy), SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="1.5")
    async with httpx.AsyncClient(timeout=30) as http:
        message_id = await post(http, a, "c1")
        await arrived(http, b, [message_id])
        assert proxy.silence(b"SUBSCRIBE") == 2, "each node has one subscriber connection"
        first = await react(http, a, message_id, "🔥")
        again = await react(http, b, message_id, "🔥")
        removed = await react(http, a, message_id, "🔥", add=False)
        assert [first.status_code, again.status_code, removed.status_code] == [200, 200, 200], again.text
        assert removed.json()["count"] == 0, removed.text
        for node in (a, b):  # each noticed its silent subscription and read back what it lost
            for _ in range(100):
                if "sideline_ws_delivery_gaps_total 0.0" not in (await http.get(f"{node.url}/metrics")).text:
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        shown = [(await counts(http, node))[message_id] for node in (a, b)]
    assert shown == [{}, {}], shown
    assert reactions_in_logs((a, b)) == [
        ("reaction_added", message_id, "ann", "🔥"), ("reaction_removed", message_id, "ann", "🔥")
    ]


async def test_after_b_restarted_without_a_reaction_through_a_b_answers_an_add_at_once_and_writes_a_remove(
    start_server, redis_url
):
    """B restarts with no recent stream in Redis: its state never gets ann's 🔥 through A, but
    the claim has it. Another add through B is a duplicate, answered without waiting for B's
    state (which would wait in vain); a remove through B is written, so A drops it too (judged
    by B's state alone, it removed nothing and A went on showing 🔥)."""
    a, b = start_two(
        start_server, redis_url, SIDELINE_REALTIME__REDIS_RECENT_EVENTS="0",
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="1.5",
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=30) as http:
        message_id = await post(http, b, "c1")
        await arrived(http, a, [message_id])
        first = await react(http, a, message_id, "🔥")
        assert first.status_code == 200, first.text
        assert b.stop() in (0, -15)
        b.start()
        started = time.monotonic()
        again = await react(http, b, message_id, "🔥")
        took = time.monotonic() - started
        assert again.status_code == 200 and again.json()["count"] == 1 and again.json()["seq"] == 0, again.text
        assert took < 1.5, f"a duplicate add waited {took:.1f} s"
        removed = await react(http, b, message_id, "🔥", add=False)
        assert removed.status_code == 200 and removed.json()["seq"] > 0, removed.text
        await asyncio.sleep(0.3)
        shown = [(await counts(http, node))[message_id] for node in (a, b)]
    assert shown == [{}, {}], shown
    assert reactions_in_logs((a, b)) == [
        ("reaction_added", message_id, "ann", "🔥"), ("reaction_removed", message_id, "ann", "🔥")
    ]


async def test_reactions_go_on_when_redis_is_unreachable(start_server, redis_url, proxy):
    """Reacting must not stop because Redis is down: the change is judged by the node's state
    alone (counted), which still writes a duplicate add no second time."""
    a, _b = start_two(start_server, proxied(redis_url, proxy))
    async with httpx.AsyncClient(timeout=30) as http:
        message_id = await post(http, a, "c1")
        proxy.stop()  # every connection to Redis closed, and no new one taken
        first = await react(http, a, message_id, "🔥")
        again = await react(http, a, message_id, "🔥")
        assert [first.status_code, again.status_code] == [200, 200], again.text
        assert [first.json()["count"], again.json()["count"]] == [1, 1], again.text
        assert again.json()["seq"] == 0, "the duplicate wrote nothing"
        counters = (await http.get(f"{a.url}/metrics")).text
    assert "sideline_reaction_claims_skipped_total 2.0" in counters, counters
