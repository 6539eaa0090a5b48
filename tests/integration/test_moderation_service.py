"""Moderation through the real service: masking, the moderation record, mutes, holds, policies."""

from __future__ import annotations

import time

import duckdb
import httpx
import pytest

from tests.fixtures.server import ServerProcess


@pytest.fixture
def api(server: ServerProcess):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def auth(server, user="u1", role="user", ctx="match:1"):
    return {"Authorization": f"Bearer {server.token(user, ctx, role)}"}


def send(api, h, text, cid, room="match:1"):
    return api.post(f"/v1/rooms/{room}/messages", headers=h, json={"client_msg_id": cid, "text": text})


def test_phone_number_is_masked_for_everyone_and_kept_only_in_the_record(server, api):
    original = "call me on +44 7911 123456 after the match"
    r = send(api, auth(server), original, "p1")
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["masked"] and "7911" not in sent["text"] and "[phone]" in sent["text"]
    other = api.get("/v1/rooms/match:1/messages", headers=auth(server, "u2")).json()["messages"]
    assert [m["text"] for m in other] == [sent["text"]]
    mod = auth(server, "m1", "moderator")
    record = api.get(f"/v1/rooms/match:1/moderation-records/{sent['message_id']}", headers=mod)
    assert record.json()["original"] == original
    denied = api.get(f"/v1/rooms/match:1/moderation-records/{sent['message_id']}", headers=auth(server, "u2"))
    assert denied.status_code == 403
    server.stop()
    con = duckdb.connect(str(server.data_dir / "log-node-1.duckdb"), read_only=True)
    try:
        payloads = [p for (p,) in con.execute("SELECT payload FROM events").fetchall()]
        verdict = con.execute(
            "SELECT json_extract_string(payload, '$.action') FROM events "
            "WHERE event_type = 'community_message_moderated'"
        ).fetchall()
    finally:
        con.close()
    assert not any("7911" in p for p in payloads)  # the log itself only has the masked text
    assert verdict == [("mask",)]


def test_a_muted_user_cannot_post_until_the_mute_ends(server, api):
    mod = auth(server, "m1", "moderator")
    assert api.post("/v1/rooms/match:1/mutes", headers=mod, json={"user_id": "u5", "duration_seconds": 2}).status_code == 201
    refused = send(api, auth(server, "u5"), "let me speak", "a")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "user_muted"
    assert "until 20" in refused.json()["error"]["message"]
    time.sleep(2.2)
    assert send(api, auth(server, "u5"), "thanks", "b").status_code == 201


def test_a_held_message_appears_after_approval(server, api):
    admin = {"X-Admin-Key": server.admin_key()}
    policy = api.get("/v1/admin/moderation/policies/match", headers=admin).json()
    policy["actions"]["pii"] = "hold"
    changed = api.put("/v1/admin/moderation/policies/match", headers=admin, json=policy)
    assert changed.status_code == 200 and changed.json()["actions"]["pii"] == "hold"
    held = send(api, auth(server), "my email is ann.lee@example.com", "h1").json()
    assert held["visibility"] == "held"
    viewer = auth(server, "u2")
    assert api.get("/v1/rooms/match:1/messages", headers=viewer).json()["messages"] == []
    mod = auth(server, "m1", "moderator")
    queue = api.get("/v1/rooms/match:1/review-queue", headers=mod).json()
    assert [(q["message_id"], q["source"]) for q in queue] == [(held["message_id"], "hold")]
    assert api.post(f"/v1/rooms/match:1/review/{held['message_id']}", headers=mod, json={"decision": "approve"}).status_code == 200
    shown = api.get("/v1/rooms/match:1/messages", headers=viewer).json()["messages"]
    assert [m["message_id"] for m in shown] == [held["message_id"]]
    assert "example.com" not in shown[0]["text"]  # approval shows the masked text, never the original
    # the policy change is an event: it survives a restart
    server.stop()
    again = ServerProcess(server.data_dir, port=server.port).start()
    try:
        kept = httpx.get(f"{again.url}/v1/admin/moderation/policies/match", headers=admin).json()
        assert kept["actions"]["pii"] == "hold"
    finally:
        again.stop()


