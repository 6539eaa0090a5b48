"""Crowd taps and typing: never logged, but authorised like the actions they stand for.

A crowd tap needs what a reaction needs (react), typing what a message needs (post); a
refusal is the usual error frame, and a shadow-banned user's signals vanish without a word.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.fixtures.ws import WsClient


def admin(server) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"X-Admin-Key": server.admin_key()}, timeout=10
    )


def signals(frames: list[dict]) -> list[dict]:
    return [
        f for f in frames if f["type"] == "typing" or (f["type"] == "reaction" and f.get("crowd"))
    ]


async def test_viewers_can_neither_tap_nor_type(rt_server):
    watcher = await WsClient.login(rt_server, "ann")
    viewer = await WsClient.login(rt_server, "vic", role="viewer")
    await viewer.send(type="react", room="match:1", emoji="⚽", ref="tap")
    err = await viewer.expect("error", ref="tap")
    assert (err["code"], err["message"]) == ("role_too_low", "viewers can read but not take part")
    await viewer.send(type="typing", room="match:1", ref="typ")
    assert (await viewer.expect("error", ref="typ"))["code"] == "role_too_low"
    await viewer.send(type="react", room="match:1", emoji="BUY at evil.example now", ref="spam")
    err = await viewer.expect("error", ref="spam")
    assert (err["code"], err["at"]) == ("invalid_body", "$.emoji")
    assert "'BUY at evil.example now' is not made of emoji" in err["message"]
    # a user's signals do reach the watcher: the silence above is the refusal
    bob = await WsClient.login(rt_server, "bob", name="Bob")
    await bob.send(type="react", room="match:1", emoji="⚽")
    await bob.send(type="typing", room="match:1")
    got = signals(await watcher.frames_until(lambda fs: len(signals(fs)) >= 2, then=0.5))
    assert len(got) == 2, got
    assert {f["type"]: f.get("crowd", f.get("user_id")) for f in got} == {
        "reaction": {"⚽": 1}, "typing": "bob"}  # fmt: skip


async def test_a_closed_room_takes_no_taps_and_no_typing(rt_server):
    watcher = await WsClient.login(rt_server, "ann")
    bob = await WsClient.login(rt_server, "bob")
    with admin(rt_server) as api:
        assert api.post("/v1/admin/rooms/match:1/close").json()["mode"] == "closed"
    await bob.expect("room", mode="closed")
    await bob.send(type="react", room="match:1", emoji="⚽", ref="tap")
    err = await bob.expect("error", ref="tap")
    assert (err["code"], err["message"]) == (
        "room_closed",
        "this room is closed (read-only archive)",
    )
    await bob.send(type="typing", room="match:1", ref="typ")
    assert (await bob.expect("error", ref="typ"))["code"] == "room_closed"
    assert signals(await watcher.frames(0.6)) == []


async def test_who_cannot_post_cannot_type(rt_server):
    watcher = await WsClient.login(rt_server, "ann")
    bob = await WsClient.login(rt_server, "bob")
    cat = await WsClient.login(rt_server, "cat")
    with admin(rt_server) as api:
        assert api.post("/v1/admin/rooms/match:1/mutes", json={"user_id": "cat"}).status_code == 201
        assert (
            api.put("/v1/admin/rooms/match:1", json={"mode": "reactions-only"}).status_code == 200
        )
    await bob.expect("room", mode="reactions-only")
    await bob.send(type="typing", room="match:1", ref="typ")
    assert (await bob.expect("error", ref="typ"))["code"] == "reactions_only"
    await cat.send(type="typing", room="match:1", ref="typ")
    assert (await cat.expect("notice", ref="typ"))["code"] == "user_muted"  # as a muted send
    await bob.send(type="react", room="match:1", emoji="👍🏽")  # reactions are what the mode takes
    got = signals(await watcher.frames_until(lambda fs: signals(fs) != [], then=0.6))
    assert [f["crowd"] for f in got] == [{"👍🏽": 1}], got


async def test_a_shadow_banned_users_signals_vanish_silently(rt_server):
    watcher = await WsClient.login(rt_server, "ann")
    cat = await WsClient.login(rt_server, "cat")
    with admin(rt_server) as api:
        assert (
            api.post("/v1/admin/rooms/match:1/shadow-bans", json={"user_id": "cat"}).status_code
            == 201
        )
    await cat.send(type="react", room="match:1", emoji="⚽", ref="tap")
    await cat.send(type="typing", room="match:1", ref="typ")
    await cat.send(type="ping", ref="p")
    await cat.expect("pong", ref="p")
    told = [f for f in cat.seen if f.get("ref") in ("tap", "typ")]
    assert told == [], "a shadow-ban is silent"
    assert signals(await watcher.frames(0.6)) == []


async def tap_twice_and_leave(client: WsClient) -> None:
    """Two taps, the second waiting for the interval (the first went out at once), and the
    node's last socket in the room leaves before that interval is over."""
    await client.send(type="react", room="match:1", emoji="🔥")
    assert (await client.expect("reaction"))["crowd"] == {"🔥": 1}
    await client.send(type="react", room="match:1", emoji="🔥")
    await client.send(type="leave", room="match:1", ref="l")
    await client.expect("left", ref="l")


async def test_taps_of_a_room_left_meanwhile_are_not_shown_later_as_new(start_server):
    server = start_server(SIDELINE_REALTIME__PRESENCE_INTERVAL_SECONDS="1.0")
    ann = await WsClient.login(server, "ann")
    await tap_twice_and_leave(ann)
    await asyncio.sleep(1.5)
    bob = await WsClient.login(server, "bob")  # arrives long after that tap
    await ann.send(type="join", room="match:1", ref="j")
    await ann.expect("joined", ref="j")
    await ann.send(type="react", room="match:1", emoji="👍")
    got = signals(await bob.frames_until(lambda fs: any("👍" in (f.get("crowd") or {}) for f in fs), then=1.0))
    assert [f["crowd"] for f in got] == [{"👍": 1}], got
