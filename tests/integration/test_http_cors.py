"""CORS: a preflight from an origin ``server.allowed_origins`` does not list is refused with the
service's error body (403 ``origin_not_allowed``, as the WebSocket handshake refuses an origin),
not Litestar's ``400 text/plain``; allowed preflights and simple requests keep their headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from service.app import create_app
from service.identity import mint_token
from service.settings import Settings, ensure_dev_secrets, load_settings

ALLOWED = "https://app.example"
EVIL = "https://evil.example"
MESSAGES = "/v1/rooms/match:1/messages"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient[Any], Settings]]:
    data: Path = tmp_path_factory.mktemp("cors")
    s = load_settings(environ={
        "SIDELINE_DATA_DIR": str(data), "SIDELINE_MODERATION__ENABLED": "false",
        "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false", "SIDELINE_SERVER__ALLOWED_ORIGINS": f'["{ALLOWED}"]',
    })  # fmt: skip
    ensure_dev_secrets(s)
    with TestClient(create_app(s)) as client:
        yield client, s


def preflight(client: TestClient[Any], path: str, origin: str) -> Any:
    return client.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })  # fmt: skip


@pytest.mark.parametrize("path", [MESSAGES, "/v1/admin/rooms/match:1", "/health", "/no/such/path"])
def test_a_preflight_from_a_disallowed_origin_is_the_error_body(api, path):
    client, _ = api
    r = preflight(client, path, EVIL)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": {
        "code": "origin_not_allowed",
        "message": "origin 'https://evil.example' may not call this API from a browser: "
                   "it is not in server.allowed_origins",
        "at": "Origin",
    }}  # fmt: skip
    assert "access-control-allow-origin" not in r.headers


def test_an_origin_near_an_allowed_one_is_refused_too(api):
    """Another port, another scheme, a longer host: origins compare whole."""
    client, _ = api
    for origin in ("https://app.example:8443", "http://app.example", "https://app.example.evil"):
        r = preflight(client, MESSAGES, origin)
        assert r.status_code == 403, (origin, r.text)
        assert r.json()["error"]["code"] == "origin_not_allowed"
        assert repr(origin) in r.json()["error"]["message"]


def test_an_allowed_preflight_is_unchanged(api):
    client, _ = api
    r = preflight(client, MESSAGES, ALLOWED)
    assert r.status_code == 204, r.text
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()


def test_simple_requests_and_plain_options_are_unchanged(api):
    """A request that is no preflight is answered as before, with Litestar's CORS headers."""
    client, s = api
    token = mint_token(s.auth.hs256_secret, user_id="u1", context_id="match:1", role="user")
    got = client.get(MESSAGES, headers={"Origin": ALLOWED, "Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    assert got.headers["access-control-allow-origin"] == ALLOWED
    other = client.get(MESSAGES, headers={"Origin": EVIL, "Authorization": f"Bearer {token}"})
    assert other.status_code == 200, other.text  # the browser, not the server, withholds it
    assert "access-control-allow-origin" not in other.headers
    plain = client.options(MESSAGES)  # no Origin: the path's methods
    assert plain.status_code == 204, plain.text
    assert plain.headers["allow"] == "GET, OPTIONS, POST"
