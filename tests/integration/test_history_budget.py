"""Recent history bounded across rooms (``memory.history_messages``): a room that went longest
without a message lets go of its recent messages, and its pages and joins read them from the
log, the same as memory served them; a crowd joining it reads the log once. In-process app on
a real DuckDB log.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import TestClient

from service.actions import history
from service.actions.context import Community
from service.domain.events import EventType, new_event
from service.domain.rooms import Role
from service.identity import Identity, mint_token
from tests.integration.test_participation import ROOM, bearer, post_message


def page(client: TestClient[Any], h: dict[str, str], room: str = ROOM, **query: Any) -> Any:
    r = client.get(f"{room}/messages", headers=h, params=query)
    assert r.status_code == 200, r.text
    return r.json()


def ids(answer: Any) -> list[str]:
    return [m["message_id"] for m in answer["messages"]]


def fill_other_rooms(client: TestClient[Any], s: Any, n: int) -> None:
    for i in range(n):
        room = f"match:other-{i % 3}"
        token = mint_token(s.auth.hs256_secret, user_id=f"o{i}", context_id=room, role="user")
        r = client.post(f"/v1/rooms/{room}/messages", headers={"Authorization": f"Bearer {token}"},
                        json={"client_msg_id": f"o{i}", "text": f"elsewhere {i}"})  # fmt: skip
        assert r.status_code == 201, r.text


def test_a_room_let_go_of_reads_the_same_history_from_the_log(start):
    s, c, client = start(SIDELINE_MEMORY__HISTORY_MESSAGES="6")
    fan, mod = bearer(s, "fan"), bearer(s, "mod", "moderator")
    sent = [post_message(client, bearer(s, f"u{i}"), f"c{i}", f"early {i}") for i in range(5)]
    r = client.post(f"{ROOM}/messages/{sent[1]}/reactions", headers=fan, json={"emoji": "🔥"})
    assert r.status_code == 200, r.text
    assert client.delete(f"{ROOM}/messages/{sent[3]}", headers=mod).status_code == 200
    before = page(client, fan, limit=3)
    whole = page(client, fan)
    assert "match:1" in c.state.history
    fill_other_rooms(client, s, 6)  # 6 newer messages elsewhere: match:1 is let go of
    assert "match:1" not in c.state.history and c.state.history_held <= 6
    assert page(client, fan, limit=3) == before  # the newest page, with the reaction counts
    assert page(client, fan) == whole  # the deleted message stays out
    assert page(client, fan, limit=2, before=before["next_before"])["messages"] == whole["messages"][:1]
    assert ids(whole) == [sent[0], sent[1], sent[2], sent[4]]
    assert whole["mine"] == {sent[1]: ["🔥"]}
    # the room wakes up: its new message in memory, the older ones still from the log
    new = post_message(client, bearer(s, "late"), "late", "back again")
    assert ids(page(client, fan)) == [*ids(whole), new]


def test_a_crowd_joining_a_room_let_go_of_reads_the_log_once(start, monkeypatch):
    s, c, client = start(SIDELINE_MEMORY__HISTORY_MESSAGES="4")
    sent = [post_message(client, bearer(s, f"u{i}"), f"c{i}", f"early {i}") for i in range(3)]
    fill_other_rooms(client, s, 4)
    assert "match:1" not in c.state.history
    reads: list[int] = []
    read_messages_before = c.log.read_messages_before

    async def counted(*args: Any, **kw: Any) -> Any:
        reads.append(args[1])
        await asyncio.sleep(0.05)  # a log read under load: the crowd arrives meanwhile
        return await read_messages_before(*args, **kw)

    monkeypatch.setattr(c.log, "read_messages_before", counted)

    async def crowd(community: Community) -> list[Any]:
        who = [_identity(s, f"fan{i}") for i in range(50)]
        pages = await asyncio.gather(*(history.page(community, w, "match:1", limit=50) for w in who))
        return [[m.message_id for m in p.messages] for p in pages]

    pages = client.blocking_portal.call(crowd, c)
    assert pages == [sent] * 50
    assert len(reads) == 1  # one read for the whole crowd
    assert ids(page(client, bearer(s, "later"))) == sent and len(reads) == 1  # kept until a change
    post_message(client, bearer(s, "u9"), "c9", "a new one")  # a commit in the room: read again
    assert ids(page(client, bearer(s, "later")))[:3] == sent and len(reads) == 2


def _identity(s: Any, user: str) -> Identity:
    return Identity(user_id=user, name=user, context_id="match:1", role=Role.USER)


def test_a_change_another_node_made_holds_after_the_room_is_let_go_of(start):
    """Another node's delete of this node's message is in the state (applied as it arrived),
    not in this node's log: the page read from the log still leaves the message out."""
    s, c, client = start(SIDELINE_MEMORY__HISTORY_MESSAGES="4")
    fan = bearer(s, "fan")
    sent = [post_message(client, bearer(s, f"u{i}"), f"c{i}", f"early {i}") for i in range(3)]
    deleted = new_event(EventType.MESSAGE_DELETED, user_id="mod", room_id="match:1", message_id=sent[1],
                        payload={"reason": "moderator"})  # fmt: skip
    deleted.seq, deleted.epoch, deleted.node_id = 1, "another-epoch", "node-2"
    c.state.apply(deleted)  # as the hub applies a remote event
    assert ids(page(client, fan)) == [sent[0], sent[2]]
    fill_other_rooms(client, s, 4)
    assert "match:1" not in c.state.history
    assert ids(page(client, fan)) == [sent[0], sent[2]]
