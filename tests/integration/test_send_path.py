"""The send path under failure and concurrency: failed commits, cancelled senders, concurrent
retries, invisible text, bad references; every case checked against the real DuckDB log."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from litestar.testing import TestClient

from service.actions import messages
from service.actions.context import Community
from service.app import build_community, create_app
from service.domain.events import EventType, new_event
from service.domain.rooms import Role
from service.errors import ErrorCode, SidelineError
from service.identity import Identity, mint_token
from service.protocol.http import SendMessage
from service.settings import Settings, ensure_dev_secrets, load_settings

TEXT = "see you all at the stadium tonight"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path), **env})
    ensure_dev_secrets(s)
    return s


def bearer(s: Settings, user: str = "u1", **kw: Any) -> dict[str, str]:
    token = mint_token(s.auth.hs256_secret, user_id=user, context_id="match:1", **kw)
    return {"Authorization": f"Bearer {token}"}


def user(name: str = "u1") -> Identity:
    return Identity(user_id=name, name=name.title(), context_id="match:1", role=Role.USER)


@asynccontextmanager
async def running(s: Settings) -> AsyncIterator[Community]:
    """The community of ``s`` with its log writer running (no app, no real-time hub)."""
    community = build_community(s)
    await community.log.start()
    try:
        yield community
    finally:
        await community.log.close()


def logged(s: Settings) -> list[tuple[str, str, str | None, str | None]]:
    """(event type, room, client message id, text) of every event in the closed log file."""
    con = duckdb.connect(str(s.log_path), read_only=True)
    try:
        return con.execute(
            "SELECT event_type, room_id, json_extract_string(payload, '$.client_msg_id'), "
            "json_extract_string(payload, '$.text') FROM events ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def failing_commits(c: Community, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Make the next ``n`` commit transactions of the real log fail (as a full disk would)."""
    left = [0]
    insert = c.log._insert

    def flaky(events: Any, extras: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise RuntimeError("injected disk failure")
        insert(events, extras)

    monkeypatch.setattr(c.log, "_insert", flaky)

    def fail(n: int) -> None:
        left[0] = n

    return fail


@pytest.mark.parametrize(
    ("text", "failures"),
    [(TEXT, 2), ("goal", 5)],
    ids=["two failures are not two earlier copies", "five failures are not a burst"],
)
def test_failed_commits_leave_no_trace_in_the_rate_limits(tmp_path, monkeypatch, text, failures):
    s = make_settings(tmp_path)
    community = build_community(s)
    fail = failing_commits(community, monkeypatch)
    body = {"client_msg_id": "c1", "text": text}
    with TestClient(create_app(s, community=community)) as client:
        fail(failures)
        for _ in range(failures):
            r = client.post("/v1/rooms/match:1/messages", headers=bearer(s), json=body)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "log_unavailable"
        retry = client.post("/v1/rooms/match:1/messages", headers=bearer(s), json=body)
        assert retry.status_code == 201, retry.text
        assert retry.json()["visibility"] == "public"
    assert logged(s) == [("community_message_sent", "match:1", "c1", text)]


async def test_concurrent_posts_still_count_each_other(tmp_path):
    """Posts are counted when checked, not when stored: six sent at once meet the burst
    limit (5 in 5 s) although none of them is committed when the others are checked."""
    s = make_settings(tmp_path)
    async with running(s) as community:
        sends = [
            messages.send_message(
                community, user(), "match:1", SendMessage(client_msg_id=f"c{i}", text=f"{w} again")
            )
            for i, w in enumerate(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"])
        ]
        results = await asyncio.gather(*sends, return_exceptions=True)
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 1 and refused[0].code.slug == "rate_limited"
    assert [t for t, *_ in logged(s)].count("community_message_sent") == 5


class HeldCommits:
    """Hold the log's commits inside their transaction until released (a slow disk), so a
    test can act while a batch is queued but not yet acknowledged."""

    def __init__(self, c: Community, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        insert = c.log._insert

        def held(events: Any, extras: Any) -> None:
            self.entered.set()
            self.released.wait(10)
            insert(events, extras)

        monkeypatch.setattr(c.log, "_insert", held)

    async def in_transaction(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 10)


async def settle(c: Community, seq: int) -> None:
    for _ in range(500):
        if c.log.last_seq >= seq:
            await asyncio.sleep(0.01)  # one more turn: acknowledgements resume their waiters
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the log never reached seq {seq}")


async def test_a_cancelled_committer_still_applies_its_events(tmp_path, monkeypatch):
    """Community.commit: the events of a caller cancelled while its batch was in the writer's
    transaction are committed, so they reach the projection too."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    async with running(s) as c:
        gate = HeldCommits(c, monkeypatch)
        event = new_event(
            EventType.MESSAGE_SENT, user_id="u1", room_id="match:1", message_id="m1",
            payload={"text": "hello", "client_msg_id": "cid-1", "visibility": "public"},
        )  # fmt: skip
        task = asyncio.create_task(c.commit([event]))
        await gate.in_transaction()
        task.cancel()
        gate.released.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        await settle(c, 1)
        assert c.state.last_seq == c.log.last_seq == 1
        assert c.state.client_ids[("u1", "match:1", "cid-1")] == "m1"


async def test_a_cancelled_send_is_stored_once_and_its_retry_returns_it(tmp_path, monkeypatch):
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    body = SendMessage(client_msg_id="cid-1", text="hello")
    async with running(s) as c:
        gate = HeldCommits(c, monkeypatch)
        task = asyncio.create_task(messages.send_message(c, user(), "match:1", body))
        await gate.in_transaction()  # queued, not acknowledged
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.released.set()
        await settle(c, 1)
        assert c.state.last_seq == c.log.last_seq == 1
        out = await messages.send_message(c, user(), "match:1", body)
        assert out.seq == 1 and out.message_id == c.state.client_ids[("u1", "match:1", "cid-1")]
    assert logged(s) == [("community_message_sent", "match:1", "cid-1", "hello")]


async def test_the_same_id_sent_twice_at_once_is_stored_once(tmp_path):
    """With holdout on, the first send of a user awaits its exposure event; a second send with
    the same id meanwhile waits for the first instead of writing a copy (or failing)."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false", SIDELINE_HOLDOUT__SHARE="0.3")
    body = SendMessage(client_msg_id="same-id", text="hello")
    async with running(s) as c:
        name = next(f"u{i}" for i in range(100) if c.holdout_group(f"u{i}", "match:1") == "exposed")
        first, second = await asyncio.gather(
            messages.send_message(c, user(name), "match:1", body),
            messages.send_message(c, user(name), "match:1", body),
        )
        assert first == second and not c.inflight
    assert logged(s) == [
        ("community_exposure_assigned", "match:1", None, None),
        ("community_message_sent", "match:1", "same-id", "hello"),
    ]


async def test_a_concurrent_duplicate_shares_the_first_sends_refusal(tmp_path):
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false", SIDELINE_HOLDOUT__SHARE="0.3")
    body = SendMessage(client_msg_id="same-id", text="hello")
    async with running(s) as c:
        name = next(f"u{i}" for i in range(100) if c.holdout_group(f"u{i}", "match:1") == "holdout")
        results = await asyncio.gather(
            messages.send_message(c, user(name), "match:1", body),
            messages.send_message(c, user(name), "match:1", body),
            return_exceptions=True,
        )
        assert [getattr(r, "code", r).slug for r in results] == ["holdout", "holdout"]
        assert not c.inflight
    assert [t for t, *_ in logged(s)] == ["community_exposure_assigned"]


async def test_a_retry_while_the_cancelled_send_commits_waits_for_it(tmp_path, monkeypatch):
    """The cancelled sender's send stays in flight until its commit ends, so a quick retry
    (the client reconnected) gets that message instead of writing a second copy."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    body = SendMessage(client_msg_id="cid-1", text="hello")
    async with running(s) as c:
        gate = HeldCommits(c, monkeypatch)
        task = asyncio.create_task(messages.send_message(c, user(), "match:1", body))
        await gate.in_transaction()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        retry = asyncio.create_task(messages.send_message(c, user(), "match:1", body))
        await asyncio.sleep(0.05)
        gate.released.set()
        out = await retry
        assert out.seq == 1 and not c.inflight
    assert logged(s) == [("community_message_sent", "match:1", "cid-1", "hello")]


async def test_a_concurrent_send_of_the_same_id_with_another_text_is_refused(tmp_path, monkeypatch):
    """Two requests with one client_msg_id at once: the second waits for the first's send, and
    is refused (409) when it is another message rather than answered with the first."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    async with running(s) as c:
        gate = HeldCommits(c, monkeypatch)
        first = asyncio.create_task(messages.send_message(c, user(), "match:1", SendMessage(client_msg_id="cid-1", text="hello")))
        await gate.in_transaction()
        same = asyncio.create_task(messages.send_message(c, user(), "match:1", SendMessage(client_msg_id="cid-1", text="hello")))
        other = asyncio.create_task(messages.send_message(c, user(), "match:1", SendMessage(client_msg_id="cid-1", text="bye")))
        await asyncio.sleep(0.05)
        gate.released.set()
        out = await first
        assert (await same).message_id == out.message_id
        with pytest.raises(SidelineError) as refused:
            await other
        assert (refused.value.code, refused.value.at) == (ErrorCode.CONFLICT, "$.client_msg_id")
    assert logged(s) == [("community_message_sent", "match:1", "cid-1", "hello")]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\u200b", "U+200B"),
        (" \u200b\u200d\ufeff ", "U+200B U+200D U+FEFF"),
        ("\u2060\u00ad\u0301", "U+00AD U+0301 U+2060"),
        ("\u2800\u2800\u3164", "U+2800 U+3164"),
    ],
    ids=["zero-width space", "joiners and BOM", "word joiner, soft hyphen, lone accent",
         "braille blank, hangul filler"],
)
def test_invisible_only_text_is_empty_and_nothing_is_written(tmp_path, text, shown):
    s = make_settings(tmp_path)  # moderation on: it must not get to call this blocked content
    with TestClient(create_app(s)) as client:
        body = {"client_msg_id": "c1", "text": text}
        r = client.post("/v1/rooms/match:1/messages", headers=bearer(s), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "text_empty",
        "message": f"message text has no visible characters ({shown})",
        "at": "$.text",
    }
    assert logged(s) == []


