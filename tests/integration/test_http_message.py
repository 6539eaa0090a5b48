"""``GET /v1/rooms/{room}/messages/{id}``: one message as the caller's history shows it (the
panel reads a pinned message it does not hold this way). A message the caller may not see is
answered exactly as one that does not exist; a deleted one too. Every answer gives a message's
visibility as it is now, not as it was sent. In-process app on a real DuckDB log.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.test_http_hidden_messages import (
    GHOST,
    HIDDEN,
    as_for_no_message,
    held,
    reported,
    small_memory,
)
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


def as_now(client: TestClient[Any], h: dict[str, str], mid: str, retry: dict[str, str] | None) -> list[Any]:
    """The message's ``visibility`` (and ``text``) as its author's ``retry`` of the send (when
    given), and, when it is shown, as the message read alone and in the history tell it."""
    answers = []
    if retry is not None:
        r = client.post(f"{ROOM}/messages", headers=h, json=retry)
        assert r.status_code in (200, 201) and r.json()["message_id"] == mid, r.text
        answers.append((r.json()["visibility"], r.json()["text"]))
    one = read(client, h, mid)
    if one.status_code == 200:
        answers.append((one.json()["visibility"], one.json()["text"]))
        page = client.get(f"{ROOM}/messages", headers=h, params={"limit": 200}).json()["messages"]
        answers += [(m["visibility"], m["text"]) for m in page if m["message_id"] == mid]
    return answers


SHOWN = "mail me at [email]"  # held, then shown masked


@pytest.mark.parametrize("older_than_memory", [False, True], ids=["in memory", "log only"])
def test_an_approved_held_message_reads_public(start, monkeypatch, older_than_memory):
    """Held when sent, approved since: ``public`` in every answer, also read from the log (the
    retry only while the node remembers the send: its latest messages) and after a restart."""
    if older_than_memory:
        small_memory(monkeypatch, history_size={"match": 2})
    s, c, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = held(s, client)
    author = bearer(s, "author")
    retry = {"client_msg_id": "h1", "text": "mail me at ann.lee@example.com"}
    assert as_now(client, author, mid, retry) == [("held", SHOWN)]
    r = client.post(f"{ROOM}/review/{mid}", headers=bearer(s, "mod", "moderator"),
                    json={"decision": "approve"})  # fmt: skip
    assert r.status_code == 200, r.text
    if older_than_memory:
        for i in range(3):
            post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
        assert mid not in c.state.messages
        retry = None
    shown = [("public", SHOWN)] * (2 if retry is None else 3)
    assert as_now(client, author, mid, retry) == shown
    assert read(client, bearer(s, "fan"), mid).json()["visibility"] == "public"
    s, c, client = start(SIDELINE_MODERATION__ENABLED="true")  # rebuilt from the log
    assert as_now(client, author, mid, retry) == shown


def test_a_message_older_than_memory_is_read_from_the_log_once(start, monkeypatch):
    small_memory(monkeypatch, history_size={"match": 2})
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1", "an early goal")
    for i in range(3):
        post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    assert mid not in c.state.messages
    reads: list[str] = []
    find_message = c.log.find_message

    async def counted(message_id: str) -> Any:
        reads.append(message_id)
        return await find_message(message_id)

    monkeypatch.setattr(c.log, "find_message", counted)
    r = read(client, bearer(s, "fan"), mid)
    assert r.status_code == 200 and r.json()["text"] == "an early goal", r.text
    assert reads == [mid]


def test_a_retry_tells_a_message_deleted_or_hidden_since(start):
    """A retry of a send is answered with the message as it is now: ``deleted`` with no text
    (not the text a client would show again), ``held`` while reports hide it."""
    s, _, client = start()
    author = bearer(s, "author")
    gone = post_message(client, author, "m1", "soon gone")
    hidden = reported(s, client)
    r = client.delete(f"{ROOM}/messages/{gone}", headers=bearer(s, "mod", "moderator"))
    assert r.status_code == 200, r.text
    retry = {"client_msg_id": "m1", "text": "soon gone"}
    assert as_now(client, author, gone, retry) == [("deleted", "")]
    retry = {"client_msg_id": "r1", "text": "a reported message"}
    assert as_now(client, author, hidden, retry) == [("held", "a reported message")]


def test_a_client_msg_id_reused_for_another_message_is_refused(start):
    """A retry must resend the same message: another text or reply under a used id is 409 at
    ``$.client_msg_id`` with nothing written, not the first message (which would drop the second
    without a word). Texts compare as stored (ends stripped), a masked one by its original, also
    after a restart."""
    s, c, client = start(SIDELINE_MODERATION__ENABLED="true")
    author = bearer(s, "author")
    first = post_message(client, author, "m1", "what a save")
    masked = client.post(f"{ROOM}/messages", headers=author,
                         json={"client_msg_id": "m2", "text": "call me on +44 7700 900123"})  # fmt: skip
    assert masked.status_code == 201 and masked.json()["masked"], masked.text

    def send(cid: str, text: str, **extra: Any) -> Any:
        return client.post(f"{ROOM}/messages", headers=author, json={"client_msg_id": cid, "text": text, **extra})

    for _ in range(2):  # running, then rebuilt from the log
        before = c.log.last_seq
        for cid, text, extra, what in [
            ("m1", "what a goal", {}, "text"), ("m1", "", {}, "text"),
            ("m1", "what a save", {"reply_to": masked.json()["message_id"]}, "reply_to"),
            ("m2", "call me on +44 7700 900124", {}, "text"), ("m2", "call me on [phone]", {}, "text"),
        ]:  # fmt: skip
            r = send(cid, text, **extra)
            assert r.status_code == 409, r.text
            assert r.json()["error"]["at"] == "$.client_msg_id", r.text
            assert f"its {what} differs" in r.json()["error"]["message"]
        assert send("m1", "  what a save\n").json()["message_id"] == first  # the same, as stored
        assert send("m2", "call me on +44 7700 900123").json()["message_id"] == masked.json()["message_id"]
        assert c.log.last_seq == before
        s, c, client = start(SIDELINE_MODERATION__ENABLED="true")