def test_bad_policy_names_the_key(server, api):
    admin = {"X-Admin-Key": server.admin_key()}
    bad = api.put("/v1/admin/moderation/policies/match", headers=admin, json={"hold_at": "high"})
    assert bad.status_code == 400 and "$.hold_at" in bad.json()["error"]["message"]
    unknown = api.put("/v1/admin/moderation/policies/zzz", headers=admin, json={})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_room_kind"


def test_blocked_and_rate_limited_messages(server, api):
    h = auth(server, "spammy")
    codes = [send(api, h, f"message number {i}", f"r{i}").status_code for i in range(8)]
    assert codes[:5] == [201] * 5 and 429 in codes[5:]


def test_a_room_kind_takes_the_policy_its_moderation_policy_names(tmp_path):
    """``rooms.<kind>.moderation_policy`` names the policy the kind's rooms are moderated by:
    match rooms here hold personal data for review instead of masking it (the default's rule)."""
    strict = '{"default": {}, "strict": {"actions": {"input": "block", "rate": "block", "pii": "hold"}}}'
    env = {"SIDELINE_ROOMS__MATCH__MODERATION_POLICY": "strict", "SIDELINE_MODERATION__POLICIES": strict}
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as api:
            sent = send(api, auth(server), "my email is ann.lee@example.com", "s1")
            assert sent.status_code == 201, sent.text
            assert sent.json()["visibility"] == "held"
    finally:
        server.stop()


def test_the_policy_endpoints_address_the_policy_a_kinds_rooms_use(tmp_path):
    """With ``rooms.match.moderation_policy = "strict"``, the policy of the kind ``match`` is
    ``strict``: reading it shows strict, changing it changes what match rooms are checked by
    (and survives a restart); ``strict`` itself is addressable by its name too."""
    strict = '{"default": {}, "strict": {"actions": {"input": "block", "rate": "block", "pii": "hold"}}}'
    env = {"SIDELINE_ROOMS__MATCH__MODERATION_POLICY": "strict", "SIDELINE_MODERATION__POLICIES": strict}
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        admin = {"X-Admin-Key": server.admin_key()}
        with httpx.Client(base_url=server.url, timeout=10) as api:
            policy = api.get("/v1/admin/moderation/policies/match", headers=admin).json()
            assert policy["actions"]["pii"] == "hold"
            assert api.get("/v1/admin/moderation/policies/strict", headers=admin).json() == policy
            policy["actions"]["pii"] = "block"
            put = api.put("/v1/admin/moderation/policies/match", headers=admin, json=policy)
            assert put.status_code == 200, put.text
            assert api.get("/v1/admin/moderation/policies/strict", headers=admin).json() == policy
            blocked = send(api, auth(server), "my email is ann.lee@example.com", "s1")
            assert blocked.status_code == 422, blocked.text
            unknown = api.get("/v1/admin/moderation/policies/nosuch", headers=admin)
            assert unknown.status_code == 400 and "strict" in unknown.json()["error"]["message"]
        server.stop()
        server.start()
        with httpx.Client(base_url=server.url, timeout=10) as api:
            kept = api.get("/v1/admin/moderation/policies/match", headers={"X-Admin-Key": server.admin_key()})
            assert kept.json()["actions"]["pii"] == "block"
            assert send(api, auth(server), "write to ann.lee@example.com", "s2").status_code == 422
    finally:
        server.stop()


