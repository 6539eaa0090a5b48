"""The hub in-process, over a real DuckDB log and the memory broker; sockets are recorders.

Covers what is hard to pin down through a server: publication strictly after commit, the
gap-free join (frames that arrive while a join is served are deduplicated by position), and
the application of another node's events to this node's projection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.actions import messages, moderators, rooms
from service.app import build_community
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol import frames as f
from service.protocol.http import RestrictIn, SendMessage
from service.realtime.brokers.memory import MemoryBroker
from service.realtime.connection import Connection
from service.realtime.envelope import Envelope, Out, encode_envelope, events_raw
from service.realtime.hub import Hub
from service.realtime.joining import join
from service.realtime.outbox import Outbox
from service.realtime.presence.memory import MemoryPresence
from service.realtime.resume import LINGER_SECONDS, plan
from service.settings import ensure_dev_secrets, load_settings


class Recorder:
    """An ASGI send that keeps the frames it is given."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            self.frames.append(json.loads(message["text"]))

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == type_]


async def start_hub(data_dir: Path) -> Hub:
    """A started hub of one node over a real DuckDB log in ``data_dir`` (memory broker and
    presence). The app's shutdown order stops it: ``hub.stop()``, then ``hub.c.log.close()``."""
    settings = load_settings(environ={
        "SIDELINE_DATA_DIR": str(data_dir), "SIDELINE_MODERATION__ENABLED": "false",
        "SIDELINE_REALTIME__GC_FREEZE": "false",
    })  # fmt: skip
    ensure_dev_secrets(settings)
    community = build_community(settings)
    await community.log.start()
    hub = Hub(community, settings.realtime, MemoryBroker(), MemoryPresence("node-1", 30))
    community.notifiers.append(hub)
    await hub.start()
    return hub


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = await start_hub(tmp_path)
    yield hub
    await hub.stop()
    await hub.c.log.close()


def who(user: str) -> Identity:
    from service.domain.rooms import Role

    return Identity(user_id=user, name=user.title(), context_id="match:1", role=Role.USER)


def connect(hub: Hub, user: str) -> tuple[Connection, Recorder]:
    rec = Recorder()
    conn = Connection(who(user), Outbox(rec.send, 64))
    hub.connections.add(conn)
    return conn, rec


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_frames_are_published_only_after_commit(hub):
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    hub.finish_join(conn, "match:1", {})
    seen_at_publish: list[int] = []
    original = hub.publish

    def spy(events):
        seen_at_publish.extend(e.seq for e in events)
        assert all(e.seq > 0 and e.seq <= hub.c.log.last_seq for e in events), "not committed yet"
        original(events)

    hub.publish = spy  # type: ignore[method-assign]
    hub.c.notifiers[-1] = hub
    out = await messages.send_message(hub.c, who("ann"), "match:1", SendMessage(client_msg_id="c1", text="hi"))
    await settle()
    assert seen_at_publish == [out.seq]
    assert [m["message_id"] for m in rec.of("message")] == [out.message_id]


async def test_a_join_while_the_broker_holds_a_message_gets_it_once(hub, monkeypatch):
    """A message committed and published, but not yet brought back by the broker, is in the
    state: a join's history must leave it out (its frame is still to come), or the socket gets
    it twice, once in ``joined.history`` and once live."""
    c = hub.c
    held: list[bytes] = []
    publish = hub.broker.publish
    monkeypatch.setattr(hub.broker, "publish", held.append)
    early = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c1", text="on its way"))
    assert c.state.recent("match:1")[-1].message_id == early.message_id and held
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1"))
    [joined] = rec.of("joined")
    assert early.message_id not in [m["message_id"] for m in joined.get("history", [])]
    assert joined["seq"] < early.seq
    monkeypatch.setattr(hub.broker, "publish", publish)
    for data in held:
        publish(data)
    later = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c2", text="after"))
    await settle()
    shown = [m["message_id"] for m in joined.get("history", [])] + [m["message_id"] for m in rec.of("message")]
    assert shown.count(early.message_id) == 1 and shown[-1] == later.message_id, shown


async def test_join_flushes_what_arrived_meanwhile_without_duplicates(hub):
    c = hub.c
    first = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c1", text="one"))
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    # the snapshot position covers "one"; "two" is committed while the join is being served
    position = {c.log.epoch: first.seq}
    second = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c2", text="two"))
    await settle()
    assert rec.frames == [], "nothing reaches a socket before its joined frame"
    # a late duplicate of "one" (e.g. still in the broker queue) must not be delivered again
    dup = Out(room="match:1", to=None, text=json.dumps({"type": "message", "message_id": first.message_id}),
              seq=first.seq, epoch=c.log.epoch)  # fmt: skip
    hub.rooms["match:1"].joining[conn].insert(0, dup)
    hub.finish_join(conn, "match:1", position)
    await settle()
    assert [m["message_id"] for m in rec.of("message")] == [second.message_id]
    third = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c3", text="three"))
    await settle()
    assert [m["message_id"] for m in rec.of("message")] == [second.message_id, third.message_id]