@pytest.mark.parametrize("moderation", ["true", "false"])
def test_bidi_overrides_are_dropped_whether_or_not_moderation_runs(tmp_path, moderation):
    """A right-to-left override reverses the text shown after it: moderation's hygiene drops
    it, and so must the send path when moderation is off. Bidi marks and isolates stay."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED=moderation)
    with TestClient(create_app(s)) as client:
        body = {"client_msg_id": "c1", "text": "gg \u202eez\u202c \u200fok\u2067x\u2069"}
        r = client.post("/v1/rooms/match:1/messages", headers=bearer(s), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["text"] == "gg ez \u200fok\u2067x\u2069"
    assert [e[3] for e in logged(s)][-1] == "gg ez \u200fok\u2067x\u2069"


def test_reply_to_must_name_a_message_of_this_room(tmp_path):
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    u = bearer(s, roles={"team:a": "user"})
    with TestClient(create_app(s)) as client:
        elsewhere = client.post(
            "/v1/rooms/team:a/messages", headers=u, json={"client_msg_id": "t1", "text": "hi"}
        )
        here = client.post(
            "/v1/rooms/match:1/messages", headers=u, json={"client_msg_id": "m1", "text": "hi"}
        )
        for bad in ("no-such-message", elsewhere.json()["message_id"]):
            body = {"client_msg_id": "r1", "text": "x", "reply_to": bad}
            r = client.post("/v1/rooms/match:1/messages", headers=u, json=body)
            assert r.status_code == 404, r.text
            assert r.json()["error"] == {
                "code": "not_found",
                "message": f"message {bad!r} is not in room match:1",
                "at": "$.reply_to",
            }
        body = {"client_msg_id": "r1", "text": "x", "reply_to": here.json()["message_id"]}
        reply = client.post("/v1/rooms/match:1/messages", headers=u, json=body)
        assert reply.status_code == 201 and reply.json()["reply_to"] == here.json()["message_id"]
    assert [(room, cid) for _, room, cid, _ in logged(s)] == [
        ("team:a", "t1"),
        ("match:1", "m1"),
        ("match:1", "r1"),
    ]


def test_a_client_msg_id_is_per_room(tmp_path):
    """The same id in another room is another message (ids are often numbered per
    conversation); a retry in either room still returns that room's message, after a
    restart too."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    u = bearer(s, roles={"team:a": "user"})

    def send_both(client: TestClient) -> list[dict[str, Any]]:
        return [
            client.post(
                f"/v1/rooms/{room}/messages", headers=u, json={"client_msg_id": "a", "text": text}
            ).json()
            for room, text in (("match:1", "in the match"), ("team:a", "in the team"))
        ]

    with TestClient(create_app(s)) as client:
        first = send_both(client)
        assert [(m["room_id"], m["text"]) for m in first] == [
            ("match:1", "in the match"),
            ("team:a", "in the team"),
        ]
        assert send_both(client) == first
    with TestClient(create_app(s)) as client:
        assert send_both(client) == first
    assert logged(s) == [
        ("community_message_sent", "match:1", "a", "in the match"),
        ("community_message_sent", "team:a", "a", "in the team"),
    ]