def test_a_threat_is_held_and_the_queue_says_why_also_after_a_restart(server, api):
    named = {"Authorization": f"Bearer {server.token('u1', 'match:1', 'user', name='Ann')}"}
    held = send(api, named, "I know where you live", "t1")
    assert held.status_code == 201 and held.json()["visibility"] == "held"
    assert api.get("/v1/rooms/match:1/messages", headers=auth(server, "u2")).json()["messages"] == []
    mod = auth(server, "m1", "moderator")
    [item] = api.get("/v1/rooms/match:1/review-queue", headers=mod).json()
    assert (item["source"], item["held_for"], item["text"]) == ("hold", ["threat.doxxing"], "I know where you live")
    assert (item["user_id"], item["name"]) == ("u1", "Ann")
    server.stop()
    again = ServerProcess(server.data_dir, port=server.port).start()
    try:
        [kept] = httpx.get(f"{again.url}/v1/admin/review-queue", headers={"X-Admin-Key": again.admin_key()}).json()
        assert kept["held_for"] == ["threat.doxxing"]  # rebuilt from the log
        decided = httpx.post(f"{again.url}/v1/rooms/match:1/review/{item['message_id']}", headers=mod, json={"decision": "reject"})
        assert decided.status_code == 200
        assert httpx.get(f"{again.url}/v1/admin/review-queue", headers={"X-Admin-Key": again.admin_key()}).json() == []
    finally:
        again.stop()


def _samples(text: str, name: str) -> dict[str, float]:
    """``{label set: value}`` of the Prometheus samples called ``name`` in ``text``."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name):]] = float(value)
    return out


def test_metrics_count_verdicts_reasons_check_times_and_the_review_queue(server, api):
    h = auth(server)
    assert send(api, h, "what a goal", "m1").status_code == 201
    assert send(api, h, "call me on +44 7911 123456", "m2").json()["masked"]
    assert send(api, h, "I will kill you", "m3").json()["visibility"] == "held"
    assert send(api, h, "fuck off ref", "m4").status_code == 422
    metrics = api.get("/metrics").text
    assert _samples(metrics, "sideline_moderation_verdicts_total") == {
        '{action="allow"}': 1.0, '{action="mask"}': 1.0, '{action="hold"}': 1.0, '{action="block"}': 1.0,
    }
    reasons = _samples(metrics, "sideline_moderation_reasons_total")
    assert reasons['{check="pii",code="pii.phone"}'] == 1.0
    assert reasons['{check="threat",code="threat.violence"}'] == 1.0
    assert reasons['{check="blocklist",code="blocklist.word"}'] == 1.0
    timed = _samples(metrics, "sideline_moderation_check_seconds_count")
    assert timed['{check="rate"}'] == 4.0 and timed['{check="pii"}'] == 4.0
    assert timed['{check="threat"}'] == 3.0  # the block by the blocklist skipped the rest
    assert _samples(metrics, "sideline_moderation_seconds_count") == {"": 4.0}
    assert _samples(metrics, 'sideline_moderation_seconds_bucket{le="+Inf"}') == {"": 4.0}
    queue = _samples(metrics, "sideline_review_queue_messages")
    assert queue == {'{source="hold"}': 1.0, '{source="report"}': 0.0}
    other = auth(server, "u2")
    reported = send(api, h, "ref you are blind", "m5").json()["message_id"]
    assert api.post(f"/v1/rooms/match:1/messages/{reported}/reports", headers=other, json={"reason": "rude"}).status_code == 201
    queue = _samples(api.get("/metrics").text, "sideline_review_queue_messages")
    assert queue == {'{source="hold"}': 1.0, '{source="report"}': 1.0}
    mod = auth(server, "m1", "moderator")
    assert api.delete(f"/v1/rooms/match:1/messages/{reported}", headers=mod).status_code in (200, 204)
    queue = _samples(api.get("/metrics").text, "sideline_review_queue_messages")
    assert queue == {'{source="hold"}': 1.0, '{source="report"}': 0.0}  # as the queue has it
    assert [q["source"] for q in api.get("/v1/rooms/match:1/review-queue", headers=mod).json()] == ["hold"]
