"""``GET /v1/rooms/{room}/messages/{id}``: one message as the caller's history shows it (the
panel reads a pinned message it does not hold this way). A message the caller may not see is
answered exactly as one that does not exist; a deleted one too. In-process app on a real DuckDB
log.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.test_http_hidden_messages import GHOST, HIDDEN, as_for_no_message
from tests.integration.test_participation import ROOM, bearer, post_message


def read(client: TestClient[Any], h: dict[str, str], mid: str) -> Any:
    return client.get(f"{ROOM}/messages/{mid}", headers=h)


def test_a_message_reads_as_in_the_history(start):
    s, _, client = start()
    mid = post_message(client, bearer(s, "author"), "m1", "what a save")
    assert client.post(f"{ROOM}/messages/{mid}/reactions", headers=bearer(s, "fan"),
                       json={"emoji": "🔥"}).status_code == 200  # fmt: skip
    r = read(client, bearer(s, "fan"), mid)
    assert r.status_code == 200, r.text
    [in_history] = client.get(f"{ROOM}/messages", headers=bearer(s, "fan")).json()["messages"]
    assert r.json() == in_history
    assert (r.json()["text"], r.json()["reactions"]) == ("what a save", {"🔥": 1})


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
def test_a_message_one_cannot_see_reads_as_none(start, hidden):
    s, _, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = hidden(s, client)
    as_for_no_message(client, read, bearer(s, "fan"), mid)
    assert read(client, bearer(s, "fan"), GHOST).json()["error"]["at"] == "$.message_id"


def test_a_shadow_banned_author_reads_their_own_as_public(start):
    s, _, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = HIDDEN["author shadow-banned"](s, client)
    r = read(client, bearer(s, "author"), mid)
    assert r.status_code == 200 and r.json()["visibility"] == "public", r.text


def test_a_deleted_message_reads_as_none(start):
    s, _, client = start()
    mid = post_message(client, bearer(s, "author"), "m1", "soon gone")
    assert client.delete(f"{ROOM}/messages/{mid}", headers=bearer(s, "mod", "moderator")).status_code == 200
    as_for_no_message(client, read, bearer(s, "fan"), mid)


def test_a_message_of_another_room_reads_as_none_and_a_closed_door_is_403(start):
    s, _, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    r = client.get(f"/v1/rooms/match:2/messages/{mid}", headers=bearer(s, "fan"))
    assert r.status_code == 403, r.text  # the token opens match:1 only
