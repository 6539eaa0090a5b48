"""The /v1 HTTP API through a real uvicorn process."""

from __future__ import annotations

import json

import duckdb
import httpx
import pytest

from tests.fixtures.server import ServerProcess


@pytest.fixture
def api(server: ServerProcess):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def auth(server: ServerProcess, user: str = "u1", ctx: str = "match:1", role: str = "user", **kw) -> dict:
    return {"Authorization": f"Bearer {server.token(user, ctx, role, **kw)}"}


def deletes(server: ServerProcess) -> list[tuple[str, str | None, dict[str, object]]]:
    """(message id, actor, payload) of every delete in the log, in seq order (server stopped)."""
    con = duckdb.connect(str(server.data_dir / "log-node-1.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT message_id, actor_id, payload FROM events "
            "WHERE event_type = 'community_message_deleted' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    return [(mid, actor, json.loads(payload)) for mid, actor, payload in rows]


def last_seq(api: httpx.Client) -> int:
    return api.get("/ready").json()["last_seq"]


def send(api, headers, text="hello", cid="c1", room="match:1"):
    return api.post(f"/v1/rooms/{room}/messages", headers=headers, json={"client_msg_id": cid, "text": text})


def test_chat_flow_and_idempotent_send(server, api):
    h = auth(server)
    assert api.post("/v1/rooms/match:1/join", headers=h).json()["role"] == "user"
    first = send(api, h, "what a goal!", "c-1")
    assert first.status_code == 201, first.text
    retry = send(api, h, "what a goal!", "c-1")
    assert retry.status_code == 201 and retry.json() == first.json()
    mid = first.json()["message_id"]
    r = api.post(f"/v1/rooms/match:1/messages/{mid}/reactions", headers=h, json={"emoji": "🔥"})
    assert r.json()["count"] == 1
    again = api.post(f"/v1/rooms/match:1/messages/{mid}/reactions", headers=h, json={"emoji": "🔥"})
    assert again.json()["count"] == 1 and again.json()["seq"] == 0  # nothing written
    page = api.get("/v1/rooms/match:1/messages", headers=h).json()
    assert [m["text"] for m in page["messages"]] == ["what a goal!"]
    assert page["messages"][0]["reactions"] == {"🔥": 1}
    assert api.get("/v1/me/rooms", headers=h).json() == {"rooms": ["match:1"]}
    removed = api.delete(f"/v1/rooms/match:1/messages/{mid}/reactions/🔥", headers=h)
    assert removed.json()["count"] == 0



def test_reaction_must_be_emoji(server, api):
    h = auth(server)
    mid = send(api, h, "a fine message", "e-1").json()["message_id"]
    before = last_seq(api)
    spam = api.post(f"/v1/rooms/match:1/messages/{mid}/reactions", headers=h,
                    json={"emoji": "BUY at evil.example now"})  # fmt: skip
    assert spam.status_code == 400
    assert spam.json()["error"] == {
        "code": "invalid_body", "at": "$.emoji",
        "message": "emoji 'BUY at evil.example now' is not made of emoji: 'B' (U+0042) is not "
        "an emoji character",
    }  # fmt: skip
    removed = api.delete(f"/v1/rooms/match:1/messages/{mid}/reactions/x", headers=h)
    assert removed.status_code == 400 and removed.json()["error"]["at"] == "$.emoji"
    assert last_seq(api) == before  # nothing written
    flag = api.post(f"/v1/rooms/match:1/messages/{mid}/reactions", headers=h, json={"emoji": "🇬🇧"})
    assert flag.status_code == 200 and flag.json()["count"] == 1

def test_history_pages_by_seq(server, api):
    h = auth(server)
    for i in range(12):  # one user each: a single user would hit the per-user rate limit
        assert send(api, auth(server, f"p{i}"), f"msg {i}", f"c{i}").status_code == 201
    newest = api.get("/v1/rooms/match:1/messages?limit=5", headers=h).json()
    assert [m["text"] for m in newest["messages"]] == [f"msg {i}" for i in range(7, 12)]
    older = api.get(f"/v1/rooms/match:1/messages?limit=5&before_seq={newest['next_before_seq']}", headers=h).json()
    assert [m["text"] for m in older["messages"]] == [f"msg {i}" for i in range(2, 7)]


def test_polls_one_vote_per_user(server, api):
    speaker = auth(server, "s1", role="speaker")
    created = api.post("/v1/rooms/match:1/polls", headers=speaker, json={"question": "Man of the match?", "options": ["Saka", "Rice"]})
    assert created.status_code == 201, created.text
    pid = created.json()["poll_id"]
    users = [auth(server, f"v{i}") for i in range(3)]
    for i, h in enumerate(users):
        assert api.post(f"/v1/rooms/match:1/polls/{pid}/votes", headers=h, json={"option": i % 2}).status_code == 200
    dup = api.post(f"/v1/rooms/match:1/polls/{pid}/votes", headers=users[0], json={"option": 1})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    bad = api.post(f"/v1/rooms/match:1/polls/{pid}/votes", headers=auth(server, "v9"), json={"option": 5})
    assert bad.status_code == 400 and bad.json()["error"]["at"] == "$.option"
    user_poll = api.post("/v1/rooms/match:1/polls", headers=users[0], json={"question": "q?", "options": ["a", "b"]})
    assert user_poll.status_code == 403 and user_poll.json()["error"]["code"] == "role_too_low"
    closed = api.post(f"/v1/rooms/match:1/polls/{pid}/close", headers=speaker).json()
    assert closed["closed"] and closed["results"] == [2, 1]
    late = api.post(f"/v1/rooms/match:1/polls/{pid}/votes", headers=auth(server, "v8"), json={"option": 0})
    assert late.status_code == 409


def test_poll_text_drops_what_no_message_keeps(server, api):
    """A poll's question and options lose what a message's text loses (controls but newline
    and tab, bidi embeddings and overrides: a right-to-left override in an option reversed
    what the panel shows after it), and are refused as empty when nothing visible is left."""
    speaker = auth(server, "s1", role="speaker")
    created = api.post("/v1/rooms/match:1/polls", headers=speaker, json={
        "question": "Man\u0007 of the \u202ematch?\u202c", "options": ["Saka \u202eis back", "Rice\u200f\u2067x\u2069"],
    })  # fmt: skip
    assert created.status_code == 201, created.text
    shown = ("Man of the match?", ["Saka is back", "Rice\u200f\u2067x\u2069"])  # marks and isolates stay
    assert (created.json()["question"], created.json()["options"]) == shown
    again = api.get(f"/v1/rooms/match:1/polls/{created.json()['poll_id']}", headers=auth(server, "v1")).json()
    assert (again["question"], again["options"]) == shown
    for body, message, at in [
        ({"question": " \u202e\u202c ", "options": ["a", "b"]}, "poll question is empty", "$.question"),
        ({"question": "q?", "options": ["a", "\u202e\x1b\t"]}, "poll option is empty", "$.options[1]"),
        ({"question": "q?", "options": ["\u200b\u202e", "b"]}, "poll option has no visible characters (U+200B)",
         "$.options[0]"),
    ]:  # fmt: skip
        r = api.post("/v1/rooms/match:1/polls", headers=speaker, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == {"code": "text_empty", "message": message, "at": at}
    twin = api.post("/v1/rooms/match:1/polls", headers=speaker, json={"question": "q?", "options": ["gg", "g\u202eg"]})
    assert twin.status_code == 400 and twin.json()["error"] == {
        "code": "invalid_body", "message": "poll option 1 ('gg') repeats option 0", "at": "$.options[1]",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code", "at"),
    [
        (b'{"client_msg_id": "c1", "text": ', 400, "invalid_body", None),
        (b'{"client_msg_id": "c1", "text": "hi", "colour": "red"}', 400, "invalid_body", None),
        (b'{"client_msg_id": "c1", "text": 42}', 400, "invalid_body", "$.text"),
        (b'{"client_msg_id": "c1", "text": "hi", "metadata": {"device": 3}}', 400, "invalid_body", "$.metadata.device"),
        (b'{"client_msg_id": "has space", "text": "hi"}', 400, "invalid_body", "$.client_msg_id"),
        (b'{"client_msg_id": "c1\\n", "text": "hi"}', 400, "invalid_body", "$.client_msg_id"),
        (b'{"text": "hi"}', 400, "invalid_body", None),
        (b'{"client_msg_id": "c1", "text": "   "}', 400, "text_empty", "$.text"),
        (b'{"client_msg_id": "c1", "text": "\\u0000\\u0007"}', 400, "text_empty", "$.text"),
        (b'{"client_msg_id": "c1", "text": "' + b"a" * 301 + b'"}', 400, "text_too_long", "$.text"),
        (b'{"client_msg_id": "c1", "text": "' + b"a" * 20_001 + b'"}', 400, "text_too_long", "$.text"),
        (b'{"client_msg_id": "c1", "text": "' + b"a" * 70_000 + b'"}', 413, "body_too_large", None),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_written(server, api, body, status, code, at):
    before = last_seq(api)
    r = api.post("/v1/rooms/match:1/messages", headers={**auth(server), "content-type": "application/json"}, content=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    if at is not None:
        assert (err["at"] == at and at in err["message"]) or err["at"] == at
    assert last_seq(api) == before


def test_unknown_fields_name_the_field(server, api):
    r = api.post("/v1/rooms/match:1/messages", headers=auth(server), json={"client_msg_id": "c", "text": "x", "colour": 1})
    assert "unknown field `colour`" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("room", "status", "code"),
    [("zzz:1", 400, "unknown_room_kind"), ("no-colon", 400, "invalid_room_id"), ("match:2", 403, "room_not_allowed"),
     ("match:1%0A", 400, "invalid_room_id")],
)
def test_bad_rooms(server, api, room, status, code):
    before = last_seq(api)
    r = send(api, auth(server), room=room)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert last_seq(api) == before


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "token_missing"), ("Bearer nonsense", "token_invalid"), ("Basic abc", "token_missing")],
)
def test_token_refusals_are_401(server, api, header, code):
    headers = {"Authorization": header} if header else {}
    r = send(api, headers)
    assert (r.status_code, r.json()["error"]["code"]) == (401, code)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", "/v1/rooms/match:1/messages", b'{"bogus": 1}'), ("GET", "/v1/rooms/match:1/messages?limit=0", None),
     ("POST", "/v1/rooms/match:1/join", b"not json"), ("PATCH", "/v1/rooms/match:1/settings", b"[]")],
)
def test_the_token_is_checked_before_the_request(server, api, method, path, body):
    """Without a valid token the answer is 401 whatever else is wrong: a stranger learns nothing
    of the body or query an endpoint takes."""
    r = api.request(method, path, content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "token_missing"), r.text


