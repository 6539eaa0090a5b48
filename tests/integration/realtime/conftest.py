"""Servers for the real-time tests: a real ``sideline serve`` process per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.server import ServerProcess
from tests.fixtures.tcp_proxy import TcpProxy, tcp_proxy

RT_ENV = {
    "SIDELINE_MODERATION__ENABLED": "false",
    # crowd control would switch a busy test room to slow mode; it has its own tests
    "SIDELINE_CROWD_CONTROL__ENABLED": "false",
    "SIDELINE_REALTIME__PRESENCE_INTERVAL_SECONDS": "0.2",
}


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with extra env; every one is stopped at the end of the test."""
    started: list[ServerProcess] = []

    def start(node_id: str = "node-1", data: str = "data", **env: str) -> ServerProcess:
        proc = ServerProcess(tmp_path / data, node_id=node_id, env={**RT_ENV, **env}).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


@pytest.fixture
def rt_server(start_server: Callable[..., ServerProcess]) -> ServerProcess:
    return start_server()


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy to the test's Redis (point a node at it with ``tcp_proxy.proxied``): silence
    its connections or stop it to cut the node off."""
    parts = urlsplit(redis_url)
    with tcp_proxy(parts.hostname or "127.0.0.1", parts.port or 6379) as p:
        yield p
