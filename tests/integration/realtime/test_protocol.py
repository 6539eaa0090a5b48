"""The /v1/ws protocol over real sockets: auth, Origin, limits, bad input, close codes."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx
import jwt
import pytest
import websockets

from tests.fixtures.ws import WsClient


async def test_first_frame_must_be_auth(rt_server):
    client = await WsClient.open(rt_server)
    await client.send(type="join", room="match:1")
    assert await client.closed_with() == 4001
    assert "first frame must be auth" in client.ws.protocol.close_rcvd.reason


async def test_bad_token_closes_with_its_code(rt_server):
    client = await WsClient.open(rt_server)
    await client.send(type="auth", token="not-a-jwt")
    assert await client.closed_with() == 4002
    expired = await WsClient.open(rt_server)
    await expired.send(type="auth", token=rt_server.token("u1", "match:1", ttl_seconds=-60))
    assert await expired.closed_with() == 4003


async def test_auth_timeout(start_server):
    server = start_server(SIDELINE_REALTIME__AUTH_TIMEOUT_SECONDS="0.3")
    client = await WsClient.open(server)
    assert await client.closed_with() == 4006


async def test_bearer_header_authenticates_without_auth_frame(rt_server):
    token = rt_server.token("u1", "match:1")
    ws = await websockets.connect(rt_server.ws_url, additional_headers={"Authorization": f"Bearer {token}"})
    client = WsClient(ws)
    welcome = await client.expect("welcome")
    assert welcome["user_id"] == "u1" and welcome["node_id"] == "node-1"


async def test_origin_checked_before_accept(rt_server):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(rt_server.ws_url, origin="http://evil.example")
    response = refused.value.response
    assert response.status_code == 403
    body = json.loads(response.body)
    assert body["error"]["code"] == "origin_not_allowed" and body["error"]["close_code"] == 4109
    # a refusal is not a server error: uvicorn's default WebSocket protocol logged one for each
    assert "connection rejected (403 Forbidden)" in rt_server.output()
    assert " ERROR " not in rt_server.output()
    # the server's own origin (the embedded panel) and listed origins are accepted
    ok = await websockets.connect(rt_server.ws_url, origin=rt_server.url)
    await ok.close()


async def refused(server, origin: str, host: str = "127.0.0.1") -> bool:
    """Is a handshake from a page at ``origin`` refused, the server reached as ``host``?

    The socket goes to the server whatever ``host`` is: as after DNS rebinding, when the
    attacker's name resolves to this server and the browser sends that name as ``Host``.
    """
    sock = socket.create_connection(("127.0.0.1", server.port))
    try:
        ws = await websockets.connect(f"ws://{host}:{server.port}/v1/ws", sock=sock, origin=origin)
    except websockets.InvalidStatus as exc:
        assert exc.response.status_code == 403
        body = json.loads(exc.response.body)
        assert body["error"]["code"] == "origin_not_allowed"
        return True
    await ws.close()
    return False


async def test_the_host_header_does_not_vouch_for_an_origin(rt_server):
    port = rt_server.port
    # DNS rebinding: the page's origin matches the Host its browser sends, not this service
    assert await refused(rt_server, f"http://rebound.example:{port}", host="rebound.example")
    # the service's own host, but another scheme: another origin
    assert await refused(rt_server, f"https://127.0.0.1:{port}")
    assert await refused(rt_server, f"http://localhost:{port}", host="localhost")
    assert await refused(rt_server, "null")
    assert not await refused(rt_server, f"http://127.0.0.1:{port}")
    assert not await refused(rt_server, f"HTTP://127.0.0.1:{port}/", host="rebound.example")


async def test_the_services_own_origin_and_listed_ones_pass_exactly(start_server):
    server = start_server(SIDELINE_SERVER__ALLOWED_ORIGINS='["https://app.example", "http://dev.example:3000/"]')
    assert not await refused(server, server.url), "its own origin (the panel), though unlisted"
    assert not await refused(server, "https://app.example")
    assert not await refused(server, "https://APP.example:443"), "the default port, spelt out"
    assert not await refused(server, "http://dev.example:3000")
    assert await refused(server, "http://app.example")
    assert await refused(server, "https://app.example:8443")
    assert await refused(server, "http://dev.example:3001")
    assert await refused(server, "https://app.example.evil.example")
    behind_tls = start_server(
        data="tls", SIDELINE_SERVER__PUBLIC_URL="https://chat.example/",
        SIDELINE_SERVER__ALLOWED_ORIGINS='["https://app.example"]',
    )  # fmt: skip
    assert not await refused(behind_tls, "https://chat.example")
    assert await refused(behind_tls, behind_tls.url), "reached as public_url, not its address"


async def test_bad_frames_get_errors_and_the_connection_survives(rt_server):
    client = await WsClient.login(rt_server, "u1")
    await client.send(type="shout", room="match:1")
    err = await client.expect("error")
    assert err["code"] == "unknown_frame" and err["at"] == "$.type" and "'shout'" in err["message"]
    await client.ws.send("{not json")
    err = await client.expect("error")
    assert err["code"] == "invalid_body" and "not valid JSON" in err["message"]
    await client.send(type="send", room="match:1", client_msg_id="c1", text=5, ref="r1")
    err = await client.expect("error", ref="r1")
    assert err["code"] == "invalid_body" and err["at"] == "$.text"
    await client.send(type="vote", room="match:1", poll_id="p", option=12)
    assert (await client.expect("error"))["at"] == "$.option"
    await client.send(type="send", room="match:2", client_msg_id="c2", text="hi", ref="r2")
    assert (await client.expect("error", ref="r2"))["code"] == "not_joined"
    await client.send(type="join", room="match:2", ref="r3")
    err = await client.expect("error", ref="r3")
    assert (err["code"], err["at"], err["room"]) == ("room_not_allowed", "$.room", "match:2")
    await client.send(type="join", room="nonsense", ref="r4")
    assert (await client.expect("error", ref="r4"))["code"] == "invalid_room_id"
    await client.send(type="ping", ref="p1")
    assert await client.expect("pong", ref="p1")
    await client.send(type="send", room="match:1", client_msg_id="c3", text="still here", ref="s")
    assert (await client.expect("ack", ref="s"))["op"] == "send"


async def test_oversize_frame_is_closed_with_1009(start_server):
    server = start_server(SIDELINE_REALTIME__MAX_FRAME_BYTES="4096")
    client = await WsClient.login(server, "u1")
    await client.ws.send(json.dumps({"type": "ping", "ref": "x" * 5000}))
    assert await client.closed_with() == 1009
    other = await WsClient.login(server, "u2")  # the server is fine
    await other.send(type="ping", ref="p")
    assert await other.expect("pong", ref="p")


async def test_flood_gets_rate_limited_then_closed(start_server):
    server = start_server(
        SIDELINE_REALTIME__FRAMES_PER_SECOND="5", SIDELINE_REALTIME__FRAME_BURST="10"
    )
    client = await WsClient.login(server, "u1")
    for i in range(12):
        await client.send(type="ping", ref=f"p{i}")
    # every frame is answered once, by its pong or by a refusal that names it
    replies = [await client.recv() for _ in range(12)]
    assert [f.get("ref") for f in replies] == [f"p{i}" for i in range(12)]
    refused = [f for f in replies if f["type"] == "error"]
    assert refused and {f["code"] for f in refused} == {"rate_limited"}
    assert all(f["retry_after"] > 0 for f in refused)
    for i in range(20):
        await client.send(type="ping", ref=f"q{i}")
    assert await client.closed_with() == 4302
    calm = await WsClient.login(server, "u2")
    await calm.send(type="ping", ref="ok")
    assert await calm.expect("pong", ref="ok")


async def test_idle_socket_is_closed(start_server):
    server = start_server(SIDELINE_REALTIME__IDLE_TIMEOUT_SECONDS="0.5")
    client = await WsClient.login(server, "u1")
    assert await client.closed_with() == 4304


async def test_too_many_rooms(start_server):
    server = start_server(SIDELINE_REALTIME__MAX_ROOMS_PER_SOCKET="1")
    roles = {"match:2": "user"}
    client = await WsClient.login(server, "u1", roles=roles)
    await client.send(type="join", room="match:2", ref="j")
    err = await client.expect("error", ref="j")
    assert err["code"] == "too_many_rooms"


async def test_reauth_refreshes_token_but_not_user(rt_server):
    client = await WsClient.login(rt_server, "u1")
    await client.send(type="auth", token=rt_server.token("u1", "match:1", name="Ann"), ref="a")
    assert (await client.expect("welcome", ref="a"))["name"] == "Ann"
    await client.send(type="auth", token=rt_server.token("u2", "match:1"), ref="b")
    assert await client.closed_with() == 4002
    assert client.ws.protocol.close_rcvd.reason == "a connection cannot change user; open a new one"


async def test_a_refused_reauth_closes_with_the_tokens_code(rt_server):
    expired = await WsClient.login(rt_server, "u1")
    await expired.send(type="auth", token=rt_server.token("u1", "match:1", ttl_seconds=-60))
    assert await expired.closed_with() == 4003
    assert expired.ws.protocol.close_rcvd.reason == "token has expired"
    forged = await WsClient.login(rt_server, "u2")
    await forged.send(type="auth", token="not-a-jwt")
    assert await forged.closed_with() == 4002
    assert not [f for f in forged.seen if f["type"] == "error"]  # a close, not an error frame


async def test_the_socket_closes_when_its_token_expires(start_server):
    server = start_server(SIDELINE_AUTH__LEEWAY_SECONDS="1")
    token = server.token("u1", "match:1", ttl_seconds=3)  # exp in 2-3 s (whole seconds), +1 s leeway
    ends = jwt.decode(token, options={"verify_signature": False})["exp"] + 1
    client = await WsClient.open(server)
    await client.send(type="auth", token=token)
    await client.expect("welcome")
    await client.send(type="join", room="match:1")
    await client.expect("joined")
    # timed from the token's exp, not from the login (a login 1.5 s slower, as on a loaded
    # machine, failed "at least 1 s after the login")
    assert await client.closed_with(timeout=ends - time.time() + 10) == 4003  # while only listening
    assert time.time() >= ends - 0.05, "closed before the token (and its leeway) ran out"
    assert client.ws.protocol.close_rcvd.reason == "token has expired: authenticate with a new one"
    # another socket of the server is unaffected, and a fresh token connects again
    again = await WsClient.login(server, "u1")
    await again.send(type="ping", ref="p")
    assert await again.expect("pong", ref="p")


def expiry(token: str) -> int:
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


async def test_a_fresh_token_moves_the_deadline(start_server):
    # Tokens of a few seconds (exp is whole seconds: a 1-second token minted late in a second
    # had expired when a loaded server read it, 0.2 s later), and waits timed from their exp.
    server = start_server(SIDELINE_AUTH__LEEWAY_SECONDS="0")
    first = server.token("u1", "match:1", ttl_seconds=4)
    client = await WsClient.open(server)
    await client.send(type="auth", token=first)
    await client.expect("welcome")
    await client.send(type="join", room="match:1")
    await client.expect("joined")
    await client.send(type="auth", token=server.token("u1", "match:1", ttl_seconds=3600), ref="a")
    assert await client.expect("welcome", ref="a")
    await asyncio.sleep(expiry(first) - time.time() + 1)  # past the first token's exp
    await client.send(type="ping", ref="p")
    assert await client.expect("pong", ref="p")
    short = await WsClient.login(server, "u2", ttl_seconds=3600)
    shorter = server.token("u2", "match:1", ttl_seconds=3)
    await short.send(type="auth", token=shorter, ref="b")
    assert await short.expect("welcome", ref="b")
    assert await short.closed_with(timeout=expiry(shorter) - time.time() + 10) == 4003  # the new, shorter token rules
    assert time.time() >= expiry(shorter) - 0.05, "closed before the shorter token ran out"


async def test_reauth_for_another_context_leaves_the_rooms_it_does_not_open(rt_server):
    client = await WsClient.login(rt_server, "u1", role="viewer", roles={"match:2": "user"})
    await client.send(type="join", room="match:2")
    await client.expect("joined", room="match:2")
    await client.send(type="auth", token=rt_server.token("u1", "match:2", "viewer"), ref="a")
    assert await client.expect("welcome", ref="a")
    left = await client.expect("left", room="match:1")
    assert (left["reason"], left["ref"]) == ("room_not_allowed", "a")
    poster = {"Authorization": f"Bearer {rt_server.token('u9', 'match:1', roles={'match:2': 'user'})}"}
    with httpx.Client(base_url=rt_server.url, timeout=10) as http:
        for room in ("match:1", "match:2"):
            r = http.post(f"/v1/rooms/{room}/messages", headers=poster,
                          json={"client_msg_id": f"c-{room[-1]}", "text": f"news in {room}"})  # fmt: skip
            assert r.status_code == 201, r.text
    assert (await client.expect("message", room="match:2"))["text"] == "news in match:2"
    frames = await client.frames(0.5)
    assert [f for f in frames if f.get("room") == "match:1"] == []
    assert [f["type"] for f in frames if f["type"] == "left"] == []  # match:2 stays joined
    await client.send(type="typing", room="match:1", ref="t")
    assert (await client.expect("error", ref="t"))["code"] == "not_joined"


async def test_metrics_count_sockets(rt_server):
    client = await WsClient.login(rt_server, "u1")
    text = httpx.get(f"{rt_server.url}/metrics").text
    assert "sideline_ws_connections 1.0" in text
    await client.close()
    deadline = time.monotonic() + 10  # the server notices the close when it next runs
    while "sideline_ws_connections 0.0" not in (text := httpx.get(f"{rt_server.url}/metrics").text):
        assert time.monotonic() < deadline, [line for line in text.splitlines() if "ws_connections" in line]
        await asyncio.sleep(0.1)


DEEP = "[" * 20_000 + "]" * 20_000
"""40 KB of nested arrays: under the frame cap, far over any decoder's recursion limit."""