def test_a_token_whose_user_id_is_blank_is_refused(server, api):
    """Dashboards and sinks key on the user id: a token whose ``sub`` is only white space
    would have written events of a user of blanks."""
    before = last_seq(api)
    r = send(api, auth(server, " \t "))
    assert r.status_code == 401, r.text
    assert r.json()["error"] == {
        "code": "token_invalid", "message": "token claim `sub` (the user id) is blank: ' \\t '",
        "at": "$.sub",
    }  # fmt: skip
    assert last_seq(api) == before


def test_roles_and_modes_are_enforced(server, api):
    admin = {"X-Admin-Key": server.admin_key()}
    viewer = auth(server, "w1", role="viewer")
    assert send(api, viewer).json()["error"]["code"] == "role_too_low"
    assert api.get("/v1/rooms/match:1/messages", headers=viewer).status_code == 200
    assert api.put("/v1/admin/rooms/match:1", json={"mode": "speakers-only"}).status_code == 401
    assert api.put("/v1/admin/rooms/match:1", json={"mode": "speakers-only"}, headers=admin).json()["mode"] == "speakers-only"
    assert send(api, auth(server, "u2")).json()["error"]["code"] == "speakers_only"
    assert send(api, auth(server, "sp", role="speaker"), cid="sp1").status_code == 201
    api.post("/v1/admin/rooms/match:1/roles", json={"user_id": "u2", "role": "speaker"}, headers=admin)
    assert send(api, auth(server, "u2"), cid="u2a").status_code == 201  # the granted role counts
    api.put("/v1/admin/rooms/match:1", json={"mode": "reactions-only"}, headers=admin)
    assert send(api, auth(server, "u3")).json()["error"]["code"] == "reactions_only"
    api.post("/v1/admin/rooms/match:1/close", headers=admin)
    r = send(api, auth(server, "u3"), cid="x")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "room_closed")
    bad = api.put("/v1/admin/rooms/match:1", json={"mode": "loud"}, headers=admin)
    assert bad.status_code == 400 and bad.json()["error"]["at"] == "$.mode"


