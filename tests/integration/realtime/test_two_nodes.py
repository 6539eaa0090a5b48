"""Two ``sideline serve`` processes sharing a real redis-server: one room across both."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.fixtures.ws import WsClient

pytestmark = pytest.mark.slow


def start_two(start_server, redis_url, *, b_redis_url: str = "", **extra: str):
    """Nodes A and B on one Redis (``b_redis_url``: B reaches it by another way, a proxy)."""
    env = dict(
        SIDELINE_REALTIME__BROKER="redis", SIDELINE_REALTIME__REDIS_URL=redis_url,
        SIDELINE_REALTIME__PRESENCE_TTL_SECONDS="1.5",
        # both nodes must accept the same tokens: one host backend, one shared secret
        SIDELINE_AUTH__HS256_SECRET="two-node-test-secret-0123456789abcdef",
        SIDELINE_ADMIN__API_KEY="two-node-admin-key", **extra,
    )  # fmt: skip
    a = start_server(node_id="node-a", data="a", **env)
    b_env = {**env, "SIDELINE_REALTIME__REDIS_URL": b_redis_url or redis_url}
    b = start_server(node_id="node-b", data="b", **b_env)
    return a, b


@pytest.fixture
def two_nodes(start_server, redis_url):
    return start_two(start_server, redis_url)


def admin(server) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"X-Admin-Key": "two-node-admin-key"}, timeout=10)


async def test_message_on_a_reaches_b_once(two_nodes):
    a, b = two_nodes
    ann = await WsClient.login(a, "ann")
    bob = await WsClient.login(b, "bob")
    assert ann.joined["epoch"] != bob.joined["epoch"], "each node writes its own log shard"
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="hello from A", ref="s")
    ack = await ann.expect("ack", ref="s")
    got = await bob.expect("message", message_id=ack["message_id"])
    assert got["text"] == "hello from A" and got["epoch"] == ann.joined["epoch"]
    await asyncio.sleep(0.5)
    assert [f for f in await bob.frames(0.3) if f["type"] == "message"] == []
    # B applied A's event: its history has it, and B's users can react to it
    late = await WsClient.login(b, "cat")
    assert [m["message_id"] for m in late.joined["history"]] == [ack["message_id"]]
    await late.send(type="react", room="match:1", message_id=ack["message_id"], emoji="🔥", ref="r")
    assert (await late.expect("ack", ref="r"))["count"] == 1
    counts = await ann.expect("reaction", timeout=5)
    assert counts["messages"][ack["message_id"]] == {"🔥": 1}


async def test_presence_merges_and_expires_when_a_node_dies(two_nodes):
    a, b = two_nodes
    ann = await WsClient.login(a, "ann")
    await WsClient.login(b, "bob")
    merged = await ann.expect("presence", count=2, timeout=5)
    assert merged["joined"] == [{"user_id": "bob", "name": "bob"}]
    b.kill()  # no shutdown code runs: bob's entry must expire on its own
    # (a count=1 frame from before bob joined may still be unread: match on who left)
    gone = await ann.expect("presence", left=["bob"], timeout=8)
    assert gone["count"] == 1


async def test_mute_and_mode_made_on_a_are_enforced_on_b(two_nodes):
    a, b = two_nodes
    bob = await WsClient.login(b, "bob")
    with admin(a) as api:
        r = api.post("/v1/admin/rooms/match:1/mutes", json={"user_id": "bob", "duration_seconds": 60})
        assert r.status_code == 201, r.text
    assert (await bob.expect("notice", code="user_muted", timeout=5))["room"] == "match:1"
    await bob.send(type="send", room="match:1", client_msg_id="c1", text="let me talk", ref="s")
    assert (await bob.expect("notice", ref="s"))["code"] == "user_muted"
    cat = await WsClient.login(b, "cat")
    with admin(a) as api:
        assert api.put("/v1/admin/rooms/match:1", json={"mode": "reactions-only"}).status_code == 200
    assert (await cat.expect("room", mode="reactions-only", timeout=5))["room"] == "match:1"
    await cat.send(type="send", room="match:1", client_msg_id="c2", text="hi", ref="s2")
    assert (await cat.expect("error", ref="s2"))["code"] == "reactions_only"


async def test_resume_on_the_same_node_replays_remote_frames(two_nodes):
    a, b = two_nodes
    bob = await WsClient.login(b, "bob")
    ann = await WsClient.login(a, "ann")
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="seen", ref="s1")
    seen = await ann.expect("ack", ref="s1")
    await bob.expect("message", message_id=seen["message_id"])
    position = dict(
        after_seq=bob.joined["seq"], epoch=bob.joined["epoch"], boot=bob.joined["boot"],
        remote={seen["epoch"]: seen["seq"]},
    )  # fmt: skip
    await bob.close()
    await ann.send(type="send", room="match:1", client_msg_id="c2", text="missed", ref="s2")
    missed = await ann.expect("ack", ref="s2")
    await asyncio.sleep(0.5)
    back = await WsClient.login(b, "bob", join=position)
    assert back.joined["resumed"] is True
    replay = await back.frames_until(lambda fs: any(f["type"] == "message" for f in fs), then=0.5)
    got = [f["message_id"] for f in replay if f["type"] == "message"]
    assert got == [missed["message_id"]]
    # on the other node the position means nothing: resync
    other = await WsClient.login(a, "bob", join=position)
    assert any(f["type"] == "resync" for f in other.seen)


async def test_a_node_that_restarts_knows_what_other_nodes_decided_before(two_nodes):
    a, b = two_nodes
    ann = await WsClient.login(a, "ann", room="match:4", context="match:4")
    for i in (1, 2):
        await ann.send(type="send", room="match:4", client_msg_id=f"c{i}", text=f"before {i}", ref=f"s{i}")
        await ann.expect("ack", ref=f"s{i}")
    await ann.send(type="react", room="match:4", message_id=(await ann.expect("message", text="before 1"))["message_id"],
                   emoji="🔥", ref="r")  # fmt: skip
    await ann.expect("ack", ref="r")
    with admin(a) as api:
        assert api.post("/v1/admin/rooms/match:1/bans", json={"user_id": "bob"}).status_code == 201
        assert api.put("/v1/admin/rooms/match:2", json={"mode": "reactions-only"}).status_code == 200
        r = api.post("/v1/admin/rooms/match:3/mutes", json={"user_id": "cat", "duration_seconds": 600})
        assert r.status_code == 201
        # lifted again on A: the newest decision is the one B must know
        assert api.delete("/v1/admin/rooms/match:3/mutes/cat").json() == {"lifted": True}
    assert b.stop() in (0, -15)  # uvicorn re-raises SIGTERM after its graceful shutdown
    b.start()  # its own log shard has none of that; Redis has
    with httpx.Client(base_url=b.url, timeout=10) as http:
        def send(user: str, room: str) -> httpx.Response:
            token = b.token(user, room)
            return http.post(f"/v1/rooms/{room}/messages", headers={"Authorization": f"Bearer {token}"},
                             json={"client_msg_id": f"{user}-{room}", "text": "hello"})  # fmt: skip

        banned = send("bob", "match:1")
        assert banned.status_code == 403 and banned.json()["error"]["code"] == "user_banned", banned.text
        quiet = send("dan", "match:2")
        assert quiet.status_code == 403 and quiet.json()["error"]["code"] == "reactions_only", quiet.text
        assert send("cat", "match:3").status_code == 201  # the unmute, newer than the mute
        assert send("dan", "match:1").status_code == 201
    # and A's messages from before the restart are in B's history, in order, with reactions
    late = await WsClient.login(b, "eve", room="match:4", context="match:4")
    history = [(m["text"], m.get("reactions", {})) for m in late.joined["history"]]
    assert history[:2] == [("before 1", {"🔥": 1}), ("before 2", {})]


async def test_rate_limits_count_posts_made_through_either_node(start_server, redis_url):
    a, b = start_two(start_server, redis_url, SIDELINE_MODERATION__ENABLED="true")
    headers = {"Authorization": f"Bearer {a.token('gus', 'match:1')}"}  # one token backend: valid on both

    def send(node, i: int) -> httpx.Response:
        return httpx.post(f"{node.url}/v1/rooms/match:1/messages", headers=headers, timeout=10,
                          json={"client_msg_id": f"g{i}", "text": f"message number {i}"})  # fmt: skip

    sent_on_a = [send(a, i) for i in range(3)]
    assert [r.status_code for r in sent_on_a] == [201, 201, 201]
    # A's commits reach B over Redis (B counts them as it applies them); waited for, not guessed
    ids = {r.json()["message_id"] for r in sent_on_a}
    deadline = time.monotonic() + 10
    while not ids <= {m["message_id"] for m in httpx.get(f"{b.url}/v1/rooms/match:1/messages", headers=headers,
                                                        timeout=10).json()["messages"]}:  # fmt: skip
        assert time.monotonic() < deadline, "A's messages never reached B"
        await asyncio.sleep(0.05)
    assert [send(b, i).status_code for i in (3, 4, 5)] == [201, 201, 429]  # 5 in 5 s in all


async def test_taps_made_just_before_the_last_socket_of_a_node_leaves_reach_the_other(two_nodes):
    """A node publishes its crowd taps at most once per interval; a tap still waiting for it
    when the node's last socket leaves the room is published then, not dropped."""
    a, b = two_nodes
    bob = await WsClient.login(b, "bob")
    ann = await WsClient.login(a, "ann")
    await ann.send(type="react", room="match:1", emoji="🔥")
    await ann.send(type="react", room="match:1", emoji="🔥")  # waits for the next interval
    await ann.send(type="leave", room="match:1", ref="l")
    await ann.expect("left", ref="l")
    taps = [f["crowd"] for f in await bob.frames(1.5) if f["type"] == "reaction" and f.get("crowd")]
    assert sum(t.get("🔥", 0) for t in taps) == 2, taps
