"""Who may take part (report, close a poll), concurrent duplicates, and what older history shows.

In-process app on a real DuckDB log; ``AsyncTestClient`` so two requests can really overlap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.actions.context import Community
from service.app import build_community, create_app
from service.domain.events import EventType
from service.identity import mint_token
from service.settings import Settings, ensure_dev_secrets, load_settings

Api = tuple[Settings, Community, AsyncTestClient[Any]]


@pytest.fixture
async def start(tmp_path) -> AsyncIterator[Callable[..., Awaitable[Api]]]:
    """Start the app with extra settings env; returns its settings, community and a client.

    Starting again stops the running app first (restart): one process owns the DuckDB file.
    """
    clients: list[AsyncTestClient[Any]] = []

    async def start_app(**env: str) -> Api:
        while clients:
            await clients.pop().__aexit__(None, None, None)
        s = load_settings(environ={
            "SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false",
            "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false", **env,
        })  # fmt: skip
        ensure_dev_secrets(s)
        community = build_community(s)
        client = AsyncTestClient(create_app(s, community=community))
        await client.__aenter__()
        clients.append(client)
        return s, community, client

    yield start_app
    for client in clients:
        await client.__aexit__(None, None, None)


def bearer(s: Settings, user: str, role: str = "user") -> dict[str, str]:
    token = mint_token(s.auth.hs256_secret, user_id=user, context_id="match:1", role=role)
    return {"Authorization": f"Bearer {token}"}


ADMIN = "X-Admin-Key"
ROOM = "/v1/rooms/match:1"


async def rows(c: Community, event_type: EventType) -> list[Any]:
    return [e for e in await c.log.read(0, 100_000) if e.event_type is event_type]


async def post_message(client: AsyncTestClient[Any], h: dict[str, str], cid: str, text: str = "a fine message") -> str:
    r = await client.post(f"{ROOM}/messages", headers=h, json={"client_msg_id": cid, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


# -- reporting is taking part ---------------------------------------------------------------


async def test_viewers_cannot_report_and_three_viewers_hide_nothing(start):
    s, c, client = await start()
    mid = await post_message(client, bearer(s, "author"), "m1")
    for i in range(3):
        r = await client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, f"v{i}", "viewer"), json={"reason": "spam"})
        assert error(r) == (403, "role_too_low")
        assert r.json()["error"]["message"] == "viewers can read but not take part"
    history = (await client.get(f"{ROOM}/messages", headers=bearer(s, "other"))).json()["messages"]
    assert [m["message_id"] for m in history] == [mid]
    assert await rows(c, EventType.MESSAGE_REPORTED) == []


async def test_no_reports_in_a_closed_room_but_a_mute_does_not_stop_one(start):
    s, c, client = await start()
    mid = await post_message(client, bearer(s, "author"), "m1")
    mod = bearer(s, "mod", "moderator")
    assert (await client.post(f"{ROOM}/mutes", headers=mod, json={"user_id": "muted"})).status_code == 201
    muted = await client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "muted"), json={"reason": "spam"})
    assert muted.status_code == 201, muted.text
    await client.post("/v1/admin/rooms/match:1/close", headers={ADMIN: s.admin.api_key})
    r = await client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "u2"), json={"reason": "spam"})
    assert error(r) == (403, "room_closed")
    assert [e.user_id for e in await rows(c, EventType.MESSAGE_REPORTED)] == ["muted"]


# -- closing a poll -----------------------------------------------------------------------


async def test_a_closed_room_stops_the_creator_closing_a_poll_but_not_a_moderator(start):
    s, c, client = await start()
    speaker = bearer(s, "sp", "speaker")
    created = await client.post(f"{ROOM}/polls", headers=speaker, json={"question": "q?", "options": ["a", "b"]})
    pid = created.json()["poll_id"]
    await client.post("/v1/admin/rooms/match:1/close", headers={ADMIN: s.admin.api_key})
    r = await client.post(f"{ROOM}/polls/{pid}/close", headers=speaker)
    assert error(r) == (403, "room_closed")
    assert r.json()["error"]["message"] == "this room is closed (read-only archive)"
    assert await rows(c, EventType.POLL_CLOSED) == []
    other = await client.post(f"{ROOM}/polls/{pid}/close", headers=bearer(s, "sp2", "speaker"))
    assert error(other) == (403, "role_too_low")
    by_mod = await client.post(f"{ROOM}/polls/{pid}/close", headers=bearer(s, "mod", "moderator"))
    assert by_mod.status_code == 200 and by_mod.json()["closed"]
    assert [e.user_id for e in await rows(c, EventType.POLL_CLOSED)] == ["mod"]


# -- history older than the in-memory window ----------------------------------------------


async def page_texts(client: AsyncTestClient[Any], h: dict[str, str], **query: int) -> list[str]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    r = await client.get(f"{ROOM}/messages?{params}", headers=h)
    return [m["text"] for m in r.json()["messages"]]


async def report_until_hidden(client: AsyncTestClient[Any], s: Settings, mid: str, round_: int) -> None:
    for i in range(3):  # the default threshold
        r = await client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, f"r{round_}{i}"), json={"reason": "abuse"})
        assert r.status_code == 201, r.text


async def test_log_history_hides_reported_messages_like_memory_does(start):
    s, c, client = await start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    reader, mod = bearer(s, "reader"), bearer(s, "mod", "moderator")
    mid = await post_message(client, bearer(s, "author"), "a", "reported text")
    await report_until_hidden(client, s, mid, 0)
    assert await page_texts(client, reader, limit=10) == []
    for i in range(3):  # push it out of the in-memory window: only the log has it now
        await post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    assert not c.state.history_complete("match:1")
    assert await page_texts(client, reader, limit=10) == ["later 0", "later 1", "later 2"]

    approved = await client.post(f"{ROOM}/review/{mid}", headers=mod, json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    shown = ["reported text", "later 0", "later 1", "later 2"]
    assert await page_texts(client, reader, limit=10) == shown

    await report_until_hidden(client, s, mid, 1)  # reported again after the approval: hidden again
    assert await page_texts(client, reader, limit=10) == shown[1:]
    # a fresh projection from the same log answers the same, from memory and from the log
    s, c, client = await start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    assert await page_texts(client, reader, limit=10) == shown[1:]


async def test_a_log_page_of_only_hidden_messages_still_pages_on(start):
    s, _, client = await start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    reader = bearer(s, "reader")
    await post_message(client, bearer(s, "old"), "old", "oldest shown")
    mid = await post_message(client, bearer(s, "author"), "a", "reported text")
    await report_until_hidden(client, s, mid, 0)
    for i in range(2):
        await post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    newest = (await client.get(f"{ROOM}/messages?limit=2", headers=reader)).json()
    assert [m["text"] for m in newest["messages"]] == ["later 0", "later 1"]
    older = await page_texts(client, reader, limit=1, before_seq=newest["next_before_seq"])
    assert older == ["oldest shown"]  # not an empty page that ends the paging
