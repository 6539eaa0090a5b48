"""Reactions are bounded: each is one emoji, and one user adds at most
``reactions.max_per_user_per_message`` different ones to a message (removing is always allowed).
In-process app on a real DuckDB log.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import TestClient

from service.actions import reactions
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.settings import ConfigError, load_settings
from tests.integration.test_participation import ROOM, bearer, post_message, rows, who


def react(client: TestClient[Any], h: dict[str, str], mid: str, emoji: str) -> Any:
    return client.post(f"{ROOM}/messages/{mid}/reactions", headers=h, json={"emoji": emoji})


def test_a_run_of_emoji_is_no_reaction(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    before = c.log.last_seq
    r = react(client, bearer(s, "fan"), mid, "🔥💩🔥")
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "invalid_body", "at": "$.emoji",
        "message": "emoji '🔥💩🔥' is 3 emoji; a reaction is one emoji (a flag, a keycap, a skin "
        "tone or a joined sequence such as a family counts as one)",
    }  # fmt: skip
    assert c.log.last_seq == before
    for i, one in enumerate(("🏴‍☠️", "👩🏽‍💻", "🇯🇵", "#️⃣")):  # one user each: at most 3 per user
        assert react(client, bearer(s, f"fan{i}"), mid, one).status_code == 200, one


def test_one_user_adds_three_reactions_to_a_message_and_no_more(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    other = post_message(client, bearer(s, "author2"), "m2")
    fan = bearer(s, "fan")
    for emoji in ("🔥", "👍", "😂"):
        assert react(client, fan, mid, emoji).status_code == 200, emoji
    before = c.log.last_seq
    refused = react(client, fan, mid, "🎉")
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "conflict",
        "message": "you have 3 reactions on this message already (🔥 👍 😂), the most one user "
        "may add; remove one to add '🎉'",
        "at": "$.emoji",
    }  # fmt: skip
    assert c.log.last_seq == before  # nothing written
    documented = client.get("/schema/openapi.json").json()["paths"]
    responses = documented["/v1/rooms/{room_id}/messages/{message_id}/reactions"]["post"]["responses"]
    assert "`conflict`" in responses["409"]["description"]
    again = react(client, fan, mid, "🔥")  # one they have: changes nothing, refused nothing
    assert again.status_code == 200 and again.json()["seq"] == 0
    assert react(client, bearer(s, "fan2"), mid, "🎉").status_code == 200  # per user
    assert react(client, fan, other, "🎉").status_code == 200  # per message
    removed = client.delete(f"{ROOM}/messages/{mid}/reactions/👍", headers=fan)
    assert removed.status_code == 200 and removed.json()["count"] == 0
    assert react(client, fan, mid, "🎉").json()["count"] == 2
    page = client.get(f"{ROOM}/messages", headers=fan).json()["messages"]
    assert page[0]["reactions"] == {"🔥": 1, "😂": 1, "🎉": 2}


def test_the_cap_is_a_setting(start):
    s, _, client = start(SIDELINE_REACTIONS__MAX_PER_USER_PER_MESSAGE="1")
    mid = post_message(client, bearer(s, "author"), "m1")
    assert react(client, bearer(s, "fan"), mid, "🔥").status_code == 200
    r = react(client, bearer(s, "fan"), mid, "👍")
    assert r.status_code == 409 and r.json()["error"]["message"].startswith(
        "you have 1 reaction on this message already (🔥)"
    )


def test_concurrent_reactions_of_one_user_stop_at_the_cap(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")

    async def all_at_once() -> list[Any]:
        adds = (reactions.set_reaction(c, who("fan"), "match:1", mid, e, add=True) for e in "😀😁😂🤣😃")
        return await asyncio.gather(*adds, return_exceptions=True)

    results = client.blocking_portal.call(all_at_once)
    refused = [r for r in results if isinstance(r, SidelineError)]
    assert [r.code for r in refused] == [ErrorCode.CONFLICT] * 2, results
    assert len(rows(client, c, EventType.REACTION_ADDED)) == 3


def test_reactions_past_the_cap_from_older_data_can_be_removed(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    older = [
        new_event(EventType.REACTION_ADDED, user_id="fan", room_id="match:1", context_id="match:1",
                  message_id=mid, payload={"emoji": e})
        for e in ("😀", "😁", "😂", "🤣", "🔥💩")  # written before reactions were bounded
    ]  # fmt: skip
    client.blocking_portal.call(c.commit, older)
    fan = bearer(s, "fan")
    assert react(client, fan, mid, "🎉").status_code == 409
    for e in ("🔥💩", "😀"):
        assert client.delete(f"{ROOM}/messages/{mid}/reactions/{e}", headers=fan).status_code == 200, e
    assert react(client, fan, mid, "🎉").status_code == 409  # 😁 😂 🤣 left: still at the cap
    assert client.delete(f"{ROOM}/messages/{mid}/reactions/😁", headers=fan).status_code == 200
    assert react(client, fan, mid, "🎉").status_code == 200


def test_a_cap_below_one_stops_the_start_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"Expected >= 1 - at `\$\.reactions\.max_per_user_per_message`"):
        load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_REACTIONS__MAX_PER_USER_PER_MESSAGE": "0"})
