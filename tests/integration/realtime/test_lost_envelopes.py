"""Envelopes lost between nodes (Redis pub/sub is at-most-once) are noticed, not silent.

Two ``sideline serve`` processes over a real redis-server, real WebSocket clients on node B.
Redis is made to lose envelopes for real: a publish it refuses (ACL), or subscribers it
disconnects (``CLIENT KILL TYPE pubsub``) and keeps out for a while (``maxclients``), while
node A commits a message. Node B reads what it missed from the recent stream in Redis and
applies it, then the sockets of the room that lost it are told (``resync``, then a fresh
``joined`` whose history holds the lost message), those of other rooms are not; a lost ban
takes the user's socket out; and a resume from a position before the gap gets ``resync``
instead of a replay that lacks the lost message, while one in another room is replayed. When
which rooms lost frames cannot be known (a trimmed stream, an interrupted subscription, the
node's own envelopes), every room reloads.

Only ``events`` envelopes are numbered (a lost typing signal reloads nothing), and each node's
heartbeat says which number it reached, so a lost message is noticed within about a presence
interval even when its node then stays quiet.

Then the hub in-process (real DuckDB log, sockets are recorders, as in test_hub.py): how
envelope numbers and heartbeats are read, that the reload after ``resync`` is not a join, and
(with the recent stream in a real Redis) which rooms a gap reloads.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from service.domain.events import Event, EventType, new_event, uuid7
from service.domain.rooms import Role
from service.identity import Identity
from service.protocol import frames as f
from service.realtime.connection import Connection
from service.realtime.envelope import Envelope, Out, encode_envelope, events_raw
from service.realtime.joining import join
from service.realtime.outbox import Outbox
from service.realtime.render import render
from service.realtime.resume import plan
from service.realtime.standing import RedisStanding
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_hub import Recorder, connect, hub, settle, who  # noqa: F401  (fixture)
from tests.integration.realtime.test_two_nodes import admin, start_two, two_nodes  # noqa: F401  (fixture)


@contextmanager
def plain_redis(url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url)
    try:
        yield client
    finally:
        client.close()


async def post(client: WsClient, text: str, cid: str, room: str = "match:1") -> dict[str, Any]:
    await client.send(type="send", room=room, client_msg_id=cid, text=text, ref=cid)
    return await client.expect("ack", ref=cid)


async def position_after(client: WsClient, seen: dict[str, Any]) -> dict[str, Any]:
    """What ``client`` would resume with once it has received ``seen`` (a message of node A)."""
    await client.expect("message", message_id=seen["message_id"])
    return dict(
        after_seq=client.joined["seq"], epoch=client.joined["epoch"], boot=client.joined["boot"],
        remote={seen["epoch"]: seen["seq"]},
    )  # fmt: skip


def never_got(client: WsClient, message_id: str) -> None:
    got = [f for f in client.seen if f["type"] == "message" and f["message_id"] == message_id]
    assert got == [], "the envelope was not lost: the test proves nothing"


async def told_to_reload(
    client: WsClient, *, timeout: float = 5.0, remote: bool = True, room: str = "match:1"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``resync`` for ``room``, then the fresh ``joined`` that follows it; when frames of
    other nodes were lost (``remote``), with a new ``boot``: older positions cannot be served."""
    resync = await client.expect("resync", room=room, timeout=timeout)
    fresh = await client.expect("joined", room=room)
    assert not fresh.get("resumed")
    assert (fresh["boot"] != client.joined["boot"]) is remote
    return resync, fresh


async def resume_gets_resync(server, user: str, position: dict[str, Any]) -> None:
    back = await WsClient.login(server, user, join=position)
    assert [f["type"] for f in back.seen if f["type"] in ("resync", "joined")] == ["resync", "joined"]
    assert not back.joined.get("resumed")


async def ann_seen_by_bob(a, b) -> tuple[WsClient, WsClient, dict[str, Any]]:
    """Bob on node B and Ann on node A; Ann's message ``seen`` has reached Bob."""
    bob = await WsClient.login(b, "bob")
    ann = await WsClient.login(a, "ann")
    seen = await post(ann, "seen", "c1")
    await bob.expect("message", message_id=seen["message_id"])
    return bob, ann, seen