async def test_malformed_frames_get_invalid_body_at_the_root(rt_server):
    client = await WsClient.login(rt_server, "u1")
    cases = {
        "deep, before the type": '{"x": ' + DEEP + ', "type": "ping"}',
        "binary": b'{"type": "ping", "ref": "bin"}',
        "binary, not UTF-8": b'{"type": "ping", "ref": "\xff\xfe"}',
        "not JSON": "{not json",
        "empty": "",
    }
    for case, data in cases.items():
        await client.ws.send(data)
        err = await client.expect("error")
        assert (err["code"], err.get("at")) == ("invalid_body", "$"), (case, err)
    assert "text frame" in [f for f in client.seen if f["type"] == "error"][1]["message"]
    # an unknown field is named itself, however deep its value: the decoder stops at its key
    await client.ws.send('{"type": "ping", "ref": "d1", "x": ' + DEEP + "}")
    err = await client.expect("error")
    assert (err["code"], err["at"]) == ("invalid_body", "$.x"), err
    await client.send(type="ping", ref="p")
    assert await client.expect("pong", ref="p")
    assert [f for f in client.seen if f.get("code") == "internal"] == []


async def test_a_malformed_first_frame_is_named_then_closed_with_4001(rt_server):
    token = rt_server.token("u1", "match:1")
    cases = {
        '{"type": "auth", "token": ""}': "$.token",
        '{"type": "auth", "token": 5}': "$.token",
        json.dumps({"type": "auth", "token": token, "user": "admin"}): "$.user",
        "{not json": "$",
        '{"x": ' + DEEP + ', "type": "auth"}': "$",
        json.dumps({"type": "auth", "token": token}).encode(): "$",  # binary
    }
    for data, at in cases.items():
        client = await WsClient.open(rt_server)
        await client.ws.send(data)
        errors = [f for f in await client.frames(5) if f["type"] == "error"]
        assert await client.closed_with() == 4001, data[:60]
        assert [(e["code"], e["at"]) for e in errors] == [("invalid_body", at)], data[:60]
        assert client.ws.protocol.close_rcvd.reason.startswith("the first frame must be auth")