def test_slow_mode_and_mute(server, api):
    admin = {"X-Admin-Key": server.admin_key()}
    api.put("/v1/admin/rooms/match:1", json={"slow_mode_seconds": 30}, headers=admin)
    h = auth(server)
    assert send(api, h, cid="a").status_code == 201
    slow = send(api, h, cid="b")
    assert slow.status_code == 429 and slow.json()["error"]["code"] == "slow_mode"
    assert int(slow.headers["retry-after"]) >= 1
    mod = auth(server, "m1", role="moderator")
    muted = api.post("/v1/rooms/match:1/mutes", headers=mod, json={"user_id": "u9", "duration_seconds": 600})
    assert muted.status_code == 201 and muted.json()["until"]
    r = send(api, auth(server, "u9"), cid="z")
    assert r.status_code == 403 and r.json()["error"]["code"] == "user_muted" and "until" in r.json()["error"]["message"]
    not_mod = api.post("/v1/rooms/match:1/mutes", headers=h, json={"user_id": "u9"})
    assert not_mod.json()["error"]["code"] == "role_too_low"
    lifted = api.delete("/v1/rooms/match:1/mutes/u9", headers=mod)
    assert lifted.status_code == 200 and lifted.json() == {"lifted": True}
    assert send(api, auth(server, "u9"), cid="z2").status_code == 201


