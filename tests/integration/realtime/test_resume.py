"""Resume after a dropped connection, resync when that is impossible, and slow consumers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import time

import httpx
import websockets

from tests.fixtures.ws import WsClient


async def send(client: WsClient, text: str, cid: str) -> dict:
    await client.send(type="send", room="match:1", client_msg_id=cid, text=text, ref=cid)
    return await client.expect("ack", ref=cid)


def position(client: WsClient) -> tuple[str, int]:
    """(epoch, seq) as a client tracks it: ``joined`` then every stream frame of that epoch."""
    epoch, seq = client.joined["epoch"], client.joined["seq"]
    for f in client.seen:
        if f.get("epoch") == epoch and f["type"] in ("message", "deleted", "room"):
            seq = max(seq, f["seq"])
    return epoch, seq


async def test_resume_gets_exactly_what_was_missed(rt_server):
    a = await WsClient.login(rt_server, "ann")
    b = await WsClient.login(rt_server, "bob")
    first = await send(b, "before the drop", "c0")
    await a.expect("message", message_id=first["message_id"])
    epoch, seq = position(a)
    await a.close()
    missed = [await send(b, f"missed {i}", f"c{i + 1}") for i in range(3)]
    mod = {"Authorization": f"Bearer {rt_server.token('mod', 'match:1', 'moderator')}"}
    r = httpx.delete(f"{rt_server.url}/v1/rooms/match:1/messages/{first['message_id']}", headers=mod)
    assert r.status_code == 200
    back = await WsClient.login(rt_server, "ann", join={"after_seq": seq, "epoch": epoch})
    assert back.joined["resumed"] is True and back.joined.get("history", []) == []
    replay = await back.frames_until(lambda fs: any(f["type"] == "deleted" for f in fs), then=0.3)
    frames = [f for f in replay if f["type"] in ("message", "deleted")]
    assert [(f["type"], f["message_id"]) for f in frames] == [
        *[("message", m["message_id"]) for m in missed], ("deleted", first["message_id"])
    ]
    live = await send(b, "live again", "c9")
    assert (await back.expect("message", message_id=live["message_id"]))["text"] == "live again"


async def test_resume_survives_a_server_restart(start_server):
    server = start_server()
    a = await WsClient.login(server, "ann")
    seen = await send(a, "one", "c1")
    await a.expect("message", message_id=seen["message_id"])
    epoch, seq = position(a)
    await a.close()
    server.stop()
    await resumed_with_what_was_missed(start_server(), epoch, seq)


async def resumed_with_what_was_missed(server, epoch: str, seq: int) -> None:
    """On a restarted node (same data dir: same log, same epoch), bob posts while ann is away;
    ann, joining back at (epoch, seq), is resumed with that message alone."""
    bob = await WsClient.login(server, "bob")
    missed = await send(bob, "while ann was away", "c2")
    back = await WsClient.login(server, "ann", join={"after_seq": seq, "epoch": epoch})
    assert back.joined["resumed"] is True
    replay = await back.frames_until(lambda fs: any(f["type"] == "message" for f in fs), then=0.5)
    got = [f["message_id"] for f in replay if f["type"] == "message"]
    assert got == [missed["message_id"]]


async def test_resync_when_the_gap_is_too_old(start_server):
    server = start_server(SIDELINE_REALTIME__RESUME_MAX_EVENTS="3")
    a = await WsClient.login(server, "ann")
    epoch, seq = position(a)
    await a.close()
    b = await WsClient.login(server, "bob")
    for i in range(5):
        await send(b, f"m{i}", f"c{i}")
    back = await WsClient.login(server, "ann", join={"after_seq": seq, "epoch": epoch})
    resync = next(f for f in back.seen if f["type"] == "resync")
    assert "more than 3 events" in resync["reason"]
    assert not back.joined.get("resumed")
    assert [m["text"] for m in back.joined["history"]] == [f"m{i}" for i in range(5)]


async def test_resync_when_the_epoch_differs(rt_server):
    back = await WsClient.login(rt_server, "ann", join={"after_seq": 1, "epoch": "another-log"})
    assert any(f["type"] == "resync" and "epoch" in f["reason"] for f in back.seen)
    assert not back.joined.get("resumed")


async def test_a_position_without_its_epoch_is_told_so(rt_server):
    """A seq alone is no position (seqs are per log shard): the ``resync`` says the epoch is
    missing, rather than that it differs from one the client never sent."""
    back = await WsClient.login(rt_server, "ann", join={"after_seq": 1})
    resync = next(f for f in back.seen if f["type"] == "resync")
    assert "without its epoch" in resync["reason"], resync
    assert not back.joined.get("resumed")


N = 400
TEXT = "x" * 16_000
"""N messages of TEXT past a stalled client: 6.4 MB, more than the kernel's socket buffers
(the server's send buffer autotunes up to 4 MB on loopback) and the transport's 64 KiB hold,
so its outbox has to overflow."""


def _tiny_socket(port: int) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    return s


SLOW = "slow\n2026-01-01 00:00:00,000 ERROR forged: \x1b[31mline\u2028"
"""The slow client's user id (a token's ``sub`` is the host app's to choose): the line that
says it was cut off must stay one line, with no escape sequence for the operator's terminal."""


async def test_slow_consumer_is_dropped_and_resumes(start_server):
    server = start_server(
        SIDELINE_REALTIME__SEND_QUEUE_SIZE="64", SIDELINE_REALTIME__FRAMES_PER_SECOND="10000",
        SIDELINE_REALTIME__FRAME_BURST="10000", SIDELINE_ROOMS__MATCH__MAX_MESSAGE_LENGTH="16000",
    )
    token = server.token(SLOW, "match:1")
    ws = await websockets.connect(server.ws_url, sock=_tiny_socket(server.port), max_queue=1)
    slow = WsClient(ws)
    await slow.send(type="auth", token=token)
    await slow.expect("welcome")
    await slow.send(type="join", room="match:1")
    slow.joined = await slow.expect("joined")
    epoch, seq = position(slow)
    fast = await WsClient.login(server, "fast")
    sender = await WsClient.login(server, "sender")
    ids: set[str] = set()

    async def read_fast() -> None:  # a client that keeps up, reading while the flood goes on
        while len(ids) < N:
            frame = await fast.recv(timeout=20)
            if frame["type"] == "message":
                ids.add(frame["message_id"])

    started = time.monotonic()
    reader = asyncio.create_task(read_fast())
    for i in range(N):
        await sender.send(type="send", room="match:1", client_msg_id=f"c{i}", text=TEXT, ref=f"c{i}")
        if i % 50 == 49:
            await sender.expect("ack", ref=f"c{i}", timeout=10)
    await reader
    # the room was not held back by the stalled client
    assert time.monotonic() - started < 20
    # now the slow client reads: what was buffered, then the close with 4303
    got = []
    try:
        while True:
            frame = await slow.recv(timeout=10)
            if frame["type"] == "message":
                got.append(frame)
    except websockets.ConnectionClosed:
        pass
    except TimeoutError:
        raise AssertionError(f"not closed; the slow client got {len(got)} of {N} messages") from None
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4303
    assert len(got) < N, "the slow client should have been cut off"
    last = max([seq, *(f["seq"] for f in got)])
    back = await WsClient.login(server, SLOW, join={"after_seq": last, "epoch": epoch})
    assert back.joined["resumed"] is True
    rest = [f["message_id"] for f in await back.frames(1.0) if f["type"] == "message"]
    assert [f["message_id"] for f in got] + rest == sorted(ids, key=lambda m: m)  # uuid7: time order
    out = server.output()
    assert "closed slow consumer slow\\n2026-01-01 00:00:00,000 ERROR forged: \\x1b[31mline\\u2028 (" in out
    assert "\n2026-01-01" not in out and "\x1b" not in out and "\u2028" not in out


def _metric(server, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_joins_do_not_grow_a_stalled_clients_queue_without_bound(start_server):
    """A join's reply may pass the queue limit (history is bounded by itself), but a client
    that reads nothing cannot stack them up by joining again and again: the next join waits
    for the queue to drain below the limit, and after the idle timeout the client is closed
    as a slow consumer."""
    server = start_server(
        SIDELINE_REALTIME__SEND_QUEUE_SIZE="16", SIDELINE_REALTIME__FRAMES_PER_SECOND="10000",
        SIDELINE_REALTIME__FRAME_BURST="10000", SIDELINE_ROOMS__MATCH__MAX_MESSAGE_LENGTH="16000",
        SIDELINE_REALTIME__IDLE_TIMEOUT_SECONDS="4",
    )  # fmt: skip
    poster = {"Authorization": f"Bearer {server.token('poster', 'match:1')}"}
    with httpx.Client(base_url=server.url, headers=poster, timeout=10) as http:
        for i in range(50):  # each joined frame carries ~800 KB of history
            r = http.post("/v1/rooms/match:1/messages", json={"client_msg_id": f"c{i}", "text": TEXT})
            assert r.status_code == 201, r.text
    ws = await websockets.connect(server.ws_url, sock=_tiny_socket(server.port), max_queue=1)
    await ws.send(json.dumps({"type": "auth", "token": server.token("stalled", "match:1")}))
    joins = 60  # ~48 MB of replies: far more than the socket buffers and the queue hold
    for i in range(joins):
        await ws.send(json.dumps({"type": "join", "room": "match:1", "ref": f"j{i}"}))
    deadline = time.monotonic() + 30
    while _metric(server, "sideline_ws_slow_consumers_total") < 1:
        pending = _metric(server, "sideline_ws_outbox_max_pending")
        assert pending <= 16, f"{pending:.0f} frames queued (limit 16)"
        assert time.monotonic() < deadline, f"never cut off; {pending:.0f} frames queued (limit 16)"
        await asyncio.sleep(0.2)
    joined = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            if json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] == "joined":
                joined += 1
    assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4303
    assert joined < joins


async def test_a_cut_off_slow_consumer_leaves_presence_without_waiting_for_its_close(start_server):
    """A stalled client never reads its 4303 close frame, so its socket lingers until the idle
    timeout (75 s); its presence (and its place in the rooms) must not linger with it."""
    server = start_server(
        SIDELINE_REALTIME__SEND_QUEUE_SIZE="16", SIDELINE_ROOMS__MATCH__MAX_MESSAGE_LENGTH="16000",
    )  # fmt: skip
    ann = await WsClient.login(server, "ann")
    ws = await websockets.connect(server.ws_url, sock=_tiny_socket(server.port), max_queue=1)
    await ws.send(json.dumps({"type": "auth", "token": server.token("slow", "match:1")}))
    await ws.send(json.dumps({"type": "join", "room": "match:1"}))
    await ann.expect("presence", timeout=5, joined=[{"user_id": "slow", "name": "slow"}])
    gone = asyncio.Event()

    async def watch() -> None:  # ann keeps reading everything while the room floods
        while not gone.is_set():
            frame = await ann.recv(timeout=30)
            if frame["type"] == "presence" and frame.get("left") == ["slow"]:
                gone.set()

    watcher = asyncio.create_task(watch())
    poster = {"Authorization": f"Bearer {server.token('poster', 'match:1')}"}
    async with httpx.AsyncClient(base_url=server.url, headers=poster, timeout=10) as http:
        for i in range(N):
            r = await http.post("/v1/rooms/match:1/messages", json={"client_msg_id": f"c{i}", "text": TEXT})
            assert r.status_code == 201, r.text
            if i % 10 == 9 and _metric(server, "sideline_ws_slow_consumers_total") >= 1:
                break
    assert _metric(server, "sideline_ws_slow_consumers_total") == 1
    await asyncio.wait_for(watcher, 20)  # well before the idle timeout
    # the stalled socket itself is still open (its close waits for a reader), yet it is gone
    assert _metric(server, "sideline_ws_connections") == 2
    late = await WsClient.login(server, "cat")
    assert "slow" not in [m["user_id"] for m in late.joined["presence"]["members"]]
    assert _metric(server, "sideline_ws_rooms") == 1
    await ws.close()


BIG = "z" * 15_000
"""A replay of a few hundred messages of BIG is ~4-7 MB: past the kernel's socket buffers on
loopback, so much of it waits in the outbox while a client with a small receive window reads
it, as a replay does on a slow mobile link."""


async def _read_steadily(ws, per_frame: float = 0.004, quiet: float = 3.0) -> list[dict]:
    """Everything the server sends, read at a steady pace (a client that keeps up, on a slow
    link), until it has been quiet for ``quiet`` seconds or closes."""
    got: list[dict] = []
    with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
        while True:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), quiet)))
            await asyncio.sleep(per_frame)
    return got


