"""HTTP semantics a generic client relies on, through a real ``sideline serve`` process: the
``Allow`` header of a 405 and the media type of ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import ServerProcess


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data: Path = tmp_path_factory.mktemp("semantics")
    proc = ServerProcess(data, env={"SIDELINE_MODERATION__ENABLED": "false"}).start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.kill()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/health", {"GET", "OPTIONS"}),
        ("POST", "/metrics", {"GET", "OPTIONS"}),
        ("TRACE", "/v1/rooms/match:1", {"GET", "OPTIONS"}),
        ("PUT", "/v1/rooms/match:1/messages", {"GET", "POST", "OPTIONS"}),
        ("DELETE", "/v1/admin/rooms/match:1", {"GET", "PUT", "OPTIONS"}),
        ("POST", "/embed/static/panel.js", {"GET", "HEAD", "OPTIONS"}),
    ],
)  # fmt: skip
def test_a_method_the_route_lacks_is_405_with_allow(node, method, path, allowed):
    """RFC 9110 §15.5.6: a 405 carries ``Allow`` with the methods the resource has."""
    r = httpx.request(method, node.url + path, headers={"X-Admin-Key": node.admin_key()})
    assert r.status_code == 405, r.text
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed
    assert r.headers["allow"] == ", ".join(sorted(allowed))  # as OPTIONS lists them
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert method in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/health", {"GET", "OPTIONS"}),
        ("/v1/rooms/match:1/messages", {"GET", "POST", "OPTIONS"}),
        ("/v1/admin/rooms/match:1", {"GET", "PUT", "OPTIONS"}),
        ("/v1/admin/moderation/policies/match", {"GET", "PUT", "OPTIONS"}),
        ("/dashboards/login", {"GET", "POST", "OPTIONS"}),
    ],
)  # fmt: skip
def test_options_lists_every_method_of_the_path(node, path, allowed):
    """Also where two handlers share the path (GET and PUT of a room), whose methods are
    answered one by one."""
    admin = {"X-Admin-Key": node.admin_key()}
    r = httpx.options(node.url + path, headers=admin)
    assert r.status_code == 204, r.text
    assert r.headers["allow"] == ", ".join(sorted(allowed))
    for method in allowed - {"OPTIONS"}:
        assert httpx.request(method, node.url + path, headers=admin).status_code != 405, method


def test_metrics_are_prometheus_text_as_documented(node):
    """Served with Prometheus' own content type, its charset named once, and documented as
    text in the OpenAPI document (not JSON)."""
    r = httpx.get(node.url + "/metrics")
    assert r.status_code == 200
    assert r.headers.get_list("content-type") == ["text/plain; version=1.0.0; charset=utf-8"]
    assert "# TYPE sideline_http_requests_total counter" in r.text
    schema = httpx.get(node.url + "/schema/openapi.json").json()
    documented = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(documented) == ["text/plain"]