def metrics(server) -> str:
    return httpx.get(f"{server.url}/metrics", timeout=10).text


@contextmanager
def publishes_refused(redis_url: str) -> Iterator[None]:
    """litestar publishes through a script: Redis refuses every node's publish, nothing else
    (the recent stream is still written)."""
    with plain_redis(redis_url) as r:
        r.execute_command("ACL", "SETUSER", "default", "-evalsha", "-eval")
        try:
            yield
        finally:
            r.execute_command("ACL", "SETUSER", "default", "+@all")


def texts(joined: dict[str, Any]) -> list[str]:
    return [m["text"] for m in joined["history"]]


@pytest.mark.slow
async def test_a_publish_redis_refused_is_noticed_at_the_next_envelope(two_nodes, redis_url):  # noqa: F811
    a, b = two_nodes
    dan = await WsClient.login(b, "dan")  # drops before the gap, resumes after it
    bob, ann, seen = await ann_seen_by_bob(a, b)
    position = await position_after(dan, seen)
    await dan.close()
    with publishes_refused(redis_url):
        lost = await post(ann, "lost", "c2")  # committed on A, never reaches B
        await asyncio.sleep(0.5)
    # its envelope number shows that one is missing (or A's heartbeat did, just before it)
    after = await post(ann, "after", "c3")
    resync, fresh = await told_to_reload(bob)
    never_got(bob, lost["message_id"])
    # read back from the recent stream before the reload, once
    assert texts(fresh).count("lost") == 1, fresh
    if "after" in texts(fresh):
        assert texts(fresh).index("lost") < texts(fresh).index("after")
    else:  # the heartbeat came first: the message after the gap arrives as usual
        await bob.expect("message", message_id=after["message_id"])
    assert "seen" in texts(fresh), fresh
    assert "node-a" in resync["reason"], resync
    await resume_gets_resync(b, "dan", position)
    # node A lost its own envelope too (its sockets get frames through Redis as well); its
    # projection has the message, so the reload there shows it, and its log serves resumes
    _, reloaded = await told_to_reload(ann, remote=False)
    assert "lost" in [m["text"] for m in reloaded["history"]]


def in_room(server, user: str, room: str, **join: Any):
    """``user`` logged in to ``server`` and joined to ``room`` (a token for it)."""
    return WsClient.login(server, user, room=room, context=room, join=join or None)


def reloads(client: WsClient) -> list[str]:
    """The rooms ``client`` was told ``resync`` for so far."""
    return [f["room"] for f in client.seen if f["type"] == "resync"]


@pytest.mark.slow
async def test_a_lost_message_reloads_its_room_only(start_server, redis_url):
    """Node B holds sockets in match:1 and match:2; node A's envelope with a message in match:1
    is lost, and its next one, a message in match:2, shows node B the gap (heartbeats are slow
    here, so that is what shows it). Only match:1 is reloaded, with the lost message; match:2
    goes on in order, that next message included, and a resume there from before the gap is
    still served by replay: nothing of match:2 was lost."""
    a, b = start_two(
        start_server, redis_url, SIDELINE_REALTIME__PRESENCE_INTERVAL_SECONDS="30",
        SIDELINE_REALTIME__REDIS_TIMEOUT_SECONDS="60",
    )  # fmt: skip
    bob = await WsClient.login(b, "bob")
    yan = await in_room(b, "yan", "match:2")
    dan = await in_room(b, "dan", "match:2")  # drops before the gap, resumes after it
    ann = await WsClient.login(a, "ann")
    amy = await in_room(a, "amy", "match:2")
    seen = await post(amy, "seen", "y1", room="match:2")
    await yan.expect("message", message_id=seen["message_id"])
    position = await position_after(dan, seen)
    await dan.close()
    with publishes_refused(redis_url):
        lost = await post(ann, "lost", "x1")  # committed on A, never reaches B
        await asyncio.sleep(0.5)
    after = await post(amy, "after", "y2", room="match:2")
    _, fresh = await told_to_reload(bob)
    never_got(bob, lost["message_id"])
    assert texts(fresh).count("lost") == 1, fresh
    await yan.expect("message", message_id=after["message_id"])
    await asyncio.sleep(1.0)
    assert [m["text"] for m in yan.seen if m["type"] == "message"] == ["seen", "after"]
    assert reloads(yan) == [] and reloads(bob) == ["match:1"]
    back = await in_room(b, "dan", "match:2", **position)
    assert back.joined["resumed"], back.seen
    assert (await back.expect("message"))["message_id"] == after["message_id"]
    assert reloads(back) == []
    gaps = metrics(b)
    assert "sideline_ws_delivery_gaps_total 1.0" in gaps, gaps
    assert "sideline_ws_delivery_gaps_unrecovered_total 0.0" in gaps, gaps
    # node A lost an envelope of its own: which rooms it carried is not known there
    await told_to_reload(ann, remote=False)
    await told_to_reload(amy, remote=False, room="match:2")


