"""Reading rooms nobody used answers their kind's defaults and stores nothing for them
(docs/event-log.md, "Memory"): 1,000 such reads once made 1,000 permanent room states."""

from __future__ import annotations

from service.identity import mint_token


def bearer(s, user: str, room: str, role: str = "user") -> dict[str, str]:
    token = mint_token(s.auth.hs256_secret, user_id=user, context_id=room, role=role)
    return {"Authorization": f"Bearer {token}"}


def test_reading_a_thousand_unseen_rooms_stores_no_room_state(start):
    s, community, c = start()
    admin = {"X-Admin-Key": s.admin.api_key}
    h = bearer(s, "u1", "match:1")
    assert c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "a", "text": "hi"}).status_code == 201
    # a room used before: what a reader of an unused room is answered, the same now as then
    used = c.get("/v1/rooms/match:1", headers=h).json()
    before = dict(community.state.rooms)
    assert list(before) == ["match:1"]

    answers = []
    for i in range(1_000):
        kind = ("match", "team")[i % 2]
        room = f"{kind}:unseen-{i}"
        r = bearer(s, f"r{i % 50}", room)
        page = c.get(f"/v1/rooms/{room}/messages", headers=r)
        info = c.get(f"/v1/rooms/{room}", headers=r)
        by_admin = c.get(f"/v1/admin/rooms/{room}", headers=admin)
        assert (page.status_code, info.status_code, by_admin.status_code) == (200, 200, 200)
        answers.append((room, page.json(), info.json(), by_admin.json()))

    assert community.state.rooms == before
    assert all(community.state.rooms[k] is v for k, v in before.items())

    policy = {kind: s.rooms[kind] for kind in ("match", "team")}
    for room, page, info, by_admin in answers:
        kind = room.split(":")[0]
        assert page["messages"] == [] and page["next_before"] is None and page["mine"] == {}
        expected = {
            "room_id": room, "mode": policy[kind].mode, "slow_mode_seconds": policy[kind].slow_mode_seconds,
            "max_message_length": policy[kind].max_message_length, "pinned_message_id": None,
        }  # fmt: skip
        assert {k: info[k] for k in expected} == expected, info
        assert info["role"] == "user"
        assert {k: by_admin[k] for k in expected} == expected
        assert set(info) == set(used)

    # a room read before, then changed, is a room like any other
    room = answers[0][0]
    changed = c.put(f"/v1/admin/rooms/{room}", headers=admin, json={"slow_mode_seconds": 30})
    assert changed.status_code == 200 and changed.json()["slow_mode_seconds"] == 30
    assert c.get(f"/v1/rooms/{room}", headers=bearer(s, "u1", room)).json()["slow_mode_seconds"] == 30
    assert sorted(community.state.rooms) == sorted(["match:1", room])


def test_reactions_and_reports_of_messages_past_the_index_still_count(start):
    """The message index is bounded; a message's reactions and reporters are not trimmed with
    it, since what readers see of an older message and what they may still do with it go by them."""
    s, community, c = start()
    community.state._index_size = 2
    h, other = bearer(s, "u1", "match:1"), bearer(s, "u2", "match:1")
    ids = [
        c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": f"m{i}", "text": f"t{i}"}).json()["message_id"]
        for i in range(2)
    ]
    old = ids[0]
    assert c.post(f"/v1/rooms/match:1/messages/{old}/reactions", headers=other, json={"emoji": "⚽"}).json()["count"] == 1
    assert c.post(f"/v1/rooms/match:1/messages/{old}/reports", headers=other, json={"reason": "spam"}).status_code == 201
    for i in range(2, 5):  # the first message leaves the index
        c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": f"m{i}", "text": f"t{i}"})
    assert old not in community.state.messages
    page = c.get("/v1/rooms/match:1/messages", headers=other).json()
    first = next(m for m in page["messages"] if m["message_id"] == old)
    assert first["reactions"] == {"⚽": 1} and page["mine"][old] == ["⚽"] and old in page["reported"]
    assert c.get(f"/v1/rooms/match:1/messages/{old}", headers=other).json()["reactions"] == {"⚽": 1}
    again = c.post(f"/v1/rooms/match:1/messages/{old}/reactions", headers=other, json={"emoji": "⚽"}).json()
    assert again["count"] == 1 and again["seq"] == 0  # nothing written twice
    assert c.post(f"/v1/rooms/match:1/messages/{old}/reports", headers=other, json={"reason": "spam"}).status_code == 409