async def test_an_error_echoes_the_ref_whatever_else_in_the_frame_is_wrong(start_server):
    """A client matches an ``error`` to its frame by ``ref``: also when another field has the
    wrong type (a ``room`` that is no string), from a malformed first frame, and when the
    frame is refused for the rate."""
    server = start_server(
        SIDELINE_REALTIME__FRAMES_PER_SECOND="0.1", SIDELINE_REALTIME__FRAME_BURST="4"
    )
    first = await WsClient.open(server)
    await first.send(type="auth", token="", ref="a")
    err = await first.expect("error")
    assert (err["code"], err["at"], err.get("ref")) == ("invalid_body", "$.token", "a")
    assert await first.closed_with() == 4001
    client = await WsClient.login(server, "u1")  # its join takes the first of the burst
    for frame in (
        {"type": "send", "room": 5, "client_msg_id": "c1", "text": "hi", "ref": "r1"},
        {"type": "react", "room": ["match:1"], "emoji": "👍", "ref": "r2"},
        {"type": "shout", "room": {"id": 1}, "ref": "r3"},
    ):
        await client.send(**frame)
        err = await client.expect("error")
        assert err.get("ref") == frame["ref"], err
    await client.send(type="typing", room=1, ref="r4")  # over the bucket
    err = await client.expect("error")
    assert (err["code"], err.get("ref")) == ("rate_limited", "r4"), err