@pytest.mark.slow
async def test_a_dropped_subscription_is_noticed_when_it_is_back(two_nodes, redis_url):  # noqa: F811
    a, b = two_nodes
    dan = await WsClient.login(b, "dan")
    yan = await in_room(b, "yan", "match:2")  # in a room whose frames were not lost
    bob, ann, seen = await ann_seen_by_bob(a, b)
    position = await position_after(dan, seen)
    await dan.close()
    with plain_redis(redis_url) as r:
        subscribers = r.client_list(_type="pubsub")
        assert len(subscribers) == 2, subscribers
        # the subscribers cannot come back until maxclients is raised again
        r.config_set("maxclients", len(r.client_list()) - len(subscribers))
        try:
            r.client_kill_filter(_type="pubsub")
            lost = await post(ann, "lost", "c2")  # published to no one
            await asyncio.sleep(0.5)
            assert r.client_list(_type="pubsub") == [], "a subscriber came back too early"
        finally:
            r.config_set("maxclients", 10000)
    resync, fresh = await told_to_reload(bob, timeout=15)  # as soon as B is subscribed again
    never_got(bob, lost["message_id"])
    assert texts(fresh).count("lost") == 1 and texts(fresh).count("seen") == 1, fresh
    assert "interrupted" in resync["reason"], resync
    # envelopes of node B itself may be missing too, which no stream names: every room reloads
    await told_to_reload(yan, room="match:2")
    await resume_gets_resync(b, "dan", position)
    after = await post(ann, "after", "c3")
    await bob.expect("message", message_id=after["message_id"])
    gaps = metrics(b)
    assert "sideline_ws_delivery_gaps_total 1.0" in gaps, gaps
    assert "sideline_ws_delivery_gaps_unrecovered_total 0.0" in gaps, gaps
    history = await WsClient.login(b, "eve")
    assert texts(history.joined).count("lost") == 1, "applied twice to the state of node B"


@pytest.mark.slow
async def test_a_lost_ban_takes_the_users_socket_on_the_other_node_out(two_nodes, redis_url):  # noqa: F811
    a, b = two_nodes
    bob = await WsClient.login(b, "bob")
    cat = await WsClient.login(b, "cat")
    ann = await WsClient.login(a, "ann")
    with publishes_refused(redis_url), admin(a) as api:
        banned = api.post("/v1/admin/rooms/match:1/bans", json={"user_id": "cat"})
        assert banned.status_code == 201, banned.text
        lost = await post(ann, "lost", "c1")
        await asyncio.sleep(0.5)
    await post(ann, "after", "c2")
    await cat.expect("left", room="match:1", reason="banned")
    _, fresh = await told_to_reload(bob)
    never_got(bob, lost["message_id"])
    assert "lost" in texts(fresh), fresh
    sent = httpx.post(
        f"{b.url}/v1/rooms/match:1/messages", json={"text": "hi", "client_msg_id": "k1"},
        headers={"Authorization": f"Bearer {b.token('cat', 'match:1')}"}, timeout=10,
    )  # fmt: skip
    assert sent.status_code == 403 and sent.json()["error"]["code"] == "user_banned", sent.text


