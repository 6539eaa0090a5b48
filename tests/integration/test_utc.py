"""A node on a machine whose time zone is not UTC still speaks UTC: times read back from its
log are the same as the ones it served when the events were new."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow


def history(node: ServerProcess) -> list[dict]:
    token = node.token("reader", "match:1")
    r = httpx.get(f"{node.url}/v1/rooms/match:1/messages", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["messages"]


@pytest.mark.parametrize("checkpoints", ["true", "false"])
def test_times_read_back_from_the_log_are_utc_on_a_machine_far_from_it(tmp_path: Path, checkpoints: str) -> None:
    env = {"TZ": "Pacific/Kiritimati", "SIDELINE_LOG__CHECKPOINT": checkpoints}  # UTC+14
    node = ServerProcess(tmp_path / "data", env=env).start()
    token = node.token("u1", "match:1")
    r = httpx.post(f"{node.url}/v1/rooms/match:1/messages", headers={"Authorization": f"Bearer {token}"},
                   json={"client_msg_id": "a", "text": "hello"})  # fmt: skip
    assert r.status_code == 201, r.text
    served = history(node)
    assert node.stop() in (0, -15)

    again = ServerProcess(tmp_path / "data", port=node.port, env=env).start()
    try:
        assert history(again) == served  # rebuilt from the log (or from its checkpoint)
        assert served[0]["occurred_at"].endswith("Z"), served[0]
    finally:
        again.stop()