def test_a_retry_after_the_room_stopped_taking_posts_returns_the_stored_message(tmp_path):
    """The first answer was lost; meanwhile crowd control or a moderator switched the room to
    reactions-only, or muted the sender. The retry still gets the message it stored (and
    writes nothing); a new message is refused."""
    s = make_settings(tmp_path, SIDELINE_MODERATION__ENABLED="false")
    admin = {"X-Admin-Key": s.admin.api_key}
    with TestClient(create_app(s)) as client:
        def send(cid: str, who: str = "u1") -> Any:
            body = {"client_msg_id": cid, "text": TEXT}
            return client.post("/v1/rooms/match:1/messages", headers=bearer(s, who), json=body)

        first, other = send("c1"), send("c2", "u2")
        assert first.status_code == other.status_code == 201
        client.put("/v1/admin/rooms/match:1", headers=admin, json={"mode": "reactions-only"})
        client.post("/v1/admin/rooms/match:1/mutes", headers=admin, json={"user_id": "u2"})
        retry, other_retry = send("c1"), send("c2", "u2")
        assert (retry.status_code, retry.json()) == (201, first.json())
        assert (other_retry.status_code, other_retry.json()) == (201, other.json())
        fresh = send("c3")
        assert fresh.status_code == 403 and fresh.json()["error"]["code"] == "reactions_only"
        client.post("/v1/admin/rooms/match:1/bans", headers=admin, json={"user_id": "u1"})
        banned = send("c1")  # a banned user reads nothing of the room, their message neither
        assert banned.status_code == 403 and banned.json()["error"]["code"] == "user_banned"
    assert [cid for kind, _, cid, _ in logged(s) if kind == "community_message_sent"] == ["c1", "c2"]