@pytest.mark.slow
async def test_a_gap_the_trimmed_stream_no_longer_covers_is_said_and_still_reloads(
    start_server, redis_url
):  # fmt: skip
    with plain_redis(redis_url) as r:
        r.config_set("stream-node-max-entries", 1)  # so Redis trims the stream to its cap exactly
    a, b = start_two(start_server, redis_url, SIDELINE_REALTIME__REDIS_RECENT_EVENTS="3")
    bob, ann, _ = await ann_seen_by_bob(a, b)
    yan = await in_room(b, "yan", "match:2")
    with publishes_refused(redis_url):
        for i in range(5):  # more than the stream keeps: the first lost ones are trimmed away
            await post(ann, f"lost {i}", f"l{i}")
        await asyncio.sleep(0.5)
    await post(ann, "after", "c2")
    _, fresh = await told_to_reload(bob)
    assert "lost 4" in texts(fresh) and "lost 0" not in texts(fresh), fresh
    # which rooms the trimmed ones were for is not known: every room reloads
    await told_to_reload(yan, room="match:2")
    gaps = metrics(b)
    assert "sideline_ws_delivery_gaps_unrecovered_total 1.0" in gaps, gaps


@pytest.mark.slow
async def test_a_lost_typing_envelope_reloads_nothing(two_nodes, redis_url):  # noqa: F811
    """Typing and crowd envelopes are never in the recent stream: there is nothing to read
    back, so losing one must not make every socket of the other node reload every room."""
    a, b = two_nodes
    bob, ann, _ = await ann_seen_by_bob(a, b)
    with publishes_refused(redis_url):
        await ann.send(type="typing", room="match:1")
        await asyncio.sleep(0.5)
    after = await post(ann, "after", "c2")
    await bob.expect("message", message_id=after["message_id"])
    await asyncio.sleep(2.5)  # a few heartbeats too
    assert [f for f in bob.seen if f["type"] == "typing"] == [], "not lost: the test proves nothing"
    assert [f["type"] for f in bob.seen if f["type"] in ("resync", "joined")] == ["joined"]
    gaps = metrics(b)
    assert "sideline_ws_delivery_gaps_total 0.0" in gaps, gaps


@pytest.mark.slow
async def test_a_quiet_rooms_lost_last_message_is_recovered(two_nodes, redis_url):  # noqa: F811
    """Node A publishes nothing after the lost message: its heartbeat (every presence
    interval, 1 s) says which number it reached, so node B notices the loss within about one
    interval, reads the message back and reloads the room."""
    a, b = two_nodes
    bob, ann, _ = await ann_seen_by_bob(a, b)
    with publishes_refused(redis_url):
        lost = await post(ann, "lost", "c2")
        await asyncio.sleep(0.5)
    _, fresh = await told_to_reload(bob, timeout=4)
    never_got(bob, lost["message_id"])
    assert texts(fresh).count("lost") == 1, fresh
    gaps = metrics(b)
    assert "sideline_ws_delivery_gaps_total 1.0" in gaps, gaps


# -- the hub in-process ------------------------------------------------------------------------


def numbered(boot: str, n: int, seq: int = 0) -> bytes:
    """An envelope of node B's process ``boot``, its ``n``-th; with a frame for match:1."""
    text = json.dumps({"type": "message", "room": "match:1", "message_id": f"m{seq}", "seq": seq})
    frames = [Out(room="match:1", to=None, text=text, seq=seq, epoch="epoch-of-node-b")] if seq else []
    return encode_envelope(Envelope(kind="events", origin="node-b", frames=frames, boot=boot, n=n))


async def test_numbers_are_read_per_publisher_process(hub):  # noqa: F811
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    await hub.receive(encode_envelope(Envelope(kind="events", origin="node-c")))  # not numbered
    for boot, n in [("b1", 7), ("b1", 8), ("b2", 1), ("b2", 2)]:  # node B restarted: 1 again
        await hub.receive(numbered(boot, n))
    await settle()
    assert hub.stats.delivery_gaps == 0 and rec.of("resync") == []
    await hub.receive(numbered("b2", 4))  # 3 was lost
    await hub.receive(numbered("b3", 2))  # another restart, and its first envelope was lost
    await settle()
    assert hub.stats.delivery_gaps == 2
    assert [r["reason"] for r in rec.of("resync")] == [
        "envelopes of node node-b were lost on their way to node node-1: "
        "frames of this room may be missing"
    ] * 2
    assert len(rec.of("joined")) == 3, "the join, then one fresh joined per resync"


def beat(boot: str, n: int) -> bytes:
    """A heartbeat of node B's process ``boot`` whose newest events envelope is its ``n``-th."""
    return encode_envelope(Envelope(kind="beat", origin="node-b", boot=boot, n=n))


