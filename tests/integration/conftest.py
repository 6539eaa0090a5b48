"""The in-process app on a real DuckDB log, for the integration tests of the actions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from service.actions.context import Community
from service.app import build_community, create_app
from service.settings import Settings, ensure_dev_secrets, load_settings

Api = tuple[Settings, Community, TestClient[Any]]


@pytest.fixture
def start(tmp_path) -> Iterator[Callable[..., Api]]:
    """Start the app with extra settings env; returns its settings, community and a client.

    Starting again stops the running app first (a restart): one process owns the DuckDB file.
    """
    clients: list[TestClient[Any]] = []

    def start_app(**env: str) -> Api:
        while clients:
            clients.pop().__exit__(None, None, None)
        s = load_settings(environ={
            "SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false",
            "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false", **env,
        })  # fmt: skip
        ensure_dev_secrets(s)
        community = build_community(s)
        client = TestClient(create_app(s, community=community)).__enter__()
        clients.append(client)
        return s, community, client

    yield start_app
    for client in clients:
        client.__exit__(None, None, None)
