"""A node's own decisions about another node's message or poll hold after it restarts.

At start a node folds its own log, then applies the other nodes' events it recalls from
Redis. Its own delete of another node's message, or a vote through it in another node's poll,
was folded before that message or poll existed in its state, and was lost: after a restart
the deleted message showed again on that node (the other still said 404), and the vote was
gone from its results (found by the rolling-upgrade audit of stop 25).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.fixtures.server import ServerProcess
from tests.integration.realtime.test_two_nodes import start_two

pytestmark = pytest.mark.slow

ROOM = "match:1"


def auth(node: ServerProcess, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {node.token(user, ROOM, role=role)}"}


async def test_a_restarted_node_keeps_its_own_delete_and_vote_on_the_other_nodes_things(start_server, redis_url):
    a, b = start_two(start_server, redis_url)
    async with httpx.AsyncClient(timeout=30) as http:
        kept, gone = [
            (await http.post(f"{b.url}/v1/rooms/{ROOM}/messages", headers=auth(b, "bob"),
                             json={"client_msg_id": cid, "text": cid})).json()["message_id"]
            for cid in ("kept", "gone")
        ]  # fmt: skip
        poll = (await http.post(f"{b.url}/v1/rooms/{ROOM}/polls", headers=auth(b, "mod", "moderator"),
                                json={"question": "Who wins?", "options": ["home", "away"]})).json()  # fmt: skip
        await asyncio.sleep(0.5)  # B's envelopes reach A
        r = await http.delete(f"{a.url}/v1/rooms/{ROOM}/messages/{gone}", headers=auth(a, "mod", "moderator"))
        assert r.status_code == 200, r.text
        r = await http.post(f"{a.url}/v1/rooms/{ROOM}/polls/{poll['poll_id']}/votes",
                            headers=auth(a, "ann"), json={"option": 1})  # fmt: skip
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.5)

        a.stop()
        a.start()
        for node in (a, b):
            page = (await http.get(f"{node.url}/v1/rooms/{ROOM}/messages", headers=auth(node, "cy"))).json()
            assert [m["message_id"] for m in page["messages"]] == [kept], node.node_id
            got = (await http.get(f"{node.url}/v1/rooms/{ROOM}/polls/{poll['poll_id']}",
                                  headers=auth(node, "ann"))).json()  # fmt: skip
            assert got["results"] == [0, 1] and got["my_vote"] == 1, (node.node_id, got)