async def test_a_heartbeat_reveals_a_lost_last_envelope(hub):  # noqa: F811
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    await hub.receive(beat("b1", 0))  # nothing heard of node B yet, nor published by it
    await hub.receive(numbered("b1", 1))
    await hub.receive(beat("b1", 1))  # the usual case: everything heard
    await settle()
    assert hub.stats.delivery_gaps == 0 and rec.of("resync") == []
    await hub.receive(beat("b1", 2))  # envelope 2 was lost, and node B is quiet since
    await hub.receive(beat("b1", 2))
    await settle()
    assert hub.stats.delivery_gaps == 1 and len(rec.of("resync")) == 1
    assert "envelopes of node node-b were lost" in rec.of("resync")[0]["reason"]
    await hub.receive(numbered("b1", 3))  # numbers go on from the beat
    await hub.receive(beat("b2", 0))  # node B restarted and published no events yet
    await hub.receive(numbered("b2", 1))
    await hub.receive(beat("b2", 1))
    await settle()
    assert hub.stats.delivery_gaps == 1 and len(rec.of("resync")) == 1
    await hub.receive(beat("b3", 1))  # restarted again, and its first envelope was lost
    await settle()
    assert hub.stats.delivery_gaps == 2


async def test_one_node_with_the_memory_broker_publishes_no_heartbeat(hub):  # noqa: F811
    await hub._presence_tick()
    await settle()
    assert hub.stats.envelopes == 0


async def test_a_resume_across_the_gap_gets_resync(hub):  # noqa: F811
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    await hub.receive(numbered("b1", 1, seq=41))
    joined = rec.of("joined")[0]
    position = f.Join(
        room="match:1", after_seq=joined["seq"], epoch=joined["epoch"], boot=joined["boot"],
        remote={"epoch-of-node-b": 41},
    )  # fmt: skip
    await hub.disconnect(conn)
    await hub.receive(numbered("b1", 3, seq=43))  # 2 (frame 42) was lost
    resumed = await plan(hub.c, hub.remote, who("bob"), position, 500, lambda: hub.delivered_seq)
    assert resumed.frames == [] and resumed.resync is not None
    assert "envelopes of node node-b were lost" in resumed.resync


async def test_the_reload_after_resync_records_nothing_and_keeps_a_waiting_leave(hub):  # noqa: F811
    """The socket is in the room already: the reload is not a join of the user."""
    tab, _ = connect(hub, "bob")
    phone, rec = connect(hub, "bob")
    for conn in (tab, phone):
        await join(hub, conn, f.Join(room="match:1"))
    await hub.part(tab, "match:1", who("bob"))  # the membership ends with the phone's leave
    await hub.receive(numbered("b1", 1))
    await hub.receive(numbered("b1", 3))
    await settle()
    assert [r["type"] for r in rec.frames[-2:]] == ["resync", "joined"]
    await hub.disconnect(phone)
    await settle()
    kinds = [e.event_type for e in await hub.c.log.read(0, 100) if e.user_id == "bob"]
    assert kinds == [EventType.ROOM_JOINED, EventType.ROOM_LEFT]


async def test_after_an_interruption_the_first_envelope_is_checked_against_what_was_had(hub):  # noqa: F811
    """After the subscription was made again (or at start), numbers are heard afresh from the
    next envelope; one that skips past what the node had (read back, or heard before) means
    envelopes published meanwhile were lost too."""
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    for n in (1, 2):
        await hub.receive(numbered("b1", n))
    await hub.lost()  # the broker's subscription was made again: one gap
    await settle()
    assert hub.stats.delivery_gaps == 1
    await hub.receive(numbered("b1", 3))  # the next one: nothing more was lost
    await settle()
    assert hub.stats.delivery_gaps == 1
    for first, gaps in (
        (numbered("b1", 5), 3),  # 4 was published while the node was not listening
        (beat("b1", 5), 4),  # what was had: nothing more lost
        (beat("b1", 6), 6),  # 6 was published while the node was not listening
    ):  # fmt: skip
        await hub.lost()
        await hub.receive(first)
        await settle()
        assert hub.stats.delivery_gaps == gaps
    assert len(rec.of("resync")) == 6


