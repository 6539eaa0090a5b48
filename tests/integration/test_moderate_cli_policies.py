"""``sideline moderate`` tests the policy the service applies: a change made through the admin
API is read from the running service while it holds the log, and from the log once it stops."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def moderate(node: ServerProcess, text: str, *args: str) -> tuple[int, list[dict[str, object]], str]:
    env = {**node.environ(), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "moderate", *args],
        input=json.dumps({"id": 1, "text": text}).encode() + b"\n",
        capture_output=True, env=env, cwd=node.data_dir, timeout=120,
    )  # fmt: skip
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return proc.returncode, lines, proc.stderr.decode()


def test_the_dry_run_applies_a_policy_changed_through_the_admin_api(tmp_path: Path):
    """The live server blocked "you scab" after a PUT set blocklist ["scab"]; the dry run read
    the configuration only and allowed it."""
    node = ServerProcess(tmp_path / "data").start()
    try:
        admin = {"X-Admin-Key": node.admin_key()}
        with httpx.Client(base_url=node.url, timeout=10) as api:
            policy = api.get("/v1/admin/moderation/policies/match", headers=admin).json()
            policy["blocklist"] = ["scab"]
            assert api.put("/v1/admin/moderation/policies/match", headers=admin, json=policy).status_code == 200
            h = {"Authorization": f"Bearer {node.token('ann', 'match:1')}"}
            live = api.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "c", "text": "you scab"})
            assert live.status_code == 422, live.text

        code, lines, stderr = moderate(node, "you scab", "--policy", "match")  # the service holds the log
        assert code == 0, stderr
        assert [x["action"] for x in lines] == ["block"]
        assert f"policy 'match' for room kind 'match' as the running service applies it (read from {node.url}" in stderr

        node.stop()
        code, lines, stderr = moderate(node, "you scab", "--policy", "match")
        assert code == 0, stderr
        assert [x["action"] for x in lines] == ["block"]
        assert "policy 'match' for room kind 'match' as changed through the admin API at " in stderr
        assert f"(read from {node.settings().log_path})" in stderr

        code, lines, stderr = moderate(node, "you scab", "--policy", "match", "--configured-only")
        assert code == 0, stderr
        assert [x["action"] for x in lines] == ["allow"]
        assert "from the configuration only (--configured-only" in stderr

        code, lines, stderr = moderate(node, "you scab", "--policy", "nope")
        assert (code, lines) == (2, [])
        assert "--policy 'nope' is neither a room kind" in stderr
    finally:
        node.stop()


def test_a_held_log_with_no_service_answering_is_a_configuration_error(tmp_path: Path):
    """When the log is held and the admin API does not answer, the dry run cannot tell the
    service's policy: it says so (exit 2) rather than test the configured one."""
    node = ServerProcess(tmp_path / "data").start()
    try:
        code, lines, stderr = moderate(node, "you scab", "--policy", "match", "--url", "http://127.0.0.1:9")
        assert (code, lines) == (2, [])
        assert "is held by another process (the service?) and no service answered at http://127.0.0.1:9" in stderr
        assert "--configured-only" in stderr
    finally:
        node.stop()