async def test_events_of_another_node_are_applied_then_shown(hub):
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    hub.finish_join(conn, "match:1", {})
    mode = new_event(
        EventType.ROOM_MODE_CHANGED, user_id="system:admin", room_id="match:1",
        payload={"mode": "reactions-only", "slow_mode_seconds": 0, "max_message_length": 300,
                 "cause": "admin"},
    )  # fmt: skip
    mute = new_event(EventType.USER_MUTED, user_id="bob", room_id="match:1", actor_id="mod",
                     payload={"until": None, "scope": "room", "reason": "test"})  # fmt: skip
    for seq, e in enumerate([mode, mute], start=41):
        e.seq, e.epoch, e.node_id = seq, "epoch-of-node-b", "node-b"
    frame = Out(room="match:1", to=None, seq=41, epoch="epoch-of-node-b",
                text=json.dumps({"type": "room", "room": "match:1", "mode": "reactions-only"}))  # fmt: skip
    env = Envelope(kind="events", origin="node-b", frames=[frame], events=events_raw([mode, mute]),
                   needs_events=True)  # fmt: skip
    await hub.receive(encode_envelope(env))
    await settle()
    state = hub.c.state
    assert state.room("match:1").settings.mode.value == "reactions-only"
    assert state.restriction("mute", "match:1", "bob", hub.c.now()) is not None
    assert rec.of("room")[0]["mode"] == "reactions-only"
    assert rec.of("notice")[0]["code"] == "user_muted"
    assert hub.remote.latest("match:1") == {"epoch-of-node-b": 41}
    assert hub.c.log.last_seq == 0, "remote events are never written to this node's shard"
    await rooms.join(hub.c, who("bob"), "match:1")  # reading is still allowed
    with pytest.raises(SidelineError) as refused:
        await messages.send_message(hub.c, who("bob"), "match:1", SendMessage(client_msg_id="x", text="hi"))
    assert refused.value.code is ErrorCode.USER_MUTED


async def test_a_failing_subscriber_neither_fails_the_send_nor_silences_the_others(hub, caplog):
    class Broken:
        def publish(self, events):
            raise RuntimeError("subscriber down")

    heard: list[int] = []
    hub.c.notifiers.insert(0, Broken())
    hub.c.commit_listeners.insert(0, lambda last_seq: 1 / 0)
    hub.c.commit_listeners.append(heard.append)
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    hub.finish_join(conn, "match:1", {})
    out = await messages.send_message(hub.c, who("ann"), "match:1", SendMessage(client_msg_id="c1", text="hi"))
    await settle()
    assert out.seq == hub.c.log.last_seq and heard == [out.seq]
    assert [m["message_id"] for m in rec.of("message")] == [out.message_id]
    assert f"events committed up to seq {out.seq} not published to Broken" in caplog.text
    assert "ZeroDivisionError" in caplog.text


async def test_a_resume_replays_only_events_the_state_already_has(hub):
    """The log's writer thread commits a batch before the loop applies it to the state: a
    resume reading the log in that window must leave such events to the live feed, or it
    renders them from the old state (here a room frame with the old mode) under their seq."""
    c = hub.c
    first = await messages.send_message(c, who("ann"), "match:1", SendMessage(client_msg_id="c1", text="one"))
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    change = new_event(
        EventType.ROOM_MODE_CHANGED, user_id="system:admin", room_id="match:1",
        payload={"mode": "reactions-only", "slow_mode_seconds": 0, "max_message_length": 300,
                 "cause": "admin"},
    )  # fmt: skip
    committed = await c.log.append([change])  # durable; its commit task has not resumed yet
    join = f.Join(room="match:1", after_seq=first.seq, epoch=c.log.epoch)
    resumed = await plan(c, hub.remote, who("bob"), join, 500, lambda: hub.delivered_seq)
    c.state.apply_all(committed)  # the commit task resumes: apply, then publish
    hub.publish(committed)
    await settle()
    for out in resumed.frames:
        conn.outbox.push({"type": "websocket.send", "text": out.text}, bounded=False)
    hub.finish_join(conn, "match:1", {c.log.epoch: resumed.seq})
    await settle()
    assert [r["mode"] for r in rec.of("room")] == ["reactions-only"]