def test_admin_lifts_room_and_global_restrictions(server, api):
    admin = {"X-Admin-Key": server.admin_key()}
    banned = api.post("/v1/admin/rooms/match:1/bans", headers=admin, json={"user_id": "u7", "scope": "global"})
    assert banned.status_code == 201, banned.text
    assert send(api, auth(server, "u7"), cid="a").json()["error"]["code"] == "user_banned"
    # a room-scoped lift does not touch the global ban; ?scope=global does
    assert api.delete("/v1/admin/rooms/match:1/bans/u7", headers=admin).json() == {"lifted": False}
    odd = api.delete("/v1/admin/rooms/match:1/bans/u7?scope=planet", headers=admin)
    assert odd.status_code == 400 and "scope" in odd.text
    lifted = api.delete("/v1/admin/rooms/match:1/bans/u7?scope=global", headers=admin)
    assert lifted.status_code == 200 and lifted.json() == {"lifted": True}
    assert send(api, auth(server, "u7"), cid="b").status_code == 201


def test_reports_hide_after_threshold_and_review(server, api):
    h = auth(server)
    mid = send(api, h, "borderline take", "r1").json()["message_id"]
    for i in range(3):
        assert api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth(server, f"r{i}"), json={"reason": "abuse"}).status_code == 201
    assert api.get("/v1/rooms/match:1/messages", headers=h).json()["messages"] == []
    mod = auth(server, "m1", role="moderator")
    queue = api.get("/v1/rooms/match:1/review-queue", headers=mod).json()
    assert [(q["message_id"], q["source"], q["reports"]) for q in queue] == [(mid, "report", 3)]
    assert api.post(f"/v1/rooms/match:1/review/{mid}", headers=mod, json={"decision": "approve"}).status_code == 200
    assert [m["message_id"] for m in api.get("/v1/rooms/match:1/messages", headers=h).json()["messages"]] == [mid]
    assert api.get("/v1/rooms/match:1/review-queue", headers=mod).json() == []


