"""The review queue's live signal: what changes it reaches the room's moderators, and only them.

A held message, a report (hiding or not), a decision and a deletion each give every moderator
in the room a ``review`` frame (room, message id, what changed, never the text), so a
moderator's panel fetches the queue at once instead of at its next poll. Users, speakers and
the sender get none; a role granted through the admin API counts, a revoked one stops counting;
and across nodes the moderator is found by the node holding the socket.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.ws import WsClient
from tests.integration.realtime.test_two_nodes import admin as admin_of_two
from tests.integration.realtime.test_two_nodes import start_two
from tests.integration.realtime.test_visibility import admin

HOLD_PII = {
    "SIDELINE_MODERATION__ENABLED": "true",
    "SIDELINE_MODERATION__POLICIES__MATCH__ACTIONS": '{"pii": "hold"}',
}


def reviews(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "review"]


async def send_held(client: WsClient, ref: str = "s") -> str:
    await client.send(type="send", room="match:1", client_msg_id=ref, text="mail me at ann@example.com", ref=ref)
    ack = await client.expect("ack", ref=ref)
    assert (await client.expect("notice", ref=ref))["code"] == "held"
    return str(ack["message_id"])


async def test_moderators_alone_hear_of_a_hold_and_of_its_decision(start_server):
    server = start_server(**HOLD_PII)
    mod = await WsClient.login(server, "mo", role="moderator")
    speaker = await WsClient.login(server, "sid", role="speaker")
    bob = await WsClient.login(server, "bob")
    ann = await WsClient.login(server, "ann")
    mid = await send_held(ann)

    signal = await mod.expect("review", message_id=mid)
    assert signal == {"type": "review", "room": "match:1", "message_id": mid, "change": "held"}
    with admin(server) as api:
        r = api.post(f"/v1/admin/rooms/match:1/review/{mid}", json={"decision": "reject"})
        assert r.status_code == 200, r.text
    assert (await mod.expect("review", message_id=mid))["change"] == "decided"
    for other in (speaker, bob, ann):
        assert reviews(await other.frames(0.5)) == [], "only moderators hear of the queue"


async def test_reports_signal_moderators_whether_or_not_they_hide_the_message(start_server):
    server = start_server(SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD="2")
    mod = await WsClient.login(server, "mo", role="moderator")
    ann = await WsClient.login(server, "ann")
    await ann.send(type="send", room="match:1", client_msg_id="c1", text="controversial", ref="s")
    mid = (await ann.expect("ack", ref="s"))["message_id"]

    for n, reporter in enumerate(("r1", "r2"), start=1):
        headers = {"Authorization": f"Bearer {server.token(reporter, 'match:1')}"}
        r = httpx.post(f"{server.url}/v1/rooms/match:1/messages/{mid}/reports", headers=headers,
                       json={"reason": "rude"}, timeout=10)  # fmt: skip
        assert r.status_code == 201, r.text
        assert (await mod.expect("review", message_id=mid))["change"] == "reported", n
    assert (await mod.expect("deleted", message_id=mid))["reason"] == "hidden pending review"
    assert reviews(await ann.frames(0.5)) == []

    # a moderator's own delete of the reported message takes it off every moderator's list
    headers = {"Authorization": f"Bearer {server.token('mo', 'match:1', role='moderator')}"}
    r = httpx.delete(f"{server.url}/v1/rooms/match:1/messages/{mid}", headers=headers, timeout=10)
    assert r.status_code in (200, 204), r.text
    assert (await mod.expect("review", message_id=mid))["change"] == "decided"


async def test_a_granted_role_counts_and_a_revoked_one_stops_counting(start_server):
    server = start_server(**HOLD_PII)
    cat = await WsClient.login(server, "cat")
    ann = await WsClient.login(server, "ann")
    with admin(server) as api:
        r = api.post("/v1/admin/rooms/match:1/roles", json={"user_id": "cat", "role": "moderator"})
        assert r.status_code == 200, r.text
    await cat.expect("room", role="moderator")
    first = await send_held(ann, "c1")
    assert (await cat.expect("review", message_id=first))["change"] == "held"

    with admin(server) as api:
        r = api.delete("/v1/admin/rooms/match:1/roles/cat")
        assert r.status_code in (200, 204), r.text
    await cat.expect("room", role="user")
    await send_held(ann, "c2")
    assert reviews(await cat.frames(0.6)) == []


@pytest.mark.slow
async def test_a_hold_on_one_node_reaches_a_moderator_on_the_other(start_server, redis_url):
    a, b = start_two(start_server, redis_url, **HOLD_PII)
    mod = await WsClient.login(b, "mo", role="moderator")
    bob = await WsClient.login(b, "bob")
    ann = await WsClient.login(a, "ann")
    mid = await send_held(ann)
    assert (await mod.expect("review", message_id=mid))["change"] == "held"
    with admin_of_two(a) as api:
        r = api.post(f"/v1/admin/rooms/match:1/review/{mid}", json={"decision": "approve"})
        assert r.status_code == 200, r.text
    assert (await mod.expect("review", message_id=mid))["change"] == "decided"
    assert (await bob.expect("message", message_id=mid))["user_id"] == "ann"
    assert reviews(await bob.frames(0.5)) == []