# -- which rooms a gap reloads (the hub in-process, the recent stream in a real Redis) ----------


def sent_on_b(room: str, text: str, seq: int) -> Event:
    """A message node B committed (at ``seq`` of its shard)."""
    e = new_event(EventType.MESSAGE_SENT, user_id="ann", room_id=room, message_id=uuid7(),
                  payload={"text": text, "name": "Ann", "visibility": "public"})  # fmt: skip
    e.seq, e.epoch, e.node_id = seq, "epoch-of-node-b", "node-b"
    return e


def carrying(hub, n: int, *events: Event) -> bytes:  # noqa: F811
    """Node B's ``n``-th envelope (process b1), with ``events`` and their frames."""
    frames = [out for e in events for out in render(hub.c, e)]
    return encode_envelope(Envelope(
        kind="events", origin="node-b", frames=frames, events=events_raw(list(events)),
        boot="b1", n=n,
    ))  # fmt: skip


async def in_stream(redis_url: str, *envelopes: tuple[int, Event]) -> None:
    """What node B wrote to the recent stream: the event of each of its envelopes (``n``)."""
    writer = RedisStanding(redis_url, prefix="t")
    for n, e in envelopes:
        writer.add_recent([e], "b1", n)
    await writer.close()


async def in_two_rooms(hub, redis_url: str) -> tuple[Recorder, Recorder]:  # noqa: F811
    """Bob's socket in match:1 and Yan's in match:2; gaps are read back from ``redis_url``."""
    hub.standing = RedisStanding(redis_url, prefix="t")
    bob, x = connect(hub, "bob")
    yan = Connection(Identity(user_id="yan", name="Yan", context_id="match:2", role=Role.USER),
                     Outbox((y := Recorder()).send, 64))  # fmt: skip
    hub.connections.add(yan)
    await join(hub, bob, f.Join(room="match:1"))
    await join(hub, yan, f.Join(room="match:2"))
    return x, y


def first_lost_after() -> tuple[Event, Event, Event]:
    """Node B's messages: "first" in match:2, "lost" in match:1, "after" in match:2."""
    return sent_on_b("match:2", "first", 41), sent_on_b("match:1", "lost", 42), \
        sent_on_b("match:2", "after", 43)  # fmt: skip


def only_match_1_reloaded(x: Recorder, y: Recorder) -> None:
    """match:1's socket reloaded with "lost"; match:2's got "first" and "after" in order."""
    assert [r["room"] for r in x.of("resync")] == ["match:1"] and y.of("resync") == []
    assert texts(x.of("joined")[-1]) == ["lost"]
    assert [m["text"] for m in y.of("message")] == ["first", "after"]


def history(hub, room: str) -> list[str]:  # noqa: F811
    return [e.payload["text"] for e in hub.c.state.recent(room)]


async def test_a_gap_reloads_only_the_rooms_of_the_lost_events(hub, redis_url):  # noqa: F811
    """Envelope 2 (a message in match:1) was lost; envelope 3, in match:2, shows it. Only
    match:1 reloads and its record of remote frames starts again; envelope 3 is not read back
    but delivered as usual, and match:2's record still serves resumes."""
    x, y = await in_two_rooms(hub, redis_url)
    first, lost, after = first_lost_after()
    await in_stream(redis_url, (1, first), (2, lost), (3, after))
    await hub.receive(carrying(hub, 1, first))
    boots = {room: hub.remote.boot(room) for room in ("match:1", "match:2")}
    await hub.receive(carrying(hub, 3, after))
    await settle()
    only_match_1_reloaded(x, y)
    assert history(hub, "match:2") == ["first", "after"], "applied once"
    assert hub.remote.boot("match:1") != boots["match:1"]
    assert hub.remote.boot("match:2") == boots["match:2"]
    assert hub.remote.latest("match:2") == {"epoch-of-node-b": 43}
    assert (hub.stats.delivery_gaps, hub.stats.unrecovered_gaps) == (1, 0)