async def test_room_errors_name_the_frames_room_field(rt_server):
    client = await WsClient.login(rt_server, "u1")
    for frame in (
        {"type": "join", "room": "nonsense"},
        {"type": "join", "room": "planet:1"},
        {"type": "leave", "room": "nonsense"},
    ):
        await client.send(**frame, ref="r")
        err = await client.expect("error", ref="r")
        assert err["code"] in ("invalid_room_id", "unknown_room_kind")
        assert err["at"] == "$.room", (frame, err)  # the frame has no room_id


async def test_joined_tells_the_reaction_cap_and_a_react_past_it_is_refused_by_ref(start_server):
    """The cap is the server's setting; a client learns it from ``joined`` (the panel disables
    its other reaction buttons there) and matches a refusal to its ``react`` by ``ref``."""
    server = start_server(SIDELINE_REACTIONS__MAX_PER_USER_PER_MESSAGE="2")
    ann = await WsClient.login(server, "ann")
    assert ann.joined["max_reactions_per_message"] == 2
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="react to me", ref="s")
    message_id = (await ann.expect("ack", ref="s"))["message_id"]
    for i, emoji in enumerate(("👍", "🔥", "😂")):
        await ann.send(type="react", room="match:1", message_id=message_id, emoji=emoji,
                       ref=f"r{i}")  # fmt: skip
    assert (await ann.expect("ack", ref="r0"))["count"] == 1
    assert (await ann.expect("ack", ref="r1"))["count"] == 1
    refused = await ann.expect("error", ref="r2")
    assert refused["code"] == "conflict"
    assert "2 reactions on this message already" in refused["message"]