async def test_a_client_reading_its_replay_is_not_cut_off_by_live_frames(start_server):
    """A resume's replay may pass the send queue (it is bounded by itself), and a client that
    reads it steadily is not a slow consumer: the live frames that arrive while the replay is
    still on its way are counted on their own. (They were counted with the replay, so a
    reconnecting client on a slow link got 4303 from the first live frame, again and again.)"""
    server = start_server(
        SIDELINE_REALTIME__SEND_QUEUE_SIZE="64", SIDELINE_ROOMS__MATCH__MAX_MESSAGE_LENGTH="16000",
    )  # fmt: skip
    ann = await WsClient.login(server, "ann")
    epoch, seq, boot = ann.joined["epoch"], ann.joined["seq"], ann.joined["boot"]
    await ann.close()
    poster = {"Authorization": f"Bearer {server.token('poster', 'match:1')}"}
    async with httpx.AsyncClient(base_url=server.url, headers=poster, timeout=10) as http:
        for i in range(400):
            r = await http.post("/v1/rooms/match:1/messages", json={"client_msg_id": f"c{i}", "text": BIG})
            assert r.status_code == 201, r.text
        ws = await websockets.connect(server.ws_url, sock=_tiny_socket(server.port), max_queue=1)
        await ws.send(json.dumps({"type": "auth", "token": server.token("ann", "match:1")}))
        resume = {"type": "join", "room": "match:1", "after_seq": seq, "epoch": epoch, "boot": boot}
        await ws.send(json.dumps(resume))

        async def live() -> None:  # the room goes on while the replay is read
            for i in range(20):
                r = await http.post("/v1/rooms/match:1/messages", json={"client_msg_id": f"l{i}", "text": "live"})
                assert r.status_code == 201, r.text
                await asyncio.sleep(0.1)

        poster_task = asyncio.create_task(live())
        got = await _read_steadily(ws)
        await poster_task
    closed = ws.protocol.close_rcvd
    texts = [f["text"] for f in got if f["type"] == "message"]
    assert closed is None, f"closed with {closed.code} after {len(texts)} of 420 messages"
    assert next(f for f in got if f["type"] == "joined")["resumed"] is True
    assert texts == [BIG] * 400 + ["live"] * 20
    await ws.close()