async def test_a_gap_a_heartbeat_shows_reloads_only_the_rooms_of_the_lost_events(hub, redis_url):  # noqa: F811
    """The heartbeat says envelope 2 was published; the stream holds 3 already (published
    after the heartbeat): it is not read back, it arrives next and is delivered as usual."""
    x, y = await in_two_rooms(hub, redis_url)
    first, lost, after = first_lost_after()
    await in_stream(redis_url, (1, first), (2, lost), (3, after))
    await hub.receive(carrying(hub, 1, first))
    await hub.receive(beat("b1", 2))
    await hub.receive(carrying(hub, 3, after))
    await settle()
    only_match_1_reloaded(x, y)
    assert history(hub, "match:2") == ["first", "after"], "applied once"


async def test_a_gap_noticed_before_its_publisher_wrote_the_stream_is_still_read_back(
    hub, redis_url  # noqa: F811
):
    """The publisher writes the stream just after it publishes: the envelope after a lost one
    can arrive before the lost one's entry is there. The read-back waits for it a little."""
    x, y = await in_two_rooms(hub, redis_url)
    first, lost, after = first_lost_after()
    await in_stream(redis_url, (1, first))
    await hub.receive(carrying(hub, 1, first))

    async def written_late() -> None:
        await asyncio.sleep(0.2)
        await in_stream(redis_url, (2, lost), (3, after))

    writing = asyncio.create_task(written_late())
    await hub.receive(carrying(hub, 3, after))
    await writing
    await settle()
    assert [r["room"] for r in x.of("resync")] == ["match:1"] and y.of("resync") == []
    assert texts(x.of("joined")[-1]) == ["lost"]
    assert history(hub, "match:1") == ["lost"]
    assert [m["text"] for m in y.of("message")] == ["first", "after"]
    assert (hub.stats.delivery_gaps, hub.stats.unrecovered_gaps) == (1, 0)


async def test_a_gap_the_stream_does_not_hold_yet_reloads_every_room(hub, redis_url):  # noqa: F811
    """The lost envelope is not in the stream (not written yet, or its write failed): which
    rooms it carried is not known, so every room reloads, and the gap counts as unrecovered."""
    x, y = await in_two_rooms(hub, redis_url)
    first = sent_on_b("match:2", "first", 41)
    await in_stream(redis_url, (1, first))
    await hub.receive(carrying(hub, 1, first))
    await hub.receive(carrying(hub, 3, sent_on_b("match:2", "after", 43)))
    await settle()
    assert [r["room"] for r in x.of("resync")] == ["match:1"]
    assert [r["room"] for r in y.of("resync")] == ["match:2"]
    assert (hub.stats.delivery_gaps, hub.stats.unrecovered_gaps) == (1, 1)


class SlowReader(Recorder):
    """A client on a slow link: its frames wait while ``reading`` is clear."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.reading.set()
        self.closed: list[int] = []

    async def send(self, message: dict[str, Any]) -> None:
        await self.reading.wait()
        if message["type"] == "websocket.close":
            self.closed.append(message["code"])
        await super().send(message)


async def test_the_reload_waits_for_a_replay_past_the_limit_to_be_read(hub):  # noqa: F811
    """A resume replays up to ``resume_max_events`` frames, more than the queue limit. A gap
    while the client is still reading them: the reload's reply waits for the queue to drain
    below the limit, as a join's does, instead of closing a client that keeps up as a slow
    consumer (4303)."""
    rec = SlowReader()
    conn = Connection(who("bob"), Outbox(rec.send, 4))
    hub.connections.add(conn)
    await join(hub, conn, f.Join(room="match:1"))
    rec.reading.clear()
    conn.outbox.push({"type": "websocket.send", "text": json.dumps({"type": "noise"})})
    for _ in range(10):  # what a resume replayed, still on its way to the client
        conn.outbox.push({"type": "websocket.send", "text": json.dumps({"type": "replayed"})},
                         bounded=False)  # fmt: skip
    await hub.receive(numbered("b1", 1))
    await hub.receive(numbered("b1", 3))  # 2 was lost: resync and reload match:1
    await settle()
    assert hub.stats.delivery_gaps == 1 and not conn.outbox.closing
    rec.reading.set()
    for _ in range(100):
        if len(rec.of("joined")) == 2:
            break
        await asyncio.sleep(0.01)
    assert [r["type"] for r in rec.frames[-2:]] == ["resync", "joined"]
    assert len(rec.of("replayed")) == 10 and rec.closed == [] and not conn.outbox.closing
