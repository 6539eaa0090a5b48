"""What clients are delivered across a Redis outage between nodes, and a resume's order.

Two ``sideline serve`` processes over a real redis-server that is killed and started again
(empty: it saves nothing, like a Redis restarted without persistence). While it is down,
both nodes acknowledge sends (each event is in its node's log) but their envelopes and
recent-stream entries go nowhere.

- A node's own clients get every message that node committed during the outage: after the
  ``resync`` the fresh ``joined`` holds them (the node's state has them all), and nothing of
  them arrives twice.
- The other node's messages of the outage are not in the recent stream: the gap is counted
  as unrecovered and the room reloads without them. When they reach the stream later (their
  node writes them again), the node applies them and the rooms they are in reload again,
  holding them (the hub in-process over a real Redis: the rewrite is done by hand here).
- A resume on one node replays its own frames and other nodes' in the room's one order: by
  time, then event id.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
import pytest
import redis

from service.actions import messages
from service.domain.events import Event
from service.protocol import frames as f
from service.protocol.http import SendMessage
from service.realtime.joining import join
from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_hub import connect, hub, settle, who  # noqa: F401  (fixture)
from tests.integration.realtime.test_lost_envelopes import (
    carrying,
    history,
    in_stream,
    in_two_rooms,
    sent_on_b,
    texts,
)  # fmt: skip
from tests.integration.realtime.test_two_nodes import start_two


async def post(client: WsClient, text: str, cid: str) -> dict[str, Any]:
    await client.send(type="send", room="match:1", client_msg_id=cid, text=text, ref=cid)
    return await client.expect("ack", ref=cid, timeout=20)


def metric(server, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


async def publishes_failed(server) -> None:
    """Wait until ``server`` failed to publish what it committed so far: two more failures
    (envelopes go out in order, and a heartbeat every presence interval)."""
    name = "sideline_redis_publish_failures_total"
    start = metric(server, name)
    for _ in range(100):
        if metric(server, name) >= start + 2:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the node's publishes did not fail: is Redis down?")


def seen_messages(client: WsClient, after: int = 0) -> list[str]:
    """Message ids ``client`` holds, as a client keeps them: a ``joined`` replaces the room's
    state, ``message`` frames add to it."""
    held: list[str] = []
    for frame in client.seen[after:]:
        if frame["type"] == "joined":
            held = [m["message_id"] for m in frame.get("history", [])]
        elif frame["type"] == "message" and frame["message_id"] not in held:
            held.append(frame["message_id"])
    return held


def message_frames(client: WsClient) -> list[str]:
    return [fr["message_id"] for fr in client.seen if fr["type"] == "message"]


@pytest.mark.slow
async def test_a_nodes_own_messages_of_a_redis_outage_reach_its_clients(start_server, own_redis):
    a, _ = start_two(start_server, own_redis.url)
    ann = await WsClient.login(a, "ann")
    carl = await WsClient.login(a, "carl")
    before = await post(ann, "before", "c0")
    await carl.expect("message", message_id=before["message_id"])
    own_redis.kill()
    during = [await post(ann, f"during {i}", f"d{i}") for i in range(3)]
    await publishes_failed(a)
    own_redis.start()
    resync = await carl.expect("resync", timeout=20)
    assert "interrupted" in resync["reason"], resync
    fresh = await carl.expect("joined")
    after = await post(ann, "after", "c9")
    await carl.expect("message", message_id=after["message_id"])
    await carl.frames(1.0)
    for m in during:  # in the fresh joined (its position covers them), or as a frame after it
        assert m["seq"] <= fresh["seq"] or m["message_id"] in message_frames(carl), (m, fresh)
    held = seen_messages(carl, carl.seen.index(fresh))
    wanted = [m["message_id"] for m in (before, *during, after)]
    assert [i for i in held if i in wanted] == wanted, texts(fresh)
    ids = message_frames(carl)
    assert len(ids) == len(set(ids)), "a message frame arrived twice"


@pytest.mark.slow
async def test_the_other_nodes_messages_of_a_redis_outage_reach_this_nodes_clients(
    start_server, own_redis
):  # fmt: skip
    """Redis comes back empty: node A's message of the outage reaches no node by pub/sub and
    is in no stream until A writes what it kept (realtime/standing/). Node B's socket is told
    ``resync`` and gets a fresh ``joined`` that holds it (read back at the gap, or later when
    the stream gets it), once, in order; A's message after the outage arrives too."""
    a, b = start_two(start_server, own_redis.url)
    ann = await WsClient.login(a, "ann")
    bob = await WsClient.login(b, "bob")
    before = await post(ann, "before", "c0")
    await bob.expect("message", message_id=before["message_id"])
    own_redis.kill()
    during = await post(ann, "during", "d0")
    await publishes_failed(a)
    own_redis.start()
    await bob.expect("resync", timeout=20)
    after = await post(ann, "after", "c9")
    wanted = [m["message_id"] for m in (before, during, after)]
    for _ in range(50):
        if [i for i in seen_messages(bob) if i in wanted] == wanted:
            break
        await bob.frames(0.2)
    assert [i for i in seen_messages(bob) if i in wanted] == wanted, [
        (x["type"], x.get("text"), [m["text"] for m in x.get("history", [])])
        for x in bob.seen if x["type"] in ("message", "joined", "resync")
    ]  # fmt: skip
    assert message_frames(bob).count(during["message_id"]) <= 1
    eve = await WsClient.login(b, "eve")
    assert texts(eve.joined).count("during") == 1, eve.joined


