"""A delete's reason (``?reason=``) through a real uvicorn process: moderators and the admin
API give one as they give one for a mute or a ban, and the moderation audit finds it in the
``community_message_deleted`` event."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.server import ServerProcess
from tests.integration.test_http_api import auth, deletes

MOD_ITEM = "/v1/rooms/{room_id}/messages/{message_id}"
ADMIN_ITEM = "/v1/admin/rooms/{room_id}/messages/{message_id}"


@pytest.fixture
def api(server: ServerProcess):
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def post(api: httpx.Client, server: ServerProcess, n: int) -> str:
    # one author each: a single one would meet the per-user rate limit
    r = api.post("/v1/rooms/match:1/messages", headers=auth(server, f"a{n}"),
                 json={"client_msg_id": f"c{n}", "text": f"take number {n}"})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def test_a_delete_records_the_reason_given_and_the_default_without_one(server, api):
    mod, admin = auth(server, "m1", role="moderator"), {"X-Admin-Key": server.admin_key()}
    ids = [post(api, server, n) for n in range(6)]
    given = [
        (f"/v1/rooms/match:1/messages/{ids[0]}", mod, {"reason": "  spam link \n"}),
        (f"/v1/admin/rooms/match:1/messages/{ids[1]}", admin, {"reason": "doxxing"}),
        (f"/v1/rooms/match:1/messages/{ids[2]}", mod, {}),
        (f"/v1/admin/rooms/match:1/messages/{ids[3]}", admin, {}),
        (f"/v1/rooms/match:1/messages/{ids[4]}", mod, {"reason": " \t "}),
        # a moderator's own delete may say "review" without passing for the queue's
        (f"/v1/rooms/match:1/messages/{ids[5]}", mod, {"reason": "review"}),
    ]
    for url, headers, params in given:
        r = api.delete(url, headers=headers, params=params)
        assert r.status_code == 200, (url, params, r.text)
    server.stop()
    assert deletes(server) == [
        (ids[0], "m1", {"reason": "spam link", "review": False}),
        (ids[1], "system:admin", {"reason": "doxxing", "review": False}),
        (ids[2], "m1", {"reason": "moderator", "review": False}),
        (ids[3], "system:admin", {"reason": "moderator", "review": False}),
        (ids[4], "m1", {"reason": "moderator", "review": False}),
        (ids[5], "m1", {"reason": "review", "review": False}),
    ]


def test_a_delete_reason_past_the_mute_and_ban_limit_is_refused_and_nothing_written(server, api):
    mod, admin = auth(server, "m1", role="moderator"), {"X-Admin-Key": server.admin_key()}
    mid = post(api, server, 1)
    ban = api.post("/v1/rooms/match:1/bans", headers=mod, json={"user_id": "u9", "reason": "x" * 201})
    assert ban.status_code == 400
    before = api.get("/ready").json()["last_seq"]
    for url, headers in [
        (f"/v1/rooms/match:1/messages/{mid}", mod),
        (f"/v1/admin/rooms/match:1/messages/{mid}", admin),
    ]:
        r = api.delete(url, headers=headers, params={"reason": "x" * 201})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == ban.json()["error"] == {
            "code": "invalid_body", "at": "$.reason",
            "message": "Expected `str` of length <= 200 - at `$.reason`",
        }  # fmt: skip
    assert api.get("/ready").json()["last_seq"] == before  # nothing written
    page = api.get("/v1/rooms/match:1/messages", headers=auth(server, "reader")).json()
    assert [m["message_id"] for m in page["messages"]] == [mid]
    longest = api.delete(f"/v1/rooms/match:1/messages/{mid}", headers=mod, params={"reason": "é" * 200})
    assert longest.status_code == 200, longest.text
    server.stop()
    assert deletes(server) == [(mid, "m1", {"reason": "é" * 200, "review": False})]


def test_the_openapi_document_lists_the_reason_of_both_deletes(server, api):
    paths = api.get("/schema/openapi.json").json()["paths"]
    for template in (MOD_ITEM, ADMIN_ITEM):
        params = {p["name"]: p for p in paths[template]["delete"].get("parameters", [])}
        assert "reason" in params, (template, sorted(params))
        reason = params["reason"]
        assert (reason["in"], reason["required"]) == ("query", False)
        assert reason["schema"]["type"] == "string" and reason["schema"]["maxLength"] == 200
