"""Bad input over HTTP: strict types, undecodable bodies, error paths in the client's names.

Every refusal is ``400 invalid_body`` with the message and ``at`` the client can act on, and
nothing reaches the event log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from litestar.testing import TestClient

from service.actions.context import Community
from service.app import build_community, create_app
from service.identity import mint_token
from service.settings import Settings, ensure_dev_secrets, load_settings

JSON = {"content-type": "application/json"}


class Api:
    """The app in process on a real DuckDB log, with a poll to vote in."""

    def __init__(self, client: TestClient[Any], settings: Settings, community: Community) -> None:
        self.client, self.settings, self.community = client, settings, community
        self.admin = {"X-Admin-Key": settings.admin.api_key}
        self.written = ["poll_created"]
        """Event types the log must hold at the end: the setup's, and a test's own writes."""
        poll = client.post("/v1/rooms/match:1/polls", headers=self.bearer("sp", "speaker"),
                           json={"question": "q?", "options": ["a", "b"]})  # fmt: skip
        assert poll.status_code == 201, poll.text
        self.poll_id = poll.json()["poll_id"]

    def bearer(self, user: str, role: str = "user") -> dict[str, str]:
        token = mint_token(self.settings.auth.hs256_secret, user_id=user, context_id="match:1", role=role)
        return {"Authorization": f"Bearer {token}"}

    def headers(self, who: str) -> dict[str, str]:
        """``who``: ``admin`` (the admin key) or a role in match:1, used as the user id too."""
        return {**JSON, **(self.admin if who == "admin" else self.bearer(who, who))}

    def refused(self, method: str, path: str, who: str, body: bytes | None) -> dict[str, Any]:
        """Send ``body``; assert 400 invalid_body with nothing written; return the error."""
        before = self.community.log.last_seq
        r = self.client.request(method, path.format(poll=self.poll_id), headers=self.headers(who), content=body)
        assert r.status_code == 400, r.text
        error: dict[str, Any] = r.json()["error"]
        assert error["code"] == "invalid_body"
        assert self.community.log.last_seq == before
        return error


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path)})
    ensure_dev_secrets(s)
    community = build_community(s)
    with TestClient(create_app(s, community=community)) as client:
        api = Api(client, s, community)
        yield api
    con = duckdb.connect(str(s.log_path), read_only=True)
    types = [row[0] for row in con.execute("SELECT event_type FROM events ORDER BY seq").fetchall()]
    con.close()
    assert types == api.written, "a refused request wrote to the log"


VOTE = "/v1/rooms/match:1/polls/{poll}/votes"


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "message", "at"),
    [
        ("POST", VOTE, "user", b'{"option":"1"}', "Expected `int`, got `str` - at `$.option`", "$.option"),
        ("POST", VOTE, "user", b'{"option":"1e0"}', "Expected `int`, got `str` - at `$.option`", "$.option"),
        ("POST", VOTE, "user", b'{"option":1.0}', "Expected `int`, got `float` - at `$.option`", "$.option"),
        ("PATCH", "/v1/rooms/match:1/settings", "moderator", b'{"slow_mode_seconds":"5"}',
         "Expected `int | null`, got `str` - at `$.slow_mode_seconds`", "$.slow_mode_seconds"),
        ("POST", "/v1/rooms/match:1/mutes", "moderator", b'{"user_id":"u9","duration_seconds":"60"}',
         "Expected `int | null`, got `str` - at `$.duration_seconds`", "$.duration_seconds"),
        ("PUT", "/v1/admin/rooms/match:1", "admin", b'{"max_message_length":"10"}',
         "Expected `int | null`, got `str` - at `$.max_message_length`", "$.max_message_length"),
        ("POST", "/v1/admin/sinks/warehouse/replay", "admin", b'{"from_seq":"1"}',
         "Expected `int`, got `str` - at `$.from_seq`", "$.from_seq"),
        ("POST", "/v1/rooms/match:1/messages", "user", b'{"client_msg_id":"a","text":"x","metadata":{"foo":1}}',
         "Object contains unknown field `foo` - at `$.metadata.foo`", "$.metadata.foo"),
    ],
)  # fmt: skip
def test_wrong_types_are_refused_not_coerced(api, method, path, who, body, message, at):
    error = api.refused(method, path, who, body)
    assert (error["message"], error["at"]) == (message, at)


def test_the_right_type_still_passes(api):
    r = api.client.post(VOTE.format(poll=api.poll_id), headers=api.headers("user"), content=b'{"option":1}')
    assert r.status_code == 200 and r.json()["results"] == [0, 1]
    api.written.append("poll_voted")


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "bad"),
    [
        ("POST", "/v1/rooms/match:1/messages", "user", b'{"client_msg_id":"a","text":"\xff\xfe"}', "0xff at offset 29"),
        ("PUT", "/v1/admin/moderation/policies/match", "admin", b'{"blocklist":["ok","\xfe"]}', "0xfe at offset 20"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_utf8_is_refused(api, method, path, who, body, bad):
    error = api.refused(method, path, who, body)
    assert error["message"] == f"body is not valid UTF-8 JSON: byte {bad} (invalid start byte)"
    assert error["at"] == "$"


def test_malformed_json_is_refused(api):
    error = api.refused("POST", "/v1/rooms/match:1/messages", "user", b'{"client_msg_id":"b","text":"x"} trailing')
    assert error["message"] == "body is not valid JSON: JSON is malformed: trailing characters (byte 34)"


@pytest.mark.parametrize(
    ("body", "message", "at"),
    [
        (b'{"hold_at":"x"}', "Expected `float`, got `str` - at `$.hold_at`", "$.hold_at"),
        (b'{"bogus":1}', "Object contains unknown field `bogus` - at `$.bogus`", "$.bogus"),
        (b'{"hold_at":2}', "invalid policy: Expected a score in (0, 1], got 2.0 in `$.hold_at`", "$.hold_at"),
        (b'{"actions":{"spma":"block"}}', "invalid policy: Unknown check or code 'spma' in `$.actions`", "$.actions"),
        # a map's key is named, not `$.actions[...]` as msgspec writes any key of a dict
        (b'{"actions":{"spam":"block","abuse":"nuke"},"hold_at":"x"}',
         "Invalid enum value 'nuke' - at `$.actions.abuse`", "$.actions.abuse"),
        (b'{"actions":{"spam.link":7}}', "Expected `str`, got `int` - at `$.actions['spam.link']`",
         "$.actions['spam.link']"),
    ],
)
def test_policy_errors_carry_the_path(api, body, message, at):
    error = api.refused("PUT", "/v1/admin/moderation/policies/match", "admin", body)
    assert (error["message"], error["at"]) == (message, at)


@pytest.mark.parametrize(
    ("path", "who"),
    [("/v1/rooms/match:1/messages", "user"), ("/v1/admin/rooms/match:1", "admin"),
     ("/v1/admin/moderation/policies/match", "admin")],
)  # fmt: skip
def test_an_empty_body_is_named_as_such(api, path, who):
    method = "PUT" if who == "admin" else "POST"
    error = api.refused(method, path, who, b"")
    assert error == {"code": "invalid_body", "at": "$",
                     "message": "request body is empty; this endpoint expects a JSON body"}  # fmt: skip


def test_a_bad_query_parameter_is_named_as_sent(api):
    error = api.refused("DELETE", "/v1/admin/rooms/match:1/bans/u2?scope=planet", "admin", None)
    assert (error["message"], error["at"]) == ("Invalid enum value 'planet' - at `$.scope`", "$.scope")


@pytest.mark.parametrize(
    ("path", "who", "body", "at"),
    [
        ("/v1/rooms/match:1/messages", "user", b'{"text":"hi"}', "$.client_msg_id"),
        ("/v1/rooms/match:1/pin", "moderator", b"{}", "$.message_id"),
        ("/v1/rooms/match:1/mutes", "moderator", b'{"reason":"spam"}', "$.user_id"),
    ],
)
def test_a_missing_field_is_named_by_its_path(api, path, who, body, at):
    error = api.refused("POST", path, who, body)
    name = at.removeprefix("$.")
    assert (error["message"], error["at"]) == (f"Object missing required field `{name}` - at `{at}`", at)


@pytest.mark.parametrize(
    ("path", "who", "body", "name", "at"),
    [
        ("/v1/admin/rooms/match:1/pin", "admin", b'{"message_id":null,"":1}', "", "$['']"),
        ("/v1/admin/rooms/match:1/pin", "admin", b'{"message_id":null,"a`b":1}', "a`b", "$['a`b']"),
        ("/v1/admin/rooms/match:1/pin", "admin", b'{"message_id":null,"a b":1}', "a b", "$['a b']"),
        ("/v1/admin/rooms/match:1/pin", "admin", b'{"message_id":null,"a\\nb":1}', "a\nb", "$['a\\nb']"),
        ("/v1/admin/sinks/warehouse/replay", "admin", b'{"from_seq":1,"":1}', "", "$['']"),
        ("/v1/rooms/match:1/messages", "user", b'{"client_msg_id":"a","text":"x","metadata":{"`":1}}', "`", "$.metadata['`']"),
    ],
)  # fmt: skip
def test_an_unknown_field_is_named_whatever_its_name(api, path, who, body, name, at):
    """An empty name, or one with a backtick or a line break, is still the key to remove."""
    error = api.refused("POST", path, who, body)
    assert error == {"code": "invalid_body", "at": at,
                     "message": f"Object contains unknown field `{name}` - at `{at}`"}  # fmt: skip


NO_BODY = [  # (method, path, who, what it writes when done)
    ("POST", "/v1/rooms/match:1/join", "user", ["community_room_joined"]),
    ("POST", "/v1/rooms/match:1/leave", "user", []),  # not in the room: nothing to leave
    ("POST", "/v1/rooms/match:1/polls/{poll}/close", "moderator", ["poll_closed"]),
    ("POST", "/v1/admin/rooms/match:1/close", "admin", ["room_mode_changed"]),
    ("GET", "/v1/rooms/match:1/messages", "user", []),
]


@pytest.mark.parametrize(("method", "path", "who", "writes"), NO_BODY)
@pytest.mark.parametrize("body", [b"not json at all", b'{"mode": "open"}', b"[]"])
def test_a_body_where_none_is_read_is_refused_not_ignored(api, method, path, who, writes, body):
    """An endpoint that reads no body refuses one (nothing done, nothing written), as it refuses
    an unknown query parameter: the client meant something the server would not do."""
    error = api.refused(method, path, who, body)
    assert error["at"] == "$" and "this endpoint takes no body" in error["message"], error
    room = api.client.get("/v1/rooms/match:1", headers=api.bearer("u")).json()
    assert room["mode"] == "open", "the admin close did not happen"


@pytest.mark.parametrize(("method", "path", "who", "writes"), NO_BODY)
@pytest.mark.parametrize("body", [None, b"", b"{}", b" { } \n"])
def test_no_body_or_an_empty_object_passes_where_none_is_read(api, method, path, who, writes, body):
    r = api.client.request(method, path.format(poll=api.poll_id), headers=api.headers(who), content=body)
    assert r.status_code < 300, r.text
    api.written += writes


@pytest.mark.parametrize(("method", "path", "who", "writes"), NO_BODY[:2])
def test_an_oversize_body_where_none_is_read_is_413(api, method, path, who, writes):
    before = api.community.log.last_seq
    r = api.client.request(method, path, headers=api.headers(who), content=b"{" + b" " * 70_000 + b"}")
    assert (r.status_code, r.json()["error"]["code"]) == (413, "body_too_large"), r.text
    assert api.community.log.last_seq == before


@pytest.mark.parametrize("value", ["1e0", "2.0", "1.5", "+3", " 4", "0x10", "five"])
def test_an_integer_query_parameter_takes_digits_only(api, value):
    """``?limit=1e0`` and ``?before_seq=2.0`` passed as 1 and 2, while ``?limit=1.5`` was told
    it got a `str`: an int parameter takes digits, and the refusal says so where."""
    r = api.client.get("/v1/rooms/match:1/messages", params={"limit": value}, headers=api.bearer("u"))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "invalid_body", "at": "$.limit",
        "message": f"query parameter `limit` must be an integer (digits only), not {value!r} - at `$.limit`",
    }  # fmt: skip
    ok = api.client.get("/v1/rooms/match:1/messages", params={"limit": "7", "before_seq": "-1"}, headers=api.bearer("u"))
    assert ok.status_code == 400 and ok.json()["error"]["at"] == "$.before_seq", "digits pass; the range is still checked"
