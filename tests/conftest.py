"""Shared test configuration.

``SIDELINE_REQUIRE_ALL=1`` (set by CI) turns every "tool missing" skip into a failure, so a
green CI run proves that every test really ran.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.redis import own_redis, redis_url  # noqa: F401  (fixtures)
from tests.fixtures.server import ServerProcess

REQUIRE_ALL = os.environ.get("SIDELINE_REQUIRE_ALL") == "1"
SERVER_ENV: dict[str, str] = {}
"""Extra environment for the `server` fixture (real moderation, crowd control and all)."""


def require_tool(name: str, why: str = "") -> str:
    """Path of an executable, or skip (fail under SIDELINE_REQUIRE_ALL=1) when it is missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        message = f"{name} is not installed{': ' + why if why else ''}"
        if REQUIRE_ALL:
            pytest.fail(f"SIDELINE_REQUIRE_ALL=1 but {message}")
        pytest.skip(message)
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A real uvicorn process of the service on a free port, moderation on, memory broker."""
    proc = ServerProcess(tmp_path / "data", env=SERVER_ENV).start()
    try:
        yield proc
    finally:
        proc.stop()
        proc.kill()