async def test_lost_events_the_stream_gets_later_are_delivered_after_a_resync(hub, redis_url):  # noqa: F811
    """Envelopes 2 and 3 of node B (messages in match:1) were lost, and the stream does not
    hold them when envelope 4 shows the gap, nor within the read-back's wait (B is still
    writing what it kept while Redis was down): counted unrecovered, every room reloads
    without them. Then B's writer gets them in: at its next look the node applies them,
    once, and match:1 (their room only) reloads holding them."""
    x, y = await in_two_rooms(hub, redis_url)
    first, lost2, lost3, after = (
        sent_on_b("match:1", text, seq)
        for text, seq in (("first", 41), ("lost 2", 42), ("lost 3", 43), ("after", 44))
    )  # fmt: skip
    await in_stream(redis_url, (1, first))
    await hub.receive(carrying(hub, 1, first))
    await hub.receive(carrying(hub, 4, after))
    await settle()
    assert (hub.stats.delivery_gaps, hub.stats.unrecovered_gaps) == (1, 1)
    assert history(hub, "match:1") == ["first", "after"]
    assert len(x.of("resync")) == 1 and len(y.of("resync")) == 1
    await hub.recover_late()  # nothing new in the stream: nothing happens
    await settle()
    assert len(x.of("resync")) == 1
    await in_stream(redis_url, (2, lost2), (3, lost3), (4, after))  # B's writer, late
    await hub.recover_late()
    await settle()
    assert history(hub, "match:1") == ["first", "lost 2", "lost 3", "after"], "4 not twice"
    assert len(x.of("resync")) == 2 and len(y.of("resync")) == 1, "match:1 only"
    assert "read back late" in x.of("resync")[-1]["reason"]
    assert texts(x.of("joined")[-1]) == ["first", "lost 2", "lost 3", "after"]
    await hub.recover_late()  # found already: not applied twice, no more reloads
    await settle()
    assert history(hub, "match:1") == ["first", "lost 2", "lost 3", "after"]
    assert len(x.of("resync")) == 2
    assert hub.stats.delivery_gaps == 1


def raw_in_stream(redis_url: str, n: int, e: Event) -> None:
    """An entry of node B's envelope ``n`` added to the stream as is, after whatever is there
    (as a node of an older version wrote it, or Redis kept only part of what was written)."""
    with redis.Redis.from_url(redis_url) as r:
        r.xadd("t:recent", {"e": msgspec.json.encode(e), "o": e.node_id, "b": "b1", "n": n})


async def test_an_interruption_read_back_that_skips_envelopes_is_a_gap(hub, redis_url):  # noqa: F811
    """After the subscription is made again the stream holds envelope 4 of node B but not 2
    and 3: the read-back is partial, not complete. Counted, and when 2 and 3 reach the
    stream they are applied and their room reloads."""
    x, _ = await in_two_rooms(hub, redis_url)
    first, lost2, lost3, after = (
        sent_on_b("match:1", text, seq)
        for text, seq in (("first", 41), ("lost 2", 42), ("lost 3", 43), ("after", 44))
    )  # fmt: skip
    raw_in_stream(redis_url, 1, first)
    await hub.receive(carrying(hub, 1, first))
    raw_in_stream(redis_url, 4, after)
    await hub.lost()
    await settle()
    assert hub.stats.unrecovered_gaps == 1
    assert history(hub, "match:1") == ["first", "after"]
    raw_in_stream(redis_url, 2, lost2)
    raw_in_stream(redis_url, 3, lost3)
    await hub.recover_late()
    await settle()
    assert history(hub, "match:1") == ["first", "lost 2", "lost 3", "after"]
    assert texts(x.of("joined")[-1]) == ["first", "lost 2", "lost 3", "after"]


async def test_own_envelopes_lost_in_an_interruption_are_in_the_fresh_joined(hub):  # noqa: F811
    """This node's own envelopes published before the subscription was made again never come
    back: the fresh joined holds their messages anyway (the node's state has them), and one
    arriving late after all is dropped, not sent twice."""
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    held = hub.broker  # the memory broker: hold what is published, as a cut subscription
    sent: list[bytes] = []
    publish = held.publish
    held.publish = sent.append  # type: ignore[method-assign]
    for i in range(2):
        body = SendMessage(client_msg_id=f"d{i}", text=f"during {i}")
        await messages.send_message(hub.c, who("ann"), "match:1", body)
    held.publish = publish  # type: ignore[method-assign]
    await hub.lost()
    await settle()
    fresh = rec.of("joined")[-1]
    assert texts(fresh) == ["during 0", "during 1"], fresh
    assert fresh["seq"] == hub.c.log.last_seq
    for data in sent:  # late after all: dropped
        await hub.receive(data)
    await settle()
    assert rec.of("message") == []


async def test_a_resume_replays_every_nodes_frames_in_time_order(start_server, redis_url):
    a, b = start_two(start_server, redis_url)
    ann = await WsClient.login(a, "ann")
    bob = await WsClient.login(b, "bob")
    seen = await post(ann, "ann 0", "a0")
    await bob.expect("message", message_id=seen["message_id"])
    position = dict(
        after_seq=bob.joined["seq"], epoch=bob.joined["epoch"], boot=bob.joined["boot"],
        remote={seen["epoch"]: seen["seq"]},
    )  # fmt: skip
    await bob.close()
    dave = await WsClient.login(b, "dave")
    sent = [await post(dave, "dave 1", "d1")]
    sent += [await post(ann, f"ann {i}", f"a{i}") for i in (1, 2)]
    sent.append(await post(dave, "dave 2", "d2"))
    await dave.expect("message", message_id=sent[2]["message_id"])
    back = await WsClient.login(b, "bob", join=position)
    assert back.joined["resumed"], back.seen
    await back.frames(1.0)
    assert [fr["text"] for fr in back.seen if fr["type"] == "message"] == [
        "dave 1", "ann 1", "ann 2", "dave 2"
    ]  # fmt: skip
