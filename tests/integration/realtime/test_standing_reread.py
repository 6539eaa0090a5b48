"""A running node learns standing decisions that reached Redis only through the hash.

Node A bans a user and changes a room's mode while Redis is down, then is killed (kill -9)
before it could write them; when A starts again it writes its log's standing state into the
hash (realtime/standing/, reconcile). Node B runs all along: no envelope and no stream entry ever
carries those decisions to it, so before B re-read the hash it let the banned user post
until B itself restarted. Two real ``sideline serve`` processes and a redis-server of the
test's own, killed and started again (empty).

Then the hub in-process over a real Redis (sockets are recorders, as in test_hub.py): what a
re-read applies. Only entries newer than what the node's state holds for their subject: one
it has already (from an envelope, or an earlier re-read) changes nothing and is not told
twice, an older one never overrides a newer one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.events import Event, EventType, new_event, utcnow
from service.realtime.envelope import Envelope, encode_envelope, events_raw
from service.realtime.render import render
from service.realtime.standing import RedisStanding
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_hub import connect, hub, settle  # noqa: F401  (fixture)
from tests.integration.realtime.test_lost_envelopes import in_two_rooms
from tests.integration.realtime.test_standing_outage import (
    eventually,
    http_send,
    refused,
    standing_subjects,
)  # fmt: skip
from tests.integration.realtime.test_two_nodes import admin, start_two


@pytest.mark.slow
async def test_a_running_node_enforces_a_ban_written_only_into_the_hash(start_server, own_redis):
    a, b = start_two(start_server, own_redis.url)
    bob = await WsClient.login(b, "bob")
    dan = await WsClient.login(b, "dan", room="match:5", context="match:5")
    own_redis.kill()
    with admin(a) as api:
        assert api.post("/v1/admin/rooms/match:1/bans", json={"user_id": "bob"}).status_code == 201
        assert api.put("/v1/admin/rooms/match:5", json={"mode": "reactions-only"}).status_code == 200
    a.kill()  # what A kept for Redis is gone with it; its log has both
    own_redis.start()
    a.start()  # writes its log's standing state into the hash; B stays up
    await eventually(lambda: {"ban|match:1|bob", "mode|match:5"} <= standing_subjects(own_redis))

    await eventually(lambda: refused(http_send(b, "bob", "match:1", "b1")) == "user_banned", 15)
    banned = await bob.expect("error", code="user_banned", timeout=10)
    assert banned["room"] == "match:1"
    assert (await bob.expect("left", room="match:1"))["reason"] == "banned"
    assert (await dan.expect("room", room="match:5", mode="reactions-only", timeout=10))
    assert refused(http_send(b, "dan", "match:5", "d1")) == "reactions_only"
    assert refused(http_send(b, "cat", "match:1", "c1")) is None


def on_b(event_type: EventType, room: str, user: str = "", ago: float = 0, **payload: object) -> Event:
    """A standing event node B committed ``ago`` seconds ago."""
    e = new_event(event_type, user_id=user or "admin", room_id=room, payload=payload,
                  occurred_at=utcnow() - timedelta(seconds=ago))  # fmt: skip
    e.seq, e.epoch, e.node_id = 1, "epoch-of-node-b", "node-b"
    return e


def mode(m: str, ago: float = 0) -> Event:
    return on_b(EventType.ROOM_MODE_CHANGED, "match:1", ago=ago, mode=m, slow_mode_seconds=0,
                max_message_length=500)  # fmt: skip


def live(hub, n: int, *events: Event) -> bytes:  # noqa: F811
    """Node B's ``n``-th envelope, as its hub publishes it."""
    return encode_envelope(Envelope(
        kind="events", origin="node-b", frames=[out for e in events for out in render(hub.c, e)],
        events=events_raw(list(events)), needs_events=True, boot="b1", n=n,
    ))  # fmt: skip


async def in_hash(redis_url: str, *events: Event) -> None:
    """What node B wrote into the standing hash (and nothing else)."""
    writer = RedisStanding(redis_url, prefix="t")
    await writer.remember(list(events))
    await writer.close()


async def test_a_reread_applies_the_newer_entries_once(hub, redis_url):  # noqa: F811
    x, y = await in_two_rooms(hub, redis_url)
    await hub.standing.recall()  # as at start: the hash as it is then is applied there
    await hub.reread_standing()
    assert x.of("error") == []
    await in_hash(redis_url, on_b(EventType.USER_BANNED, "match:1", "bob"), mode("reactions-only"))
    await hub.reread_standing()
    await settle()
    assert hub.c.state.room("match:1").settings.mode.value == "reactions-only"
    assert [fr["code"] for fr in x.of("error")] == ["user_banned"]
    assert [fr["reason"] for fr in x.of("left")] == ["banned"]
    await hub.reread_standing()  # nothing changed since: nothing applied again
    await in_hash(redis_url, on_b(EventType.USER_BANNED, "match:2", "zed"))  # another subject
    await hub.reread_standing()
    await settle()
    assert len(x.of("error")) == 1 and y.of("error") == []
    assert hub.stats.remote_events == 3


async def test_a_reread_does_not_apply_what_the_node_has_nor_older_entries(hub, redis_url):  # noqa: F811
    x, _ = await in_two_rooms(hub, redis_url)
    await hub.standing.recall()
    ban, newer = on_b(EventType.USER_BANNED, "match:1", "bob"), mode("reactions-only")
    await hub.receive(live(hub, 1, ban, newer))  # heard live
    await settle()
    assert [fr["code"] for fr in x.of("error")] == ["user_banned"]
    # the hash gets the same ban, and an older mode (the newer one's write has not come yet)
    await in_hash(redis_url, ban, mode("open", ago=60))
    events = hub.stats.remote_events
    await hub.reread_standing()
    await settle()
    assert hub.stats.remote_events == events, "applied again"
    assert len(x.of("error")) == 1, "told twice"
    assert hub.c.state.room("match:1").settings.mode.value == "reactions-only", "overridden"
