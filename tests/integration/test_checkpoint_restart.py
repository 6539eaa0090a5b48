"""A real node stopped cleanly starts from its state checkpoint; killed, from the checkpoint
and the events after it; and serves the same either way."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import ServerProcess

pytestmark = pytest.mark.slow

ENV = {"SIDELINE_CROWD_CONTROL__ENABLED": "false", "SIDELINE_MODERATION__RATE__BURST_MAX": "1000"}


def send(node: ServerProcess, user: str, cid: str, text: str) -> str:
    r = httpx.post(f"{node.url}/v1/rooms/match:1/messages", headers=auth(node, user),
                   json={"client_msg_id": cid, "text": text})  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def auth(node: ServerProcess, user: str, role: str = "user") -> dict[str, str]:
    return {"Authorization": f"Bearer {node.token(user, 'match:1', role=role)}"}


def started(node: ServerProcess) -> str:
    """What the start's log line says the projections were rebuilt from."""
    lines = re.findall(r"projections rebuilt to seq \d+ in [\d.]+s from (.*)", node.output())
    return lines[-1]


def history(node: ServerProcess) -> list[str]:
    r = httpx.get(f"{node.url}/v1/rooms/match:1/messages", params={"limit": 100}, headers=auth(node, "reader"))
    assert r.status_code == 200, r.text
    return [m["message_id"] for m in r.json()["messages"]]


def test_a_node_starts_from_its_checkpoint_and_the_events_after_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    node = ServerProcess(data, env=ENV).start()
    sent = [send(node, f"u{i % 3}", f"a{i}", f"before the stop {i}") for i in range(30)]
    r = httpx.post(f"{node.url}/v1/rooms/match:1/bans", headers=auth(node, "mod", "moderator"),
                   json={"user_id": "u9"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    assert node.stop() in (0, -15)
    written = re.findall(r"state checkpoint written at seq (\d+) \(", node.output())
    assert written, node.output()[-3000:]
    at = int(written[-1])
    assert oct((data / "log-node-1.checkpoint").stat().st_mode & 0o777) == "0o600"

    again = ServerProcess(data, port=node.port, env=ENV).start()
    assert started(again) == f"the checkpoint at seq {at} and the 0 events after it"
    assert history(again) == sent
    sent += [send(again, f"u{i % 3}", f"b{i}", f"after the stop {i}") for i in range(20)]
    again.kill()  # no clean stop: no new checkpoint

    third = ServerProcess(data, port=node.port, env=ENV).start()
    said = started(third)
    assert said.startswith(f"the checkpoint at seq {at} and the ") and said.endswith(" events after it")
    assert int(said.split()[-4]) >= 20
    assert history(third) == sent
    # what the checkpoint carried holds: the ban, and a retry of a send from before it
    r = httpx.post(f"{third.url}/v1/rooms/match:1/messages", headers=auth(third, "u9"),
                   json={"client_msg_id": "z", "text": "let me in"})  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["code"] == "user_banned"
    assert send(third, "u0", "a0", "before the stop 0") == sent[0]
    assert third.stop() in (0, -15)


def test_checkpoints_can_be_turned_off(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**ENV, "SIDELINE_LOG__CHECKPOINT": "false"}
    node = ServerProcess(data, env=env).start()
    send(node, "u1", "a", "hello")
    assert node.stop() in (0, -15)
    assert not (data / "log-node-1.checkpoint").exists()
    again = ServerProcess(data, port=node.port, env=env).start()
    assert started(again) == "the whole log"
    assert again.stop() in (0, -15)


def test_a_running_node_writes_checkpoints_so_a_kill_folds_only_what_came_after(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**ENV, "SIDELINE_LOG__CHECKPOINT_EVERY_EVENTS": "25"}
    node = ServerProcess(data, env=env).start()
    sent = [send(node, f"u{i % 3}", f"a{i}", f"running {i}") for i in range(40)]
    written = wait_for_running_checkpoint(node)
    assert written >= 25
    metrics = httpx.get(f"{node.url}/metrics").text
    assert f"sideline_state_checkpoint_seq {float(written)}" in metrics
    assert "sideline_state_checkpoints_written_total 1.0" in metrics
    node.kill()  # no clean stop: the newest checkpoint is the one written while running

    again = ServerProcess(data, port=node.port, env=env).start()
    said = started(again)
    assert said.startswith(f"the checkpoint at seq {written} and the "), said
    assert 0 < int(said.split()[-4]) < 25, "one checkpoint was due: 40 events, one every 25"
    assert history(again) == sent
    assert again.stop() in (0, -15)


def wait_for_running_checkpoint(node: ServerProcess) -> int:
    """The seq of the newest checkpoint the running node's child wrote."""
    for _ in range(300):
        found = re.findall(r"state checkpoint written at seq (\d+) \(.*paused \d+ ms to fork", node.output())
        if found:
            return int(found[-1])
        time.sleep(0.05)
    raise AssertionError(node.output()[-3000:])
