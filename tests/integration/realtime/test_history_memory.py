"""A real node past ``memory.history_messages``: a room idle the longest lets go of its recent
messages, and a join reads them from the log, as it did from memory, before and after a
restart (which rebuilds the state within the same bound)."""

from __future__ import annotations

import httpx

from tests.fixtures.ws import WsClient


def post(server, user: str, room: str, cid: str, text: str) -> str:
    h = {"Authorization": f"Bearer {server.token(user, room)}"}
    r = httpx.post(f"{server.url}/v1/rooms/{room}/messages", headers=h,
                   json={"client_msg_id": cid, "text": text})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def held(server) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    line = next(x for x in text.splitlines() if x.startswith("sideline_history_messages "))
    return float(line.split()[1])


async def test_a_join_of_a_room_let_go_of_shows_the_same_history(start_server):
    server = start_server(SIDELINE_MEMORY__HISTORY_MESSAGES="10")
    sent = [post(server, f"u{i}", "match:1", f"c{i}", f"early {i}") for i in range(6)]
    h = {"Authorization": f"Bearer {server.token('fan', 'match:1')}"}
    r = httpx.post(f"{server.url}/v1/rooms/match:1/messages/{sent[2]}/reactions", headers=h, json={"emoji": "🎉"})
    assert r.status_code == 200, r.text
    first = await WsClient.login(server, "ann")
    shown = first.joined["history"]
    assert [m["message_id"] for m in shown] == sent and shown[2]["reactions"] == {"🎉": 1}
    await first.close()
    for i in range(12):  # newer messages in other rooms: match:1 is let go of
        post(server, f"o{i}", f"match:other-{i % 4}", f"o{i}", f"elsewhere {i}")
    assert held(server) <= 10
    again = await WsClient.login(server, "ann")
    assert again.joined["history"] == shown  # read from the log, the same frames
    await again.close()
    server.stop()
    server = start_server(SIDELINE_MEMORY__HISTORY_MESSAGES="10")  # rebuilt within the bound
    assert held(server) <= 10
    after = await WsClient.login(server, "ann")
    assert after.joined["history"] == shown
    new = post(server, "late", "match:1", "late", "back again")
    await after.expect("message", message_id=new)
    await after.close()
