"""Paging a room's history through any node of two sharing a real Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.server import ServerProcess
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

ROOM = "match:1"


def auth(node: ServerProcess, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.token(user, ROOM)}"}


async def send(http: httpx.AsyncClient, node: ServerProcess, room: str, cid: str) -> str:
    r = await http.post(f"{node.url}/v1/rooms/{room}/messages", json={"client_msg_id": cid, "text": cid},
                        headers={"Authorization": f"Bearer {node.token('ann', room)}"})  # fmt: skip
    assert r.status_code == 201, r.text
    return cid


async def pages(http: httpx.AsyncClient, nodes: list[ServerProcess], limit: int) -> list[list[str]]:
    """The room's history page by page from the newest (each oldest first), each page asked of
    the next of ``nodes`` in turn, as a load balancer may."""
    found: list[list[str]] = []
    params: dict[str, object] = {"limit": limit}
    while len(found) < 50:
        node = nodes[len(found) % len(nodes)]
        r = await http.get(f"{node.url}/v1/rooms/{ROOM}/messages", params=params, headers=auth(node, "bob"))
        assert r.status_code == 200, r.text
        body = r.json()
        found.append([m["text"] for m in body["messages"]])
        assert (body["next_before"] is None) == (body["next_before_seq"] is None), body
        if body["next_before"] is None:
            return found
        assert body["next_before"] == body["messages"][0]["message_id"]
        params = {"limit": limit, "before": body["next_before"]}
    raise AssertionError(f"paging does not end: {found[:6]}")


async def interleaved(http: httpx.AsyncClient, a: ServerProcess, b: ServerProcess) -> list[str]:
    """Messages b0, a0, b1, a1 ... a3 in the room, sent through B and A in turn, after A's seq
    ran ahead of B's (20 messages elsewhere); returns their texts in the order sent."""
    for i in range(20):
        await send(http, a, "match:9", f"elsewhere-{i}")
    sent = []
    for i in range(4):
        for node, name in ((b, f"b{i}"), (a, f"a{i}")):
            sent.append(await send(http, node, ROOM, name))
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # the envelopes cross
    return sent


async def test_paging_through_either_node_shows_each_message_once_in_order(start_server, redis_url):
    """A has written more events than B, so their seqs differ; the pages of a room holding
    messages of both must still show each message once, in the order they were sent."""
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        sent = await interleaved(http, a, b)
        for nodes in ([a], [b], [a, b], [b, a]):
            for limit in (2, 3):
                got = await pages(http, nodes, limit)
                flat = [text for page in reversed(got) for text in page]
                assert flat == sent, ([n.node_id for n in nodes], limit, got)


async def test_past_memory_a_node_pages_on_through_its_own_log(start_server, redis_url):
    """Memory holds a room's newest messages of every node; older ones come from the answering
    node's own log shard (another node's older messages are in that node's shard). A cursor
    from another node's log still pages on, by its time: in order, nothing twice."""
    a, b = start_two(start_server, redis_url, SIDELINE_ROOMS__MATCH__HISTORY_SIZE="3")
    async with httpx.AsyncClient(timeout=30) as http:
        sent = await interleaved(http, a, b)
        in_memory = ["a2", "b3", "a3"]
        for node, own in ((a, "a"), (b, "b")):
            got = [text for page in reversed(await pages(http, [node], 2)) for text in page]
            older = [text for text in sent[: sent.index("a2")] if text.startswith(own)]
            assert got == older + in_memory, (node.node_id, got)
        for nodes in ([a, b], [b, a]):
            got = [text for page in reversed(await pages(http, nodes, 2)) for text in page]
            assert got == sorted(set(got), key=sent.index), (nodes[0].node_id, got)
            assert got[-3:] == in_memory, got


async def test_a_restarted_node_keeps_its_own_newer_messages_in_memory(start_server, redis_url):
    """A node that starts folds its own log, then other nodes' older messages from the recent
    stream: memory must still hold the room's newest messages by time, not the ones applied
    last (before, B's older messages pushed A's newer ones out of A's window of 3, and A's
    first page and its joins showed B's messages only)."""
    a, b = start_two(start_server, redis_url, SIDELINE_ROOMS__MATCH__HISTORY_SIZE="3")
    async with httpx.AsyncClient(timeout=30) as http:
        sent = [await send(http, b, ROOM, f"b{i}") for i in range(3)]
        sent += [await send(http, a, ROOM, f"a{i}") for i in range(3)]
        await asyncio.sleep(0.3)
        a.stop()
        a.start()
        for node in (a, b):
            got = [text for page in reversed(await pages(http, [node], 3)) for text in page]
            assert got[-3:] == ["a0", "a1", "a2"], (node.node_id, got)
            assert got == sorted(set(got), key=sent.index), (node.node_id, got)
