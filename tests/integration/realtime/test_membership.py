"""Membership and presence of a user with several sockets, and identity refreshed by ``auth``."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.fixtures.ws import WsClient


def my_rooms(server, user: str) -> list[str]:
    token = server.token(user, "match:1")
    r = httpx.get(f"{server.url}/v1/me/rooms", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["rooms"]  # type: ignore[no-any-return]


async def wait_rooms(server, user: str, expected: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (rooms := my_rooms(server, user)) != expected:
        assert time.monotonic() < deadline, f"{user}'s rooms stayed {rooms}, expected {expected}"
        await asyncio.sleep(0.1)


def left_users(frames: list[dict]) -> list[str]:
    return [u for f in frames if f["type"] == "presence" for u in f.get("left") or []]


async def test_leaving_on_one_socket_keeps_the_users_other_socket_in_the_room(rt_server):
    ann = await WsClient.login(rt_server, "ann", name="Ann")
    tab1 = await WsClient.login(rt_server, "u1", name="Una")
    tab2 = await WsClient.login(rt_server, "u1", name="Una")
    assert my_rooms(rt_server, "u1") == ["match:1"]
    await tab1.send(type="leave", room="match:1", ref="l")
    assert (await tab1.expect("left", ref="l"))["room"] == "match:1"
    await asyncio.sleep(0.6)  # several presence ticks (0.2 s) pass
    assert my_rooms(rt_server, "u1") == ["match:1"], "the other tab is still in the room"
    # the user's last socket in the room goes: now the leave is recorded, and presence ends
    await tab2.close()
    await ann.expect("presence", timeout=5, left=["u1"])
    assert left_users(ann.seen) == ["u1"], "presence dropped u1 only once, when the last tab went"
    await wait_rooms(rt_server, "u1", [])


async def test_a_user_who_only_disconnects_stays_a_member(rt_server):
    tab1 = await WsClient.login(rt_server, "u1")
    tab2 = await WsClient.login(rt_server, "u1")
    await tab1.close()
    await tab2.close()
    await asyncio.sleep(0.5)
    assert my_rooms(rt_server, "u1") == ["match:1"]


async def test_leaving_on_the_last_socket_is_recorded_at_once(rt_server):
    tab = await WsClient.login(rt_server, "u1")
    await tab.send(type="leave", room="match:1", ref="l")
    await tab.expect("left", ref="l")
    assert my_rooms(rt_server, "u1") == []


async def test_joining_again_cancels_a_leave_still_waiting_for_the_other_socket(rt_server):
    tab1 = await WsClient.login(rt_server, "u1")
    tab2 = await WsClient.login(rt_server, "u1")
    await tab1.send(type="leave", room="match:1", ref="l")
    await tab1.expect("left", ref="l")
    await tab1.send(type="join", room="match:1", ref="j")
    await tab1.expect("joined", ref="j")
    await tab2.close()
    await tab1.close()
    await asyncio.sleep(0.5)
    assert my_rooms(rt_server, "u1") == ["match:1"]


async def renamed(server, observer_node=None) -> None:
    """u1 joins as Una, then refreshes its token with a new name: presence and frames follow."""
    ann = await WsClient.login(observer_node or server, "ann", name="Ann")
    u1 = await WsClient.login(server, "u1", name="Una")
    await ann.expect("presence", timeout=5, joined=[{"user_id": "u1", "name": "Una"}])
    await u1.send(type="auth", token=server.token("u1", "match:1", name="Una Berg"), ref="a")
    assert (await u1.expect("welcome", ref="a"))["name"] == "Una Berg"
    diff = await ann.expect("presence", timeout=5, joined=[{"user_id": "u1", "name": "Una Berg"}])
    assert diff["count"] == 2 and not diff.get("left")
    late = await WsClient.login(observer_node or server, "cat")
    assert {"user_id": "u1", "name": "Una Berg"} in late.joined["presence"]["members"]
    await u1.send(type="typing", room="match:1")
    assert (await ann.expect("typing", timeout=5))["name"] == "Una Berg"
    await u1.send(type="send", room="match:1", client_msg_id="c1", text="hi", ref="s")
    assert (await ann.expect("message", timeout=5))["name"] == "Una Berg"


async def test_reauth_with_a_new_name_updates_presence(rt_server):
    await renamed(rt_server)


@pytest.mark.slow
async def test_reauth_with_a_new_name_updates_presence_across_nodes(start_server, redis_url):
    from tests.integration.realtime.test_two_nodes import start_two

    a, b = start_two(start_server, redis_url)
    await renamed(a, observer_node=b)


async def test_reauth_with_a_new_role_tells_the_client_and_rules_its_frames(rt_server):
    u1 = await WsClient.login(rt_server, "u1", role="viewer")
    assert u1.joined["role"] == "viewer"
    await u1.send(type="send", room="match:1", client_msg_id="c1", text="hi", ref="s1")
    assert (await u1.expect("error", ref="s1"))["code"] == "role_too_low"
    await u1.send(type="auth", token=rt_server.token("u1", "match:1", "speaker"), ref="a")
    await u1.expect("welcome", ref="a")
    room = await u1.expect("room", room="match:1")
    assert room["role"] == "speaker" and room["mode"] == "open"
    await u1.send(type="send", room="match:1", client_msg_id="c2", text="hi", ref="s2")
    assert (await u1.expect("message", client_msg_id="c2"))["role"] == "speaker"
    # the same role again: nothing to tell
    await u1.send(type="auth", token=rt_server.token("u1", "match:1", "speaker"), ref="b")
    await u1.expect("welcome", ref="b")
    assert [f for f in await u1.frames(0.5) if f["type"] == "room"] == []
