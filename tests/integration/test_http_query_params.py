"""Every ``/v1`` endpoint refuses a query parameter it does not read (``?beforeseq=5`` for
``?before_seq=5``) instead of answering as if it had not been sent, and one it reads once given
twice (``?before_seq=5&before_seq=6``) instead of reading the last. The known names are the
ones Litestar reads for the route, so the check cannot drift from the handlers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from litestar.testing import TestClient

from service.api.errors import handle_sideline_error
from service.api.query import known_query_only
from service.app import create_app
from service.errors import SidelineError
from service.identity import mint_token
from service.settings import Settings, ensure_dev_secrets, load_settings
from tests.fixtures.server import ServerProcess


class Api:
    def __init__(self, client: TestClient[Any], settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.schema: dict[str, Any] = client.get("/schema/openapi.json").json()

    def headers(self, path: str, role: str = "moderator") -> dict[str, str]:
        if path.startswith("/v1/admin/"):
            return {"X-Admin-Key": self.settings.admin.api_key}
        token = mint_token(self.settings.auth.hs256_secret, user_id="u1", context_id="match:1", role=role)
        return {"Authorization": f"Bearer {token}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers(url, "user"))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    data: Path = tmp_path_factory.mktemp("query")
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(data), "SIDELINE_MODERATION__ENABLED": "false",
                               "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false"})  # fmt: skip
    ensure_dev_secrets(s)
    with TestClient(create_app(s)) as client:
        yield Api(client, s)


def refused(r, at: str, message: str) -> None:
    """``r`` is a 400 ``invalid_body`` naming ``at``, with ``message``."""
    assert r.status_code == 400
    assert r.json()["error"] == {"code": "invalid_body", "at": at, "message": message}


def test_a_misspelt_parameter_is_refused_naming_it(api):
    r = api.get("/v1/rooms/match:1/messages?beforeseq=5")
    refused(r, "$.beforeseq",
            "unknown query parameter `beforeseq` (this endpoint takes `before`, `before_seq`, "
            "`limit`) - at `$.beforeseq`")
    assert api.get("/v1/rooms/match:1/messages?before_seq=5&limit=3").status_code == 200


def test_parameters_are_known_by_the_name_sent(api):
    admin = {"X-Admin-Key": api.settings.admin.api_key}
    assert api.client.delete("/v1/admin/rooms/match:1/bans/u9?scope=global", headers=admin).json() == {"lifted": False}
    r = api.client.delete("/v1/admin/rooms/match:1/bans/u9?lift_scope=global", headers=admin)
    assert r.status_code == 400 and r.json()["error"]["message"] == (
        "unknown query parameter `lift_scope` (this endpoint takes `reason`, `scope`) - at `$.lift_scope`"
    )
    assert api.client.get("/v1/admin/review-queue?room_id=match:1", headers=admin).status_code == 200


def test_an_endpoint_without_parameters_takes_none_and_odd_names_are_quoted(api):
    r = api.get("/v1/me/rooms?a%20b=1")
    refused(r, "$['a b']",
            "unknown query parameter `a b` (this endpoint takes none) - at `$['a b']`")


def test_a_repeated_parameter_is_refused_naming_it(api):
    """Litestar reads a repeated scalar parameter as its last value, so ``?before_seq=5&
    before_seq=6`` answered the page before 6 as if 5 had not been sent."""
    r = api.get("/v1/rooms/match:1/messages?limit=3&before_seq=5&before_seq=6")
    refused(r, "$.before_seq",
            "query parameter `before_seq` is given 2 times (this endpoint reads one value) "
            "- at `$.before_seq`")
    assert api.get("/v1/rooms/match:1/messages?limit=3&before_seq=5").status_code == 200


def test_a_parameter_the_handler_takes_as_a_list_may_repeat():
    """The guard on a route of the real framework whose handler declares a list: its values
    are all read, so giving it more than once is no mistake; its scalar one still is."""

    @get("/tags", guards=[known_query_only], sync_to_thread=False)
    def tags(tag: list[str], limit: int = 5) -> dict[str, Any]:
        return {"tag": tag, "limit": limit}

    app = Litestar([tags], exception_handlers={SidelineError: handle_sideline_error})
    with TestClient(app) as client:
        assert client.get("/tags?tag=a&limit=1&tag=b").json() == {"tag": ["a", "b"], "limit": 1}
        r = client.get("/tags?tag=a&limit=1&limit=2")
        assert r.status_code == 400 and r.json()["error"]["at"] == "$.limit"


def test_a_repeated_reason_deletes_nothing_through_the_server(server: ServerProcess):
    """Through uvicorn: a delete given two reasons is refused before anything is written."""
    mod = {"Authorization": f"Bearer {server.token('m1', 'match:1', 'moderator')}"}
    user = {"Authorization": f"Bearer {server.token('u1', 'match:1')}"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        sent = client.post("/v1/rooms/match:1/messages", headers=user, json={"client_msg_id": "c1", "text": "hi"})
        item = f"/v1/rooms/match:1/messages/{sent.json()['message_id']}"
        r = client.delete(f"{item}?reason=spam&reason=doxxing", headers=mod)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == {
            "code": "invalid_body", "at": "$.reason",
            "message": "query parameter `reason` is given 2 times (this endpoint reads one value) "
            "- at `$.reason`",
        }  # fmt: skip
        shown = client.get("/v1/rooms/match:1/messages", headers=user).json()["messages"]
        assert [m["text"] for m in shown] == ["hi"]
        assert client.delete(f"{item}?reason=spam", headers=mod).status_code == 200


def test_admin_calls_check_the_key_first(api):
    r = api.client.get("/v1/admin/review-queue?bogus=1")
    assert r.status_code == 401 and r.json()["error"]["code"] == "admin_key_invalid"


def operations(api: Api) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, ops in api.schema["paths"].items() if path.startswith("/v1/")
        for method in ops if method in ("get", "post", "put", "patch", "delete")
    ]  # fmt: skip


def test_every_v1_operation_refuses_an_unknown_parameter_and_documents_it(api):
    ops = operations(api)
    assert len(ops) > 35
    for method, template in ops:
        url = re.sub(r"\{[^}]+\}", lambda m: "match:1" if m.group(0) == "{room_id}" else "x", template)
        r = api.client.request(method, f"{url}?bogus=1", headers=api.headers(url))
        assert r.status_code == 400, (method, template, r.text)
        assert (r.json()["error"]["code"], r.json()["error"]["at"]) == ("invalid_body", "$.bogus")
        documented = api.schema["paths"][template][method]["responses"]
        assert "`invalid_body`" in documented["400"]["description"], (method, template)


def test_every_v1_operation_refuses_a_repeated_parameter(api):
    repeated = 0
    for method, template in operations(api):
        url = re.sub(r"\{[^}]+\}", lambda m: "match:1" if m.group(0) == "{room_id}" else "x", template)
        params = api.schema["paths"][template][method].get("parameters", [])
        for name in [p["name"] for p in params if p["in"] == "query"]:
            r = api.client.request(method, f"{url}?{name}=1&{name}=2", headers=api.headers(url))
            assert r.status_code == 400, (method, template, name, r.text)
            assert (r.json()["error"]["code"], r.json()["error"]["at"]) == ("invalid_body", f"$.{name}")
            repeated += 1
    assert repeated >= 7  # before_seq, limit, reason (2), scope, room_id, limit


def test_the_names_a_route_takes_are_worked_out_once(api, monkeypatch):
    from service.api import query

    monkeypatch.setattr(query, "_KNOWN", {})
    for _ in range(3):
        assert api.get("/v1/rooms/match:1/messages?limit=3").status_code == 200
    assert list(query._KNOWN.values()) == [query.Taken(("before", "before_seq", "limit"), frozenset(), frozenset({"before_seq", "limit"}))]  # one entry, kept
