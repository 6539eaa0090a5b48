"""Pins through a real server: only what the whole room sees is pinned, and a pinned message
that leaves the room's view is unpinned by an event (so also after a restart)."""

from __future__ import annotations

import duckdb
import httpx

from tests.fixtures.ws import WsClient

ENV = {"SIDELINE_MODERATION__ENABLED": "true",
       "SIDELINE_MODERATION__POLICIES__MATCH__ACTIONS": '{"pii": "hold"}'}  # fmt: skip


def _pinned(server) -> str | None:
    h = {"Authorization": f"Bearer {server.token('cat', 'match:1')}"}
    room = httpx.get(f"{server.url}/v1/rooms/match:1", headers=h, timeout=10).json()
    return room["pinned_message_id"]  # type: ignore[no-any-return]


async def _send(client: WsClient, cid: str, text: str) -> str:
    await client.send(type="send", room="match:1", client_msg_id=cid, text=text, ref=cid)
    return (await client.expect("ack", ref=cid))["message_id"]  # type: ignore[no-any-return]


async def test_a_held_message_cannot_be_pinned_and_nobody_hears_of_it(start_server):
    """Pinning a held message gave every client a `room` frame with its id, telling the room
    it exists (refusals must not). It is refused as not found, and nothing is written."""
    server = start_server(**ENV)
    ann = await WsClient.login(server, "ann")
    bob = await WsClient.login(server, "bob")
    held = await _send(ann, "h", "mail me at ann@example.com")
    mod = {"Authorization": f"Bearer {server.token('mia', 'match:1', 'moderator')}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        r = http.post("/v1/rooms/match:1/pin", headers=mod, json={"message_id": held})
        assert r.status_code == 404, r.text
        assert r.json()["error"]["at"] == "$.message_id"
        assert "only a message everyone in the room sees can be pinned" in r.json()["error"]["message"]
        admin = {"X-Admin-Key": server.admin_key()}
        r = http.post("/v1/admin/rooms/match:1/pin", headers=admin, json={"message_id": held})
        assert r.status_code == 404, r.text
    assert not [f for f in await bob.frames(0.5) if f["type"] == "room"]
    assert _pinned(server) is None


async def test_deleting_or_hiding_the_pinned_message_unpins_it(start_server):
    """Deleting the pinned message left pinned_message_id pointing at it. The delete (and a
    report that hides it) now writes an unpin with it: clients get a `room` frame without a
    pin, and a restarted node rebuilds the room unpinned."""
    server = start_server(**ENV, SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD="2")
    ann = await WsClient.login(server, "ann")
    bob = await WsClient.login(server, "bob")
    first = await _send(ann, "a", "what a goal")
    second = await _send(ann, "b", "what a save")
    mod = {"Authorization": f"Bearer {server.token('mia', 'match:1', 'moderator')}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.post("/v1/rooms/match:1/pin", headers=mod, json={"message_id": first}).status_code == 200
        assert (await bob.expect("room"))["pinned_message_id"] == first
        assert http.delete(f"/v1/rooms/match:1/messages/{first}", headers=mod).status_code == 200
        await bob.expect("deleted", message_id=first)
        unpinned = await bob.expect("room")
        assert unpinned.get("pinned_message_id") is None, unpinned
        assert _pinned(server) is None
        assert http.post("/v1/rooms/match:1/pin", headers=mod, json={"message_id": second}).status_code == 200
        assert (await bob.expect("room"))["pinned_message_id"] == second
        for reporter in ("r1", "r2"):  # the second hides it
            h = {"Authorization": f"Bearer {server.token(reporter, 'match:1')}"}
            r = http.post(f"/v1/rooms/match:1/messages/{second}/reports", headers=h, json={"reason": "rude"})
            assert r.status_code == 201, r.text
        await bob.expect("deleted", message_id=second)
        assert (await bob.expect("room")).get("pinned_message_id") is None
        assert _pinned(server) is None
    server.stop()
    con = duckdb.connect(str(server.settings().log_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT message_id, user_id, actor_id, payload FROM events "
            "WHERE event_type = 'community_message_pinned' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (first, "ann", "mia", '{"pinned":true}'),
        (first, "ann", "mia", '{"pinned":false,"reason":"deleted"}'),
        (second, "ann", "mia", '{"pinned":true}'),
        (second, "ann", "system:reports", '{"pinned":false,"reason":"hidden by reports"}'),
    ]
    server.start()
    assert _pinned(server) is None