def http_as(server, user: str, role: str = "user") -> httpx.Client:
    """An HTTP client of ``server`` signed in as ``user`` (match:1)."""
    token = server.token(user, "match:1", role)
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=server.url, timeout=10, headers=headers)


def resume_at(client: WsClient) -> dict[str, str]:
    """The epoch and boot of the client's ``joined``, to resume with."""
    return {"epoch": client.joined["epoch"], "boot": client.joined["boot"]}


def posted(http: httpx.Client, cid: str, text: str) -> str:
    r = http.post("/v1/rooms/match:1/messages", json={"client_msg_id": cid, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def reacted(http: httpx.Client, message_id: str, emoji: str, *, remove: bool = False) -> None:
    path = f"/v1/rooms/match:1/messages/{message_id}/reactions"
    r = http.delete(f"{path}/{emoji}") if remove else http.post(path, json={"emoji": emoji})
    assert r.status_code == 200, r.text


async def test_joined_tells_each_socket_its_own_users_reactions(rt_server):
    """Reactions added elsewhere (HTTP: another device, or before a reload) are the user's own
    in ``joined.mine``, per recipient: another user's are not; the history page says the same,
    and a resume tells them again with the counts it re-sends."""
    ann, sam, bo = (http_as(rt_server, user) for user in ("ann", "sam", "bo"))
    with ann, sam, bo:
        first, second = posted(ann, "c1", "first"), posted(ann, "c2", "second")
        third = posted(bo, "c3", "third")
        for message_id, emoji in ((first, "👍"), (first, "🔥"), (second, "😂")):
            reacted(sam, message_id, emoji)
        reacted(bo, first, "👍")
        reacted(bo, third, "😮")
        client = await WsClient.login(rt_server, "sam")
        assert client.joined["mine"] == {first: ["👍", "🔥"], second: ["😂"]}
        assert {m["message_id"]: m.get("reactions") for m in client.joined["history"]} == {
            first: {"👍": 2, "🔥": 1}, second: {"😂": 1}, third: {"😮": 1},
        }  # fmt: skip
        other = await WsClient.login(rt_server, "bo")
        assert other.joined["mine"] == {first: ["👍"], third: ["😮"]}
        assert "mine" not in (await WsClient.login(rt_server, "ann")).joined  # none: left out
        page = sam.get("/v1/rooms/match:1/messages").json()
        assert page["mine"] == {first: ["👍", "🔥"], second: ["😂"]}
        assert ann.get("/v1/rooms/match:1/messages").json()["mine"] == {}
        schema = ann.get("/schema/openapi.json").json()["components"]["schemas"]["HistoryOut"]
        assert schema["properties"]["mine"]["additionalProperties"]["items"] == {"type": "string"}
        assert "mine" not in schema["required"]

        joined = client.joined  # no stream frame since: its seq is the position
        await client.close()
        reacted(sam, first, "👍", remove=True)  # from another device while the socket is away
        reacted(sam, third, "🔥")
        position = {"after_seq": joined["seq"], **resume_at(client)}
        back = await WsClient.login(rt_server, "sam", join=position)
        assert back.joined["resumed"] is True
        assert back.joined["mine"] == {first: ["🔥"], second: ["😂"], third: ["🔥"]}
        counts = await back.expect("reaction")
        assert counts["messages"][third] == {"😮": 1, "🔥": 1}


def reported_by(http: httpx.Client, message_id: str) -> None:
    r = http.post(f"/v1/rooms/match:1/messages/{message_id}/reports", json={"reason": "spam"})
    assert r.status_code == 201, r.text


async def test_joined_and_history_tell_which_messages_the_user_reported(rt_server):
    """Reports made elsewhere (HTTP: another device, or before a reload) are told per recipient
    in ``joined.reported`` and the history page's ``reported``, fresh or resumed, so a client
    can mark them; a moderator's decision clears them (the user may report the message again)."""
    ann, sam, bo = (http_as(rt_server, user) for user in ("ann", "sam", "bo"))
    with ann, sam, bo, http_as(rt_server, "mo", "moderator") as mo:
        first, second, third = (posted(ann, f"c{i}", f"message {i}") for i in range(3))
        reported_by(sam, first)
        reported_by(sam, third)
        reported_by(bo, second)
        client = await WsClient.login(rt_server, "sam")
        assert client.joined["reported"] == [first, third]
        assert (await WsClient.login(rt_server, "bo")).joined["reported"] == [second]
        assert "reported" not in (await WsClient.login(rt_server, "ann")).joined  # none: left out
        assert sam.get("/v1/rooms/match:1/messages").json()["reported"] == [first, third]
        older = sam.get("/v1/rooms/match:1/messages", params={"before": third, "limit": 1})
        assert older.json()["reported"] == [], "only the page's messages"
        schema = ann.get("/schema/openapi.json").json()["components"]["schemas"]["HistoryOut"]
        assert schema["properties"]["reported"]["items"] == {"type": "string"}
        assert "reported" not in schema["required"]

        joined = client.joined
        await client.close()
        r = mo.post(f"/v1/rooms/match:1/review/{first}", json={"decision": "approve"})
        assert r.status_code == 200, r.text
        reported_by(sam, second)  # from another device while the socket is away
        back = await WsClient.login(rt_server, "sam", join={"after_seq": joined["seq"], **resume_at(client)})
        assert back.joined["resumed"] is True
        assert back.joined["reported"] == [second, third]
        reported_by(sam, first)  # approved: the user may report it again


async def test_reactions_on_messages_hidden_from_the_reader_are_not_told(start_server):
    """A moderator may react to a message held for review or by a shadow-banned author, and a
    user's reaction stays on a message that reports hid since: ``joined.mine`` and the history
    page tell nothing of messages the reader's history does not show, fresh or resumed."""
    server = start_server(SIDELINE_MODERATION__ENABLED="true")
    admin = {"X-Admin-Key": server.admin_key()}
    mo, fan, author = (http_as(server, *who) for who in (("mo", "moderator"), ("fan",), ("author",)))
    with mo, fan, author, httpx.Client(base_url=server.url, timeout=10) as http:
        policy = http.get("/v1/admin/moderation/policies/match", headers=admin).json()
        policy["actions"]["pii"] = "hold"
        r = http.put("/v1/admin/moderation/policies/match", headers=admin, json=policy)
        assert r.status_code == 200, r.text
        shown = posted(author, "c0", "an ordinary message")
        reported = posted(author, "c1", "a message reported later")
        for http_of in (mo, fan):
            reacted(http_of, shown, "👍")
            reacted(http_of, reported, "🔥")
        mod_socket = await WsClient.login(server, "mo", role="moderator")
        fan_socket = await WsClient.login(server, "fan")
        both = {shown: ["👍"], reported: ["🔥"]}
        assert mod_socket.joined["mine"] == fan_socket.joined["mine"] == both
        positions = {
            "mo": {"after_seq": mod_socket.joined["seq"], **resume_at(mod_socket)},
            "fan": {"after_seq": fan_socket.joined["seq"], **resume_at(fan_socket)},
        }  # fmt: skip
        await mod_socket.close()
        await fan_socket.close()

        pii = {"client_msg_id": "c2", "text": "mail me at ann.lee@example.com"}
        r = author.post("/v1/rooms/match:1/messages", json=pii)
        assert r.status_code == 201 and r.json()["visibility"] == "held", r.text
        held = str(r.json()["message_id"])
        assert mo.post("/v1/rooms/match:1/shadow-bans", json={"user_id": "author"}).status_code == 201
        shadowed = posted(author, "c3", "a shadow-banned message")
        reacted(mo, held, "😂")
        reacted(mo, shadowed, "😮")
        reacted(author, shadowed, "👍")  # the author sees their own message: theirs to be told
        for i in range(3):  # the default threshold: hidden pending review
            with http_as(server, f"reporter{i}") as reporter:
                r = reporter.post(f"/v1/rooms/match:1/messages/{reported}/reports",
                                  json={"reason": "abuse"})  # fmt: skip
                assert r.status_code == 201, r.text

        for user, role in (("mo", "moderator"), ("fan", "user")):
            fresh = await WsClient.login(server, user, role=role)
            assert fresh.joined["mine"] == {shown: ["👍"]}, user
            back = await WsClient.login(server, user, role=role, join=positions[user])
            assert back.joined["resumed"] is True
            assert back.joined["mine"] == {shown: ["👍"]}, user
            counts = await back.expect("reaction")  # the current counts that follow a resume
            assert set(counts["messages"]) == {shown}, user
        assert mo.get("/v1/rooms/match:1/messages").json()["mine"] == {shown: ["👍"]}
        assert fan.get("/v1/rooms/match:1/messages").json()["mine"] == {shown: ["👍"]}
        assert author.get("/v1/rooms/match:1/messages").json()["mine"] == {shadowed: ["👍"]}
        assert (await WsClient.login(server, "author")).joined["mine"] == {shadowed: ["👍"]}


async def test_live_reaction_counts_name_no_message_hidden_from_the_room(start_server):
    """A moderator may react to a held message, and a reaction may be added to a message before
    reports hide it: the live ``reaction`` frames go to the whole room, so they carry the counts
    of messages everyone is shown, never those of a hidden one (that would tell it exists)."""
    server = start_server(SIDELINE_MODERATION__ENABLED="true")
    admin = {"X-Admin-Key": server.admin_key()}
    mo, author = http_as(server, "mo", "moderator"), http_as(server, "author")
    with mo, author, httpx.Client(base_url=server.url, timeout=10) as http:
        policy = http.get("/v1/admin/moderation/policies/match", headers=admin).json()
        policy["actions"]["pii"] = "hold"
        r = http.put("/v1/admin/moderation/policies/match", headers=admin, json=policy)
        assert r.status_code == 200, r.text
        shown = posted(author, "c0", "an ordinary message")
        r = author.post("/v1/rooms/match:1/messages",
                        json={"client_msg_id": "c1", "text": "mail me at ann.lee@example.com"})  # fmt: skip
        assert r.status_code == 201 and r.json()["visibility"] == "held", r.text
        held = str(r.json()["message_id"])
        fan = await WsClient.login(server, "fan")
        reacted(mo, held, "😂")
        reacted(mo, shown, "👍")
        # every reaction frame until the one with the shown message's count, and any for 1 s more
        frames = await fan.frames_until(
            lambda fs: any(f["type"] == "reaction" and shown in f.get("messages", {}) for f in fs), then=1.0
        )
        named = {mid for f in frames if f["type"] == "reaction" for mid in f["messages"]}
        assert named == {shown}
        await fan.close()


async def test_joined_says_typing_and_left_says_its_reason_even_at_their_usual_values(rt_server):
    """A missing field means null, false, 0 or empty (docs/protocol.md): a field whose usual
    value is none of these is always sent, or a client would read typing as off and a leave
    as having no reason."""
    client = await WsClient.login(rt_server, "u1")
    assert client.joined["typing"] is True
    await client.send(type="leave", room="match:1", ref="l")
    assert (await client.expect("left", ref="l"))["reason"] == "left"
    await client.send(type="join", room="match:1")
    await client.expect("joined", room="match:1")
    user = {"Authorization": f"Bearer {rt_server.token('u1', 'match:1')}"}
    with httpx.Client(base_url=rt_server.url, timeout=10) as http:
        assert http.post("/v1/rooms/match:1/leave", headers=user).status_code == 204
    left = await client.expect("left", room="match:1")
    assert left["reason"] == "left" and "ref" not in left


async def test_the_first_welcome_echoes_the_auth_frames_ref_as_a_refresh_does(rt_server):
    client = await WsClient.open(rt_server)
    await client.send(type="auth", token=rt_server.token("u1", "match:1"), ref="hello")
    assert (await client.expect("welcome"))["ref"] == "hello"
    await client.send(type="auth", token=rt_server.token("u1", "match:1"), ref="again")
    assert (await client.expect("welcome"))["ref"] == "again"


async def test_a_bad_value_in_a_map_is_named_by_its_key(rt_server):
    """``at`` names the field to fix, also inside ``join.remote`` (a map by epoch): the key of
    the refused value, not msgspec's ``[...]``, which names none."""
    client = await WsClient.login(rt_server, "u1", room=None)
    for remote, at in (
        ({"e1": 3, "e2": -1}, "$.remote.e2"),
        ({"01a2-epoch": "x"}, "$.remote['01a2-epoch']"),
    ):
        await client.send(type="join", room="match:1", after_seq=1, epoch="e", remote=remote, ref="j")
        err = await client.expect("error", ref="j")
        assert (err["code"], err["at"]) == ("invalid_body", at), err
        assert err["message"].endswith(f"at `{at}`"), err