async def test_a_client_resuming_several_rooms_at_once_on_a_slow_link_gets_them_all(start_server):
    """A reconnecting client sends its rooms' joins one after the other; while the replies
    before are still on their way, the next join waits for room in the queue instead of
    counting the client as a slow consumer (before, the second join closed it with 4303)."""
    server = start_server(
        SIDELINE_REALTIME__SEND_QUEUE_SIZE="64", SIDELINE_ROOMS__MATCH__MAX_MESSAGE_LENGTH="16000",
    )  # fmt: skip
    rooms = ["match:1", "match:2", "match:3"]
    roles = {room: "user" for room in rooms}
    ann = await WsClient.login(server, "ann", room=None, roles=roles)
    positions = {}
    for room in rooms:
        await ann.send(type="join", room=room)
        joined = await ann.expect("joined", room=room)
        positions[room] = {"after_seq": joined["seq"], "epoch": joined["epoch"], "boot": joined["boot"]}
    await ann.close()
    poster = {"Authorization": f"Bearer {server.token('poster', 'match:1', roles=roles)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=poster, timeout=10) as http:
        for room in rooms:
            for i in range(150):
                r = await http.post(f"/v1/rooms/{room}/messages", json={"client_msg_id": f"c{i}", "text": BIG})
                assert r.status_code == 201, r.text
    ws = await websockets.connect(server.ws_url, sock=_tiny_socket(server.port), max_queue=1)
    await ws.send(json.dumps({"type": "auth", "token": server.token("ann", "match:1", roles=roles)}))
    for room in rooms:
        await ws.send(json.dumps({"type": "join", "room": room, "ref": room, **positions[room]}))
    got = await _read_steadily(ws)
    closed = ws.protocol.close_rcvd
    assert closed is None, f"closed with {closed.code} after {len(got)} frames"
    assert [f["ref"] for f in got if f["type"] == "joined"] == rooms
    for room in rooms:
        assert len([f for f in got if f["type"] == "message" and f["room"] == room]) == 150
    await ws.close()


async def test_a_graceful_stop_closes_sockets_with_1012_and_they_resume_after_the_restart(start_server):
    """What a client sees when a node stops (SIGTERM, a deploy): its socket is closed at once
    with 1012 (service restart), the signal to reconnect; the node restarted on the same data
    serves the resume from the position the client had, nothing missed and nothing twice."""
    server = start_server()
    ann = await WsClient.login(server, "ann")
    idle = await WsClient.login(server, "bob", room=None)  # authenticated, in no room
    seen = await send(ann, "before the stop", "c1")
    await ann.expect("message", message_id=seen["message_id"])
    epoch, seq = position(ann)
    server.proc.send_signal(signal.SIGTERM)
    for client in (ann, idle):
        assert await client.closed_with(timeout=5) == 1012
    assert server.proc.wait(20) in (0, -15)
    await resumed_with_what_was_missed(start_server(), epoch, seq)
