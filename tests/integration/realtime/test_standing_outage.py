"""Redis down or frozen for a while, then back: what two real nodes do about it.

Two ``sideline serve`` processes and a redis-server of this test's own, killed and started
again on the same port (empty, as one without persistence comes back), or frozen with
SIGSTOP and thawed with SIGCONT.

- A ban, a mute or a room mode set through node A while Redis is down is committed in A's log;
  A keeps what it could not write to Redis and writes it once Redis is back, so node B
  enforces it, then and after B restarts; and a node that starts writes its log's standing
  state to Redis, so a decision whose write-back was cut by A's own restart is not lost.
- A client sending well under the frame rate is not closed for flooding because the server
  stalled on Redis while its frames queued up (limits.py).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis

from tests.fixtures.redis import RedisServer
from tests.fixtures.server import ServerProcess
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_two_nodes import admin, start_two

pytestmark = pytest.mark.slow


def standing_subjects(server: RedisServer) -> set[str]:
    client = redis.Redis.from_url(server.url)
    try:
        return {k.decode() for k in client.hkeys("sideline:standing")}
    finally:
        client.close()


def http_send(node: ServerProcess, user: str, room: str, cid: str) -> httpx.Response:
    with httpx.Client(base_url=node.url, timeout=15) as http:
        return http.post(
            f"/v1/rooms/{room}/messages", headers={"Authorization": f"Bearer {node.token(user, room)}"},
            json={"client_msg_id": cid, "text": "hello " + cid},
        )  # fmt: skip


def refused(response: httpx.Response) -> str | None:
    """The error code of a refused send, None when it was accepted."""
    if response.status_code == 201:
        return None
    return str(response.json()["error"]["code"])


async def eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(check):
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.2)


async def test_a_ban_and_a_mode_set_while_redis_is_down_are_enforced_on_the_other_node(
    start_server, own_redis
):
    a, b = start_two(start_server, own_redis.url)
    bob = await WsClient.login(b, "bob")
    own_redis.kill()
    with admin(a) as api:
        assert api.post("/v1/admin/rooms/match:1/bans", json={"user_id": "bob"}).status_code == 201
        assert api.put("/v1/admin/rooms/match:5", json={"mode": "reactions-only"}).status_code == 200
    assert refused(http_send(a, "bob", "match:1", "a1")) == "user_banned"
    own_redis.start()  # empty: what it held before the outage is gone too

    # A writes what it kept; B reads it back once it notices A's envelopes were lost
    await eventually(lambda: {"ban|match:1|bob", "mode|match:5"} <= standing_subjects(own_redis))
    await eventually(lambda: refused(http_send(b, "bob", "match:1", "b1")) == "user_banned")
    assert refused(http_send(b, "dan", "match:5", "d1")) == "reactions_only"
    assert "user_banned" in [f.get("code") for f in await bob.frames(1.0)]

    assert b.stop() in (0, -15)
    b.start()  # its own log has none of it: Redis has
    assert refused(http_send(b, "bob", "match:1", "b2")) == "user_banned"
    assert refused(http_send(b, "dan", "match:5", "d2")) == "reactions_only"
    assert refused(http_send(b, "cat", "match:1", "c1")) is None


async def test_a_node_that_starts_writes_its_logs_standing_to_redis(start_server, own_redis):
    """A's write-back is cut by its own restart (kill -9 while Redis is down): A writes its
    log's standing state when it starts again, and a B that starts after that enforces it."""
    a, b = start_two(start_server, own_redis.url)
    with admin(a) as api:
        r = api.post("/v1/admin/rooms/match:2/mutes", json={"user_id": "cat", "duration_seconds": 600})
        assert r.status_code == 201
    await eventually(lambda: "mute|match:2|cat" in standing_subjects(own_redis))
    own_redis.kill()
    with admin(a) as api:
        assert api.post("/v1/admin/rooms/match:1/bans", json={"user_id": "bob"}).status_code == 201
    a.kill()
    own_redis.start()  # empty: the mute recorded before the outage is gone as well
    a.start()
    await eventually(lambda: {"ban|match:1|bob", "mute|match:2|cat"} <= standing_subjects(own_redis))
    assert b.stop() in (0, -15)
    b.start()
    assert refused(http_send(b, "bob", "match:1", "b1")) == "user_banned"
    assert refused(http_send(b, "cat", "match:2", "c1")) == "user_muted"


async def test_a_client_under_the_rate_is_not_closed_for_frames_queued_while_redis_froze(
    start_server, own_redis
):
    """10 sends a second (the limit is 20/s, bursts of 10 here) while each send's claim waits
    for a frozen Redis (up to its 2 s timeout): 20 frames queue up on the server behind each
    and are read in a burst; they were sent within the rate, so none counts as a flood (before:
    10 admitted, 10 refused, closed with 4302)."""
    node = start_server(
        SIDELINE_REALTIME__BROKER="redis", SIDELINE_REALTIME__REDIS_URL=own_redis.url,
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="2.0", SIDELINE_REALTIME__FRAME_BURST="10",
    )  # fmt: skip
    ann = await WsClient.login(node, "ann")
    sent = 0

    async def chatter(seconds: float) -> None:
        nonlocal sent
        for _ in range(int(seconds * 10)):
            sent += 1
            await ann.send(type="send", room="match:1", client_msg_id=f"c{sent}", text=f"n{sent}",
                           ref=f"s{sent}")  # fmt: skip
            await asyncio.sleep(0.1)

    await chatter(0.5)
    own_redis.freeze()
    await chatter(4.5)
    own_redis.thaw()
    await chatter(1.5)
    frames = await ann.frames(3.0)
    assert ann.ws.protocol.close_rcvd is None, f"closed: {ann.ws.protocol.close_rcvd}"
    limited = [f for f in ann.seen if f.get("code") == "rate_limited"]
    assert limited == [], limited[:3]
    acked = {f["ref"] for f in ann.seen if f["type"] == "ack"}
    assert len(acked) == sent, (len(acked), sent, frames[-3:])