def test_only_the_review_queues_delete_is_marked_as_a_review(server, api):
    """The queue's ``delete`` decision marks its delete event ``review: true``; a moderator's
    delete of a reported message, and the delete that follows rejecting one, are no review."""
    h, mod = auth(server), auth(server, "m1", role="moderator")
    queued, rejected, removed = (send(api, h, f"take {i}", f"q{i}").json()["message_id"] for i in range(3))
    for mid in (queued, rejected, removed):
        for i in range(3):
            assert api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth(server, f"r{i}"), json={"reason": "abuse"}).status_code == 201
    assert api.post(f"/v1/rooms/match:1/review/{queued}", headers=mod, json={"decision": "delete"}).status_code == 200
    assert api.post(f"/v1/rooms/match:1/review/{rejected}", headers=mod, json={"decision": "reject"}).status_code == 200
    assert api.delete(f"/v1/rooms/match:1/messages/{removed}", headers=mod).status_code == 200
    assert api.get("/v1/rooms/match:1/review-queue", headers=mod).json() == []
    server.stop()
    assert [(mid, payload) for mid, _, payload in deletes(server)] == [
        (queued, {"reason": "review", "review": True}),
        (rejected, {"reason": "review rejected", "review": False}),
        (removed, {"reason": "moderator", "review": False}),
    ]


def test_moderator_delete_and_unknown_targets(server, api):
    h = auth(server)
    mid = send(api, h, "to be removed", "d1").json()["message_id"]
    mod = auth(server, "m1", role="moderator")
    assert api.delete(f"/v1/rooms/match:1/messages/{mid}", headers=h).json()["error"]["code"] == "role_too_low"
    assert api.delete(f"/v1/rooms/match:1/messages/{mid}", headers=mod).status_code == 200
    assert api.get("/v1/rooms/match:1/messages", headers=h).json()["messages"] == []
    missing = api.delete("/v1/rooms/match:1/messages/nope", headers=mod)
    assert missing.status_code == 404
    react = api.post("/v1/rooms/match:1/messages/nope/reactions", headers=h, json={"emoji": "👍"})
    assert react.status_code == 404


def test_ops_endpoints(server, api):
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready").json()
    assert ready["status"] == "ready" and ready["node_id"] == "node-1"
    schema = api.get("/schema/openapi.json").json()
    assert "/v1/rooms/{room_id}/messages" in schema["paths"]
    send(api, auth(server))
    metrics = api.get("/metrics").text
    assert "sideline_log_last_seq" in metrics
    # what only grows is a counter, so that rate() and resets read right
    for name in ("sideline_log_batches", "sideline_log_events", "sideline_log_failed_batches"):
        assert f"# TYPE {name}_total counter" in metrics and f"\n{name}_total " in metrics, name


def test_access_log_never_contains_secrets(server, api):
    token = server.token("u1", "match:1")
    send(api, {"Authorization": f"Bearer {token}"})
    api.get("/ready?secret=do-not-log")
    api.put("/v1/admin/rooms/match:1", json={}, headers={"X-Admin-Key": server.admin_key()})
    server.stop()
    out = server.output()
    assert "POST /v1/rooms/match:1/messages 201" in out
    assert token not in out and "do-not-log" not in out
    # the generated dev key is printed exactly once, at generation, never by a request
    assert out.count(server.admin_key()) == 1


def test_every_request_is_logged_and_counted_with_its_path_escaped(server, api):
    """Requests no route answers (a scan, a wrong method) are logged and counted too; a path
    cannot forge a log line or drive a terminal; a WebSocket handshake's query string, where a
    client might put a token, is not printed."""
    from websockets.sync.client import connect

    assert api.get("/definitely-missing").status_code == 404
    assert api.request("TRACE", "/health").status_code == 405
    assert api.get("/v1/rooms/x%0DFAKE%1B[31mLINE%E2%80%A8").status_code == 401
    metrics = api.get("/metrics").text
    assert 'sideline_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in metrics
    assert 'route="unmatched",status="405"' in metrics
    with connect(server.ws_url + "?token=SECRET-IN-QUERY"):
        pass
    server.stop()
    out = server.output()
    assert "GET /definitely-missing 404" in out and "TRACE /health 405" in out
    assert "GET /v1/rooms/x\\rFAKE\\x1b[31mLINE\\u2028 401" in out
    assert "\rFAKE" not in out and "\x1b" not in out and "\u2028" not in out
    assert '"WebSocket /v1/ws"' in out and "SECRET-IN-QUERY" not in out