async def test_a_ban_during_a_join_is_not_followed_by_joined(hub):
    """Banned while its join is being served: the socket was told ``left`` (banned) and
    removed from the room; a ``joined`` after that would tell it the opposite."""
    c = hub.c
    await rooms.join(c, who("bob"), "match:1")  # a member already: the join commits nothing
    conn, rec = connect(hub, "bob")
    gate = asyncio.Event()
    current = hub.roster.current

    async def held(room: str):  # the real presence read, held until the ban has landed
        await gate.wait()
        return await current(room)

    hub.roster.current = held  # type: ignore[method-assign]
    joining = asyncio.create_task(join(hub, conn, f.Join(room="match:1", ref="j")))
    while "match:1" not in conn.rooms:
        await asyncio.sleep(0)
    await moderators.restrict(c, "mod", "match:1", "ban", RestrictIn(user_id="bob"))
    await settle()
    gate.set()
    await joining
    await settle()
    assert [(fr["type"], fr.get("code") or fr.get("reason")) for fr in rec.frames] == [
        ("error", "user_banned"), ("left", "banned")
    ]
    assert "match:1" not in conn.rooms and "match:1" not in hub.rooms


def remote_frame(room: str, seq: int) -> bytes:
    """An envelope as node B publishes it: one message frame of its epoch for ``room``."""
    text = json.dumps({"type": "message", "room": room, "message_id": f"m{seq}", "seq": seq})
    out = Out(room=room, to=None, text=text, seq=seq, epoch="epoch-of-node-b")
    return encode_envelope(Envelope(kind="events", origin="node-b", frames=[out]))


async def test_remote_frames_are_kept_only_for_rooms_held_here(hub):
    """Every node receives every room's frames; one record per room ever seen grew forever."""
    for i in range(300):
        await hub.receive(remote_frame(f"match:{i}", i + 1))
    assert [i for i in range(300) if hub.remote.known(f"match:{i}")] == []
    assert len(hub.remote) == 0


async def test_a_room_without_local_sockets_is_resumable_for_a_while_then_resyncs(hub):
    c, now = hub.c, asyncio.get_running_loop().time()
    conn, rec = connect(hub, "bob")
    await join(hub, conn, f.Join(room="match:1", ref="j"))
    joined = rec.of("joined")[0]
    await hub.receive(remote_frame("match:1", 41))
    hub.remote.sweep(now + 10 * LINGER_SECONDS)  # a room with a local socket is never forgotten
    assert hub.remote.latest("match:1") == {"epoch-of-node-b": 41}
    await hub.disconnect(conn)  # bob's only socket drops ...
    await hub.receive(remote_frame("match:1", 42))  # ... and misses this one
    back = f.Join(
        room="match:1", after_seq=joined["seq"], epoch=joined["epoch"], boot=joined["boot"],
        remote={"epoch-of-node-b": 41},
    )  # fmt: skip
    resumed = await plan(c, hub.remote, who("bob"), back, 500, lambda: hub.delivered_seq)
    assert resumed.resync is None and [o.seq for o in resumed.frames] == [42]
    # after the linger the room is forgotten: the same position now gets resync, not a
    # replay that silently lacks frame 42
    hub.remote.sweep(asyncio.get_running_loop().time() + LINGER_SECONDS + 1)
    assert len(hub.remote) == 0
    later = await plan(c, hub.remote, who("bob"), back, 500, lambda: hub.delivered_seq)
    assert later.resync is not None and later.frames == []
    # a join makes a new record with a new boot
    conn2, rec2 = connect(hub, "bob")
    await join(hub, conn2, f.Join(room="match:1", ref="j2"))
    assert rec2.of("joined")[0]["boot"] not in ("", joined["boot"])


async def test_an_envelope_of_a_kind_this_node_does_not_know_is_skipped(hub, caplog):
    """A newer node may publish a kind of envelope this one does not know yet (a rolling
    upgrade): it is skipped with one warning per kind, and what follows is delivered."""
    conn, rec = connect(hub, "bob")
    hub.begin_join(conn, "match:1")
    hub.finish_join(conn, "match:1", {})
    future = b'["gossip","node-b",[],[],false,"",{},"boot-b",0]'
    with caplog.at_level("WARNING"):
        await hub.receive(future)
        await hub.receive(future)
    assert [r.message for r in caplog.records if "gossip" in r.message] == [
        "skipping envelopes of kind 'gossip' from node node-b: this node does not know it"
    ]
    await hub.receive(remote_frame("match:1", 1))
    await settle()
    assert [f["message_id"] for f in rec.of("message")] == ["m1"]
