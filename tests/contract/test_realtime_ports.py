"""One suite per real-time port, run over every implementation (memory, and a real Redis)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from service.realtime.brokers.memory import MemoryBroker
from service.realtime.brokers.redis import RedisBroker
from service.realtime.presence.memory import MemoryPresence
from service.realtime.presence.redis import RedisPresence


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def presence_factory(request) -> Callable[..., object]:
    if request.param == "memory":
        shared: dict = {}

        def memory(node: str, clock: Clock, ttl: float = 30.0) -> MemoryPresence:
            # one process = one node; a shared dict stands in for the single store
            store = MemoryPresence(node, ttl, clock=clock)
            store._rooms = shared.setdefault("rooms", {})
            return store

        return memory
    url = request.getfixturevalue("redis_url")
    return lambda node, clock, ttl=30.0: RedisPresence(url, node, ttl, prefix="t", clock=clock)


async def test_presence_merges_nodes_and_dedupes_users(presence_factory):
    clock = Clock()
    a, b = presence_factory("a", clock), presence_factory("b", clock)
    await a.add("match:1", "u1", "Ann")
    await b.add("match:1", "u2", "Bob")
    await b.add("match:1", "u1", "Ann")  # the same user through a second node
    for store in (a, b):
        snap = (await store.snapshot(["match:1", "match:2"], list_max=10))
        assert snap["match:1"].count == 2 and snap["match:1"].members == {"u1": "Ann", "u2": "Bob"}
        assert snap["match:2"].count == 0
    await b.remove("match:1", "u1", "Ann")
    assert (await a.snapshot(["match:1"], 10))["match:1"].members == {"u1": "Ann", "u2": "Bob"}
    await a.close()
    await b.close()


async def test_presence_counts_only_above_the_list_threshold(presence_factory):
    clock = Clock()
    store = presence_factory("a", clock)
    for i in range(5):
        await store.add("match:1", f"u{i}", f"U{i}")
    snap = (await store.snapshot(["match:1"], list_max=3))["match:1"]
    assert snap.count == 5 and snap.members is None
    await store.close()


async def test_entries_of_a_dead_node_expire_and_heartbeats_keep_them(presence_factory):
    clock = Clock()
    alive, dead = presence_factory("alive", clock, 10.0), presence_factory("dead", clock, 10.0)
    await alive.add("match:1", "u1", "Ann")
    await dead.add("match:1", "u2", "Bob")
    clock.now += 8
    await alive.refresh([("match:1", "u1", "Ann")])  # the dead node sends no heartbeat
    clock.now += 5
    snap = (await alive.snapshot(["match:1"], 10))["match:1"]
    assert snap.members == {"u1": "Ann"} and snap.count == 1
    await alive.close()


async def test_close_removes_only_this_nodes_entries(presence_factory):
    clock = Clock()
    a, b = presence_factory("a", clock), presence_factory("b", clock)
    await a.add("match:1", "u1", "Ann")
    await b.add("match:1", "u2", "Bob")
    await a.close()
    assert (await b.snapshot(["match:1"], 10))["match:1"].members == {"u2": "Bob"}
    await b.close()


@pytest.fixture(params=["memory", "redis"])
async def brokers(request) -> AsyncIterator[tuple[list[object], list[list[bytes]]]]:
    if request.param == "memory":
        nodes = [MemoryBroker()]
    else:
        url = request.getfixturevalue("redis_url")
        nodes = [RedisBroker(url, prefix="t"), RedisBroker(url, prefix="t")]
    inboxes: list[list[bytes]] = []
    for broker in nodes:
        inbox: list[bytes] = []
        inboxes.append(inbox)

        async def on_message(data: bytes, inbox: list[bytes] = inbox) -> None:
            inbox.append(data)

        await broker.start(on_message)
    await asyncio.sleep(0.1)  # subscriptions are live
    yield nodes, inboxes
    for broker in nodes:
        await broker.stop()


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_every_node_gets_every_message_once_in_order(brokers):
    nodes, inboxes = brokers
    sent = [f"m{i}".encode() for i in range(200)]
    for data in sent:
        nodes[0].publish(data)
    await wait_for(lambda: all(len(inbox) >= len(sent) for inbox in inboxes))
    await asyncio.sleep(0.1)
    for inbox in inboxes:
        assert inbox == sent


async def test_a_failing_handler_does_not_stop_delivery(brokers):
    nodes, _ = brokers
    broker = nodes[0]
    await broker.stop()
    got: list[bytes] = []

    async def flaky(data: bytes) -> None:
        if data == b"bad":
            raise ValueError("boom")
        got.append(data)

    await broker.start(flaky)
    await asyncio.sleep(0.1)
    for data in (b"a", b"bad", b"b"):
        broker.publish(data)
    await wait_for(lambda: got == [b"a", b"b"])


@pytest.mark.slow
async def test_redis_broker_survives_a_redis_restart(tmp_path):
    """Fan-out between nodes stops while Redis is down and resumes by itself when it is back."""
    import subprocess

    from tests.conftest import require_tool
    from tests.fixtures.redis import _wait
    from tests.fixtures.server import free_port

    binary = require_tool("redis-server", "apt-get install -y redis-server")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([binary, "--port", str(port), "--save", "", "--appendonly", "no",
                                 "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)  # fmt: skip
        _wait(url, proc)
        return proc

    proc = start()
    got: list[bytes] = []

    async def on_message(data: bytes) -> None:
        got.append(data)

    a, b = RedisBroker(url, prefix="t"), RedisBroker(url, prefix="t")
    await a.start(on_message)
    await b.start(on_message)
    try:
        await asyncio.sleep(0.1)
        b.publish(b"before")
        await wait_for(lambda: got.count(b"before") == 2)
        proc.kill()
        proc.wait()
        b.publish(b"during")  # lost: logged, and the publisher keeps going
        await asyncio.sleep(0.5)
        proc = start()
        deadline = asyncio.get_running_loop().time() + 15
        while got.count(b"after") < 2:  # resubscription takes a retry or two
            assert asyncio.get_running_loop().time() < deadline, f"no delivery after restart: {got}"
            b.publish(b"after")
            await asyncio.sleep(0.5)
    finally:
        proc.kill()
        proc.wait()
        for broker in (a, b):
            with contextlib.suppress(Exception):  # Redis is gone now; stopping must not hang
                await asyncio.wait_for(broker.stop(), 5)


async def test_redis_broker_says_when_its_subscription_was_made_again(redis_url):
    """redis-py reconnects a dropped subscriber and subscribes again without a word; what was
    published meanwhile is gone. The broker says so, in order with the messages."""
    import redis

    got: list[object] = []

    async def on_message(data: bytes) -> None:
        got.append(data)

    async def on_loss() -> None:
        got.append("loss")

    broker = RedisBroker(redis_url, prefix="t")
    await broker.start(on_message, on_loss)
    plain = redis.Redis.from_url(redis_url)
    try:
        await asyncio.sleep(0.1)
        broker.publish(b"before")
        await wait_for(lambda: got == [b"before"])
        assert plain.client_kill_filter(_type="pubsub") == 1
        await wait_for(lambda: "loss" in got)  # no message needed to notice it
        broker.publish(b"after")
        await wait_for(lambda: len(got) == 3)
        assert got == [b"before", "loss", b"after"]
    finally:
        plain.close()
        await broker.stop()


# -- standing: what a node that starts later must know -------------------------------------------


def _standing_event(event_type, /, *, user="bob", room="match:1", node="a", at_ms=0, **payload):
    from datetime import UTC, datetime, timedelta

    from service.domain.events import new_event

    e = new_event(event_type, user_id=user, room_id=room, payload=payload,
                  occurred_at=datetime(2026, 3, 1, tzinfo=UTC) + timedelta(milliseconds=at_ms))  # fmt: skip
    e.node_id = node
    return e


def test_standing_keys_name_the_subject_each_event_sets():
    from service.domain.events import EventType as T
    from service.realtime.standing import STANDING_TYPES, standing_key

    assert standing_key(_standing_event(T.USER_MUTED)) == standing_key(_standing_event(T.USER_UNMUTED))
    assert standing_key(_standing_event(T.USER_BANNED, scope="global")) == "ban|*|bob"
    assert standing_key(_standing_event(T.USER_BANNED)) == "ban|match:1|bob"
    assert standing_key(_standing_event(T.ROOM_MODE_CHANGED, mode="open")) == "mode|match:1"
    assert standing_key(_standing_event(T.MODERATION_POLICY_CHANGED, kind="match")) == "policy|match"
    assert standing_key(_standing_event(T.POLL_CLOSED, poll_id="p1", results=[1, 0])) == "poll|p1"
    assert standing_key(_standing_event(T.MESSAGE_SENT, text="hi")) is None
    assert all(standing_key(_standing_event(t, kind="k")) for t in STANDING_TYPES)


async def test_redis_standing_keeps_the_newest_event_per_subject_whatever_the_write_order(redis_url):
    from service.domain.events import EventType as T
    from service.realtime.standing import RedisStanding

    a, b = RedisStanding(redis_url, prefix="t"), RedisStanding(redis_url, prefix="t")
    muted = _standing_event(T.USER_MUTED, node="a", at_ms=10)
    unmuted = _standing_event(T.USER_UNMUTED, node="b", at_ms=20)
    mode = _standing_event(T.ROOM_MODE_CHANGED, node="a", at_ms=5, mode="reactions-only")
    await b.remember([unmuted])
    await a.remember([muted, mode, _standing_event(T.MESSAGE_SENT, text="not standing")])
    recalled = await RedisStanding(redis_url, prefix="t").recall()
    assert [e.event_id for e in recalled] == [mode.event_id, unmuted.event_id]  # oldest first
    assert recalled[1] == unmuted
    assert await RedisStanding(redis_url, prefix="other").recall() == []
    for s in (a, b):
        await s.close()


async def test_redis_standing_recalls_recent_events_after_the_standing_events(redis_url):
    from service.domain.events import EventType as T
    from service.realtime.standing import RedisStanding

    writer = RedisStanding(redis_url, prefix="r", recent_events=100)
    ban = _standing_event(T.USER_BANNED, at_ms=50)
    await writer.remember([ban])
    for start in range(0, 1000, 50):  # one call per commit of 50
        writer.add_recent([_standing_event(T.MESSAGE_SENT, text=f"m{i}", at_ms=i)
                           for i in range(start, start + 50)])  # fmt: skip
        await asyncio.sleep(0)
    await writer.close()  # waits for the queued writes
    recalled = await RedisStanding(redis_url, prefix="r", recent_events=100).recall()
    assert recalled[0] == ban
    # capped about 100 (Redis trims whole nodes of the stream): the newest events stay, in order
    texts = [e.payload["text"] for e in recalled[1:]]
    assert 100 <= len(texts) <= 300 and texts == [f"m{i}" for i in range(1000 - len(texts), 1000)]
    assert await RedisStanding(redis_url, prefix="r", recent_events=0).recall() == [ban]
