"""State rebuilt from the log equals the state the running service served."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from service.app import build_community, create_app
from service.domain.state import CommunityState
from service.identity import mint_token
from service.settings import ensure_dev_secrets, load_settings


@pytest.fixture
def settings(tmp_path: Path):
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false"})
    ensure_dev_secrets(s)
    return s


def bearer(s, user, role="user", ctx="match:1"):
    return {"Authorization": f"Bearer {mint_token(s.auth.hs256_secret, user_id=user, context_id=ctx, role=role)}"}


def scripted_session(c: TestClient, s) -> dict:
    """A bit of everything that changes state; returns what the API served at the end."""
    admin = {"X-Admin-Key": s.admin.api_key}
    users = [bearer(s, f"u{i}") for i in range(4)]
    mod = bearer(s, "mod", "moderator")
    for h in users:
        c.post("/v1/rooms/match:1/join", headers=h)
    c.post("/v1/rooms/match:1/leave", headers=users[3])
    ids = [c.post("/v1/rooms/match:1/messages", headers=users[i % 3], json={"client_msg_id": f"m{i}", "text": f"text {i}"}).json()["message_id"] for i in range(8)]
    for h in users[:3]:
        c.post(f"/v1/rooms/match:1/messages/{ids[0]}/reactions", headers=h, json={"emoji": "⚽"})
        c.post(f"/v1/rooms/match:1/messages/{ids[1]}/reactions", headers=h, json={"emoji": "👏"})
    c.delete(f"/v1/rooms/match:1/messages/{ids[1]}/reactions/👏", headers=users[0])
    poll = c.post("/v1/rooms/match:1/polls", headers=mod, json={"question": "Who wins?", "options": ["home", "away", "draw"]}).json()
    for i, h in enumerate(users[:3]):
        c.post(f"/v1/rooms/match:1/polls/{poll['poll_id']}/votes", headers=h, json={"option": i % 2})
    c.post(f"/v1/rooms/match:1/polls/{poll['poll_id']}/close", headers=mod)
    c.delete(f"/v1/rooms/match:1/messages/{ids[2]}", headers=mod)
    c.post("/v1/rooms/match:1/mutes", headers=mod, json={"user_id": "u2", "duration_seconds": 3600})
    c.post("/v1/rooms/match:1/bans", headers=mod, json={"user_id": "u3"})
    c.post("/v1/rooms/match:1/pin", headers=mod, json={"message_id": ids[4]})
    for r in ("r1", "r2", "r3"):
        c.post(f"/v1/rooms/match:1/messages/{ids[5]}/reports", headers=bearer(s, r), json={"reason": "spam"})
    c.put("/v1/admin/rooms/match:1", headers=admin, json={"slow_mode_seconds": 10, "max_message_length": 120})
    c.post("/v1/admin/rooms/match:1/roles", headers=admin, json={"user_id": "u1", "role": "speaker"})
    c.post("/v1/admin/rooms/team:ars/roles", headers=admin, json={"user_id": "u1", "role": "moderator"})
    c.delete("/v1/admin/rooms/team:ars/roles/u1", headers=admin)
    return {
        "history": c.get("/v1/rooms/match:1/messages", headers=users[0]).json(),
        "room": c.get("/v1/rooms/match:1", headers=users[1]).json(),
        "poll": c.get(f"/v1/rooms/match:1/polls/{poll['poll_id']}", headers=users[0]).json(),
        "rooms": [c.get("/v1/me/rooms", headers=h).json() for h in users],
        "queue": c.get("/v1/rooms/match:1/review-queue", headers=mod).json(),
    }


def test_rebuilt_state_equals_served_state(settings):
    community = build_community(settings)
    with TestClient(create_app(settings, community=community)) as c:
        served = scripted_session(c, settings)
        live = community.state.snapshot()
        # a fresh projection from the very same log, while the service still runs
        fresh = CommunityState(community.state._policies, history_size=community.state._history_size)
        fresh.apply_all(community.log.replay())
        assert fresh.snapshot() == live
    assert live["polls"] and live["restrictions"] and live["grants"] and live["reactions"]

    # and after a restart, the API serves exactly what it served before
    with TestClient(create_app(settings)) as c:
        users = [bearer(settings, f"u{i}") for i in range(4)]
        mod = bearer(settings, "mod", "moderator")
        assert c.get("/v1/rooms/match:1/messages", headers=users[0]).json() == served["history"]
        assert c.get("/v1/rooms/match:1", headers=users[1]).json() == served["room"]
        assert c.get(f"/v1/rooms/match:1/polls/{served['poll']['poll_id']}", headers=users[0]).json() == served["poll"]
        assert [c.get("/v1/me/rooms", headers=h).json() for h in users] == served["rooms"]
        assert c.get("/v1/rooms/match:1/review-queue", headers=mod).json() == served["queue"]
        r = c.post("/v1/rooms/match:1/messages", headers=users[2], json={"client_msg_id": "x", "text": "hi"})
        assert r.json()["error"]["code"] == "user_muted"
        assert c.get("/v1/rooms/match:1", headers=users[3]).json()["error"]["code"] == "user_banned"


def kill_database(log) -> None:
    """The database under the writer goes away, as on a dead disk. Done on the writer's own
    thread between two commits; retried while a reader's cursor (e.g. the warehouse export)
    is mid-query, since DuckDB refuses to close a busy connection."""
    import time

    import duckdb

    for _ in range(200):
        try:
            log._writer.submit(log._con.close).result()
            return
        except duckdb.Error:
            time.sleep(0.01)
    raise AssertionError("the log's connection stayed busy")


def test_failed_commit_is_a_503_and_reads_keep_working(settings):
    community = build_community(settings)
    with TestClient(create_app(settings, community=community)) as c:
        h = bearer(settings, "u1")
        assert c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "a", "text": "before"}).status_code == 201
        before = community.log.last_seq
        kill_database(community.log)
        r = c.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "b", "text": "lost?"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "log_unavailable"
        assert "retry-after" in r.headers
        assert community.log.last_seq == before
        page = c.get("/v1/rooms/match:1/messages", headers=h).json()
        assert [m["text"] for m in page["messages"]] == ["before"]  # no acknowledgement, no ghost


def test_a_room_kind_taken_out_of_the_settings_does_not_stop_the_start(tmp_path: Path):
    """Rooms of a kind an operator later removes from the settings stay in the log (their mode
    changes, pins): the service still starts from it, and refuses the kind as unknown."""
    config = tmp_path / "sideline.toml"
    config.write_text("[rooms.quiz]\nmax_message_length = 100\n")
    env = {"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false"}
    with_quiz = load_settings(environ={**env, "SIDELINE_CONFIG": str(config)})
    ensure_dev_secrets(with_quiz)
    admin = {"X-Admin-Key": with_quiz.admin.api_key}
    player = bearer(with_quiz, "u1", ctx="quiz:1")
    with TestClient(create_app(with_quiz)) as c:
        sent = c.post("/v1/rooms/quiz:1/messages", headers=player, json={"client_msg_id": "a", "text": "hi"})
        assert sent.status_code == 201, sent.text
        r = c.post("/v1/admin/rooms/quiz:1/pin", headers=admin, json={"message_id": sent.json()["message_id"]})
        assert r.status_code == 200, r.text
        r = c.put("/v1/admin/rooms/quiz:1", headers=admin, json={"mode": "reactions-only"})
        assert r.status_code == 200, r.text

    without = load_settings(environ=env)
    ensure_dev_secrets(without)
    with TestClient(create_app(without)) as c:
        assert c.get("/health").status_code == 200
        r = c.get("/v1/rooms/quiz:1", headers=bearer(without, "u1", ctx="quiz:1"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_room_kind", r.text
        fan = bearer(without, "u1")
        assert c.post("/v1/rooms/match:1/messages", headers=fan, json={"client_msg_id": "b", "text": "ok"}).status_code == 201
