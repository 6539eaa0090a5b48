"""Slow mode across nodes: two ``sideline serve`` processes on a real Redis."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.server import ServerProcess
from tests.fixtures.tcp_proxy import proxied
from tests.integration.realtime.test_two_nodes import admin, start_two

pytestmark = pytest.mark.slow


async def post(http: httpx.AsyncClient, node: ServerProcess, room: str, cid: str, text: str = "hello") -> httpx.Response:
    token = node.token("ann", room)
    return await http.post(f"{node.url}/v1/rooms/{room}/messages", headers={"Authorization": f"Bearer {token}"},
                           json={"client_msg_id": cid, "text": text})  # fmt: skip


def slow_rooms(node: ServerProcess, rooms: list[str], seconds: int = 30) -> None:
    with admin(node) as api:
        for room in rooms:
            assert api.put(f"/v1/admin/rooms/{room}", json={"slow_mode_seconds": seconds}).status_code == 200


async def mode_reached(node: ServerProcess, rooms: list[str], seconds: int = 30) -> None:
    """Wait until ``node`` has the rooms' slow mode (its envelopes came over Redis)."""
    deadline = asyncio.get_running_loop().time() + 10
    async with httpx.AsyncClient(timeout=10) as http:
        for room in rooms:
            headers = {"Authorization": f"Bearer {node.token('ann', room)}"}
            while (await http.get(f"{node.url}/v1/rooms/{room}", headers=headers)).json()["slow_mode_seconds"] != seconds:
                assert asyncio.get_running_loop().time() < deadline, f"{room}'s slow mode never reached {node.url}"
                await asyncio.sleep(0.05)


async def test_posts_of_one_user_through_both_nodes_at_once_pass_one_per_interval(start_server, redis_url):
    """Sent at the same instant, neither node's state has the other's post yet: one is refused,
    with the time the slot has left."""
    a, b = start_two(start_server, redis_url)
    rooms = [f"match:{i}" for i in range(1, 6)]
    slow_rooms(a, rooms)
    await mode_reached(b, rooms)
    async with httpx.AsyncClient(timeout=30) as http:
        for room in rooms:
            answers = await asyncio.gather(post(http, a, room, "c1"), post(http, b, room, "c2"))
            assert sorted(r.status_code for r in answers) == [201, 429], [r.text for r in answers]
            refused = next(r for r in answers if r.status_code == 429)
            assert refused.json()["error"]["code"] == "slow_mode"
            assert 25 <= float(refused.headers["Retry-After"]) <= 30, refused.headers


async def test_a_blocked_post_frees_the_slot_on_every_node(start_server, redis_url):
    a, b = start_two(start_server, redis_url, SIDELINE_MODERATION__ENABLED="true")
    slow_rooms(a, ["match:1"])
    await mode_reached(b, ["match:1"])
    async with httpx.AsyncClient(timeout=30) as http:
        blocked = await post(http, a, "match:1", "c1", "you absolute shit")
        assert blocked.status_code == 422, blocked.text
        fine = await post(http, b, "match:1", "c2", "what a save")
        assert fine.status_code == 201, fine.text


async def test_slow_mode_goes_on_when_redis_is_unreachable(start_server, redis_url, proxy):
    a, _b = start_two(start_server, proxied(redis_url, proxy))
    slow_rooms(a, ["match:1"])
    await asyncio.sleep(0.3)
    proxy.stop()
    async with httpx.AsyncClient(timeout=30) as http:
        first = await post(http, a, "match:1", "c1")
        second = await post(http, a, "match:1", "c2")  # this node's state still refuses it
        assert [first.status_code, second.status_code] == [201, 429], second.text
        counters = (await http.get(f"{a.url}/metrics")).text
    assert "sideline_slow_mode_claims_skipped_total 1.0" in counters, counters
