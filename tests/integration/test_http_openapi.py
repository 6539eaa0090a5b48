"""The OpenAPI document tells the truth about refusals: real refused requests get a status the
operation documents, with the body it documents and the code listed in its description."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.identity import mint_token
from service.settings import Settings, ensure_dev_secrets, load_settings

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


class Api:
    def __init__(self, client: TestClient[Any], settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.schema: dict[str, Any] = client.get("/schema/openapi.json").json()
        post = client.post("/v1/rooms/match:1/messages", headers=self.who("user"),
                           json={"client_msg_id": "m1", "text": "a fine message"})  # fmt: skip
        assert post.status_code == 201, post.text
        self.message_id = post.json()["message_id"]

    def who(self, role: str) -> dict[str, str]:
        if role == "admin":
            return {"X-Admin-Key": self.settings.admin.api_key}
        if role == "nobody":
            return {}
        token = mint_token(self.settings.auth.hs256_secret, user_id=role, context_id="match:1", role=role)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data: Path = tmp_path_factory.mktemp("openapi")
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(data), "SIDELINE_MODERATION__ENABLED": "false"})
    ensure_dev_secrets(s)
    with TestClient(create_app(s)) as client:
        yield Api(client, s)


def test_every_documented_refusal_has_the_error_body(api):
    refusals = [
        (path, method, status)
        for path, operations in api.schema["paths"].items() if path.startswith("/v1/")
        for method, operation in operations.items()
        for status, response in operation["responses"].items() if int(status) >= 400
    ]  # fmt: skip
    assert len(refusals) > 100
    wrong = [
        (path, method, status) for path, method, status in refusals
        if api.schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"] != ERROR_BODY
    ]  # fmt: skip
    assert wrong == []
    detail = api.schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "at", "retry_after"}
    assert detail["required"] == ["code", "message"]


MSG = "/v1/rooms/{room_id}/messages"
ITEM = "/v1/rooms/{room_id}/messages/{message_id}"


@pytest.mark.parametrize(
    ("method", "template", "path", "who", "body", "status", "code"),
    [
        ("get", "/v1/me/rooms", "/v1/me/rooms", "nobody", None, 401, "token_missing"),
        ("get", "/v1/rooms/{room_id}", "/v1/rooms/match:2", "user", None, 403, "room_not_allowed"),
        ("get", "/v1/rooms/{room_id}", "/v1/rooms/nokind", "user", None, 400, "invalid_room_id"),
        ("get", MSG, "/v1/rooms/match:1/messages?limit=0", "user", None, 400, "invalid_body"),
        ("get", MSG, "/v1/rooms/match:1/messages?before=no-such-message", "user", None, 404, "not_found"),
        ("post", MSG, "/v1/rooms/match:1/messages", "viewer", {"client_msg_id": "a", "text": "x"}, 403, "role_too_low"),
        ("post", MSG, "/v1/rooms/match:1/messages", "user", {"client_msg_id": "a", "text": " "}, 400, "text_empty"),
        ("post", MSG, "/v1/rooms/match:1/messages", "user", {"client_msg_id": "a", "text": "x", "reply_to": "no"}, 404, "not_found"),
        ("post", MSG, "/v1/rooms/match:1/messages", "user", {"client_msg_id": "a", "text": "x" * 70_000}, 413, "body_too_large"),
        ("post", MSG, "/v1/rooms/match:1/messages", "user", {"client_msg_id": "a", "text": "x" * 301}, 400, "text_too_long"),
        ("post", MSG, "/v1/rooms/match:1/messages", "user", {"client_msg_id": "m1", "text": "another text"}, 409, "conflict"),
        ("post", "/v1/rooms/{room_id}/join", "/v1/rooms/match:1/join", "user", {"pad": "x" * 70_000}, 413, "body_too_large"),
        ("get", "/v1/me/rooms", "/v1/me/rooms", "user", {"pad": "x" * 70_000}, 413, "body_too_large"),
        ("get", "/v1/admin/sinks", "/v1/admin/sinks", "admin", {"pad": "x" * 70_000}, 413, "body_too_large"),
        ("post", ITEM + "/reactions", "/v1/rooms/match:1/messages/no/reactions", "user", {"emoji": "👍"}, 404, "not_found"),
        ("post", ITEM + "/reports", "/v1/rooms/match:1/messages/{mid}/reports", "speaker", {"reason": "x"}, 201, None),
        ("post", ITEM + "/reports", "/v1/rooms/match:1/messages/{mid}/reports", "speaker", {"reason": "x"}, 409, "conflict"),
        ("post", "/v1/rooms/{room_id}/polls", "/v1/rooms/match:1/polls", "user", {"question": "q", "options": ["a", "b"]}, 403, "role_too_low"),
        ("post", "/v1/rooms/{room_id}/polls/{poll_id}/votes", "/v1/rooms/match:1/polls/no/votes", "user", {"option": 0}, 404, "not_found"),
        ("delete", ITEM, "/v1/rooms/match:1/messages/{mid}", "user", None, 403, "role_too_low"),
        ("post", "/v1/rooms/{room_id}/{kind}", "/v1/rooms/match:1/gags", "moderator", {"user_id": "x"}, 404, "not_found"),
        ("post", "/v1/rooms/{room_id}/{kind}", "/v1/rooms/match:1/mutes", "moderator", {"user_id": "moderator"}, 409, "conflict"),
        ("get", "/v1/admin/rooms/{room_id}", "/v1/admin/rooms/match:1", "user", None, 401, "admin_key_invalid"),
        ("get", "/v1/admin/rooms/{room_id}", "/v1/admin/rooms/zzz:1", "admin", None, 400, "unknown_room_kind"),
        ("delete", "/v1/admin/rooms/{room_id}/{kind}/{user_id}", "/v1/admin/rooms/match:1/bans/u?scope=planet", "admin", None, 400, "invalid_body"),
        ("get", "/v1/admin/rooms/{room_id}/moderation-records/{message_id}", "/v1/admin/rooms/match:1/moderation-records/{mid}", "admin", None, 404, "not_found"),
        ("get", "/v1/admin/moderation/policies/{kind}", "/v1/admin/moderation/policies/match", "admin", None, 409, "conflict"),
        ("post", "/v1/admin/sinks/{name}/replay", "/v1/admin/sinks/nosuch/replay", "admin", {"from_seq": 1}, 404, "not_found"),
        ("delete", "/v1/admin/rooms/{room_id}/{kind}/{user_id}", "/v1/admin/rooms/match:1/bans/" + "u" * 129, "admin", None, 400, "invalid_body"),
        ("delete", "/v1/admin/rooms/{room_id}/roles/{user_id}", "/v1/admin/rooms/match:1/roles/" + "u" * 129, "admin", None, 400, "invalid_body"),
        ("delete", "/v1/rooms/{room_id}/{kind}/{user_id}", "/v1/rooms/match:1/mutes/" + "u" * 129, "moderator", None, 400, "invalid_body"),
    ],
)  # fmt: skip
def test_a_real_refusal_is_documented_for_its_operation(api, method, template, path, who, body, status, code):
    r = api.client.request(method, path.format(mid=api.message_id), headers=api.who(who), json=body)
    assert r.status_code == status, r.text
    if code is None:
        return
    error = r.json()["error"]
    assert error["code"] == code
    documented = api.schema["paths"][template][method]["responses"]
    assert str(status) in documented, f"{method} {template} does not document {status}"
    assert f"`{code}`" in documented[str(status)]["description"]
    assert set(error) <= set(api.schema["components"]["schemas"]["ErrorDetail"]["properties"])


def test_every_v1_operation_documents_a_body_too_large(api):
    """Any request body over ``server.max_body_bytes`` is 413, on operations that read none too."""
    missing = [
        (method, path) for path, operations in api.schema["paths"].items() if path.startswith("/v1/")
        for method, operation in operations.items()
        if "`body_too_large`" not in operation["responses"].get("413", {}).get("description", "")
    ]  # fmt: skip
    assert missing == []


def test_a_refusal_that_says_retry_after_declares_the_header(api):
    declared = 0
    for path, operations in api.schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                says = "Retry-After" in answer["description"]
                assert says == ("Retry-After" in answer.get("headers", {})), (method, path, status)
                declared += says
    assert declared > 10
    send = api.schema["paths"][MSG]["post"]["responses"]
    assert send["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert "Location" not in send["201"]["description"] and "URL" not in send["201"]["description"]


@pytest.mark.parametrize(
    ("schema", "field", "values"),
    [("RestrictIn", "scope", ["room", "global"]), ("ReviewIn", "decision", ["approve", "reject", "delete"]),
     ("MessageOut", "visibility", ["public", "shadow", "held", "deleted"]), ("QueueItem", "source", ["hold", "report"])],
)
def test_closed_choices_are_enums_in_the_schema(api, schema, field, values):
    assert api.schema["components"]["schemas"][schema]["properties"][field]["enum"] == values


def test_a_review_queue_entry_always_says_since_when(api):
    """Every entry of the queue has ``since`` (held: when sent; reported: the first report since
    the last review): the schema requires it rather than offering it as optional."""
    assert "since" in api.schema["components"]["schemas"]["QueueItem"]["required"]


def test_a_value_outside_the_choices_is_named(api):
    r = api.client.post("/v1/admin/rooms/match:1/mutes", headers=api.who("admin"),
                        json={"user_id": "u9", "scope": "planet"})  # fmt: skip
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "invalid_body", "at": "$.scope",
                                 "message": "Invalid enum value 'planet' - at `$.scope`"}  # fmt: skip


@pytest.mark.parametrize(
    ("method", "template", "status", "fields"),
    [
        ("post", ITEM + "/reports", "201", {"report_id"}),
        ("delete", ITEM, "200", {"seq"}),
        ("delete", "/v1/admin/rooms/{room_id}/messages/{message_id}", "200", {"seq"}),
        ("delete", "/v1/rooms/{room_id}/{kind}/{user_id}", "200", {"lifted"}),
        ("delete", "/v1/admin/rooms/{room_id}/{kind}/{user_id}", "200", {"lifted"}),
        ("post", "/v1/rooms/{room_id}/review/{message_id}", "200", {"decision"}),
        ("post", "/v1/admin/rooms/{room_id}/review/{message_id}", "200", {"decision"}),
        ("post", "/v1/admin/rooms/{room_id}/roles", "200", {"user_id", "role"}),
        ("delete", "/v1/admin/rooms/{room_id}/roles/{user_id}", "200", {"revoked"}),
    ],
)  # fmt: skip
def test_a_small_answer_names_its_fields_in_the_schema(api, method, template, status, fields):
    """A client generated from the document reads ``lifted`` or ``report_id`` by name, so the
    answer is a schema with those properties, not an open map of strings."""
    schema = api.schema["paths"][template][method]["responses"][status]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = api.schema["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert set(schema.get("properties", {})) == fields
    assert set(schema.get("required", [])) == fields


POLICY_FIELDS = {"shadow_at", "hold_at", "block_at", "act_at", "actions", "blocklist", "allowlist",
                 "default_blocklist", "provider"}  # fmt: skip


def test_the_moderation_policy_is_a_schema_both_ways(api):
    """A policy is read, edited and put back by a tool generated from the document: the body and
    the answer name the policy's keys, and an action is one of the actions."""
    operations = api.schema["paths"]["/v1/admin/moderation/policies/{kind}"]
    answer = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = operations["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert answer == body == operations["put"]["responses"]["200"]["content"]["application/json"]["schema"]
    policy = api.schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert set(policy["properties"]) == POLICY_FIELDS and policy.get("required", []) == []
    action = policy["properties"]["actions"]["additionalProperties"]
    if "$ref" in action:
        action = api.schema["components"]["schemas"][action["$ref"].rsplit("/", 1)[1]]
    assert set(action["enum"]) == {"allow", "mask", "shadow", "hold", "block"}


def _reachable(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema within ``schema``, through ``$ref``s, with the name it is known by."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            yield name, components[name]
            yield from _reachable(components[name], components, seen)
        return
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            yield from _reachable(sub, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from _reachable(schema[key], components, seen)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _reachable(sub, components, seen)


def test_request_bodies_say_they_take_no_other_keys(api):
    """Bodies are decoded strictly (an unknown key is 400 ``invalid_body`` at it), so every
    object a body is made of says ``additionalProperties: false``: a client generated from the
    document does not send extra keys it believes are allowed."""
    components = api.schema["components"]["schemas"]
    bodies = [
        (f"{method} {path}", operation["requestBody"]["content"]["application/json"]["schema"])
        for path, operations in api.schema["paths"].items()
        for method, operation in operations.items() if "requestBody" in operation
    ]  # fmt: skip
    assert len(bodies) >= 15
    seen: set[str] = set()
    objects = {name: s for _, body in bodies for name, s in _reachable(body, components, seen) if "properties" in s}
    assert {"SendMessage", "ClientMetadata", "Policy", "PinIn", "EraseIn"} <= set(objects)
    assert {name for name, s in objects.items() if s.get("additionalProperties") is not False} == set()


def test_answers_may_grow(api):
    """An answer gains fields over time (payloads evolve by adding defaulted fields), so an
    answer-only object does not forbid other keys."""
    assert "additionalProperties" not in api.schema["components"]["schemas"]["MessageOut"]


def _parameters(api: Api, name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(operation, parameter)`` of every ``/v1`` operation that takes parameter ``name``."""
    return [
        (f"{method} {path}", p)
        for path, operations in api.schema["paths"].items() if path.startswith("/v1/")
        for method, operation in operations.items()
        for p in operation.get("parameters", []) if p["name"] == name
    ]  # fmt: skip


ROOM_IDS = ["match:1", "team:arsenal.fc~1@x+y-z_", "video:" + "k" * 128, "dashboard:1", "match:1\n", "Match:1",
            "m" * 32 + ":1", "a:1", "zzz:1", "video:" + "k" * 129, "match:a b", "match:", ":1", "match:1:2", "0",
            "1match:1"]  # fmt: skip


def test_a_room_id_parameter_states_the_rule_it_is_checked_by(api):
    """Every ``room_id`` (path, or the admin review queue's query) has the pattern of the room id
    rule, narrowed to the kinds this node serves (another is 400 ``unknown_room_kind``): the
    pattern accepts exactly the ids the service does."""
    from service.domain.rooms import room_kind

    params = _parameters(api, "room_id")
    assert len(params) >= 30
    patterns = {p["schema"].get("pattern") for _, p in params}
    assert len(patterns) == 1 and None not in patterns, patterns
    pattern = re.compile(patterns.pop())
    served = set(api.settings.rooms)
    assert served >= {"match", "team", "video", "dashboard"}
    assert [s for s in ROOM_IDS if bool(pattern.search(s)) != (room_kind(s) in served)] == []


def test_a_user_id_parameter_is_bounded_as_user_ids_are(api):
    params = _parameters(api, "user_id")
    assert len(params) == 3
    assert [op for op, p in params if (p["schema"].get("minLength"), p["schema"].get("maxLength")) != (1, 128)] == []


@pytest.mark.parametrize(
    ("operation", "kinds"),
    [("post /v1/rooms/{room_id}/{kind}", ["mutes", "bans", "shadow-bans"]),
     ("post /v1/admin/rooms/{room_id}/{kind}", ["mutes", "bans", "shadow-bans"]),
     ("delete /v1/rooms/{room_id}/{kind}/{user_id}", ["mutes", "bans"]),
     ("delete /v1/admin/rooms/{room_id}/{kind}/{user_id}", ["mutes", "bans"])],
)  # fmt: skip
def test_a_restriction_kind_is_one_of_the_kinds(api, operation, kinds):
    """A shadow-ban is lifted by lifting the ban, so the lifts name mutes and bans only."""
    assert dict(_parameters(api, "kind"))[operation]["schema"].get("enum") == kinds


def test_the_items_of_a_list_keep_their_constraints(api):
    """A poll option is 1 to 80 characters (``Expected `str` of length >= 1 - at
    `$.options[0]` `` otherwise); the document says so of each item, not only of the list."""
    options = api.schema["components"]["schemas"]["PollIn"]["properties"]["options"]
    assert (options["minItems"], options["maxItems"]) == (2, 10)
    assert options["items"] == {"type": "string", "minLength": 1, "maxLength": 80}



def test_every_operation_names_how_it_authenticates(api: Api) -> None:
    """A client generator or Swagger UI's Authorize button reads it: the user token (HTTP
    bearer, a JWT) on the chat and moderation endpoints, the admin key header on /v1/admin;
    and each operation refuses a request without it (401)."""
    schemes = api.schema["components"]["securitySchemes"]
    assert schemes["userToken"] == {**schemes["userToken"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["adminKey"] == {**schemes["adminKey"], "type": "apiKey", "name": "X-Admin-Key", "in": "header"}
    for path, ops in api.schema["paths"].items():
        for method, op in ops.items():
            if not path.startswith("/v1/"):
                assert "security" not in op, (method, path)
                continue
            expected = "adminKey" if path.startswith("/v1/admin") else "userToken"
            assert op.get("security") == [{expected: []}], (method, path)
            url = re.sub(r"\{[^}]+\}", lambda m: "match:1" if m.group(0) == "{room_id}" else "x", path)
            if method in {"get", "post", "put", "delete"}:
                r = api.client.request(method.upper(), url)
                assert r.status_code == 401, (method, path, r.status_code)


def test_the_reference_page_loads_nothing_from_elsewhere(api: Api) -> None:
    r = api.client.get("/schema")
    assert r.status_code == 200 and "swagger-ui" in r.text
    assert "default-src 'none'; script-src 'self';" in r.headers["content-security-policy"]
    assert not re.findall(r'(?:src|href)="(?!/schema/)', r.text), r.text
    assert "<script>" not in r.text  # only files: the policy refuses inline scripts
    for asset in re.findall(r'(?:src|href)="(/schema/assets/[^"]+)"', r.text):
        assert api.client.get(asset).status_code == 200, asset
    assert api.client.get("/schema/assets/swagger-editor-bundle.js").status_code == 404
    assert api.client.get("/schema/openapi.yaml").status_code == 200
