"""Crowd control in a real server process: across a restart, and against one flooding user."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import httpx

from tests.fixtures.server import ServerProcess


def _slow_mode(api: httpx.Client, node: ServerProcess) -> int:
    h = {"Authorization": f"Bearer {node.token('cat', 'match:1')}"}
    return int(api.get("/v1/rooms/match:1", headers=h).json()["slow_mode_seconds"])


def _wait_for(api: httpx.Client, node: ServerProcess, seconds: int, within: float) -> float:
    """Seconds it took the room's slow mode to read ``seconds``; fails after ``within``."""
    started = time.monotonic()
    while (took := time.monotonic() - started) < within:
        if _slow_mode(api, node) == seconds:
            return took
        time.sleep(0.1)
    raise AssertionError(f"slow mode still {_slow_mode(api, node)} s after {within} s, not {seconds}")


def _switches(node: ServerProcess) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(node.settings().log_path), read_only=True)
    try:
        return con.execute(
            "SELECT json_extract_string(payload, '$.slow_mode_seconds'), "
            "json_extract_string(payload, '$.cause') FROM events "
            "WHERE event_type = 'room_mode_changed' ORDER BY seq"
        ).fetchall()
    finally:
        con.close()


def test_a_restarted_process_undoes_the_slow_mode_it_set_before(tmp_path: Path):
    """Crowd control set slow mode 5, the process restarted, and the room stayed in slow mode
    for good: the new process did not know it had made the change. It rebuilds what it owns
    from the log, and restores the room once calm."""
    env = {
        "SIDELINE_MODERATION__ENABLED": "false",
        "SIDELINE_CROWD_CONTROL__WINDOW_SECONDS": "2",
        "SIDELINE_CROWD_CONTROL__SLOW_MODE_RATE": "3",
        "SIDELINE_CROWD_CONTROL__CALM_SECONDS": "4",
    }
    node = ServerProcess(tmp_path / "data", env=env).start()
    try:
        with httpx.Client(base_url=node.url, timeout=10) as api:
            for i in range(20):  # 20 people in well under 2 s: 10 messages/s
                h = {"Authorization": f"Bearer {node.token(f'u{i}', 'match:1')}"}
                r = api.post("/v1/rooms/match:1/messages", headers=h, json={"client_msg_id": "c", "text": "GOAL"})
                assert r.status_code == 201, r.text
            _wait_for(api, node, 5, within=3)
            node.stop()  # before the room calms (2 s of window, then 4 s of calm)
            assert _switches(node) == [("5", "crowd_control")]
            node.start()
            took = _wait_for(api, node, 0, within=15)
            assert took >= 2, f"restored {took:.1f} s after the start, before calm_seconds"
        node.stop()
        assert _switches(node) == [("5", "crowd_control"), ("0", "crowd_control")]
    finally:
        node.stop()


def test_one_rate_limited_user_does_not_put_the_room_in_slow_mode(tmp_path: Path):
    """One user sent 25 messages in about 2 s (5 accepted, 20 refused 429): the room went to
    5 s slow mode for everyone for ~40 s. The refused attempts are no messages the room saw,
    and a refusal for speed is no risk."""
    node = ServerProcess(tmp_path / "data").start()  # moderation and crowd control as shipped
    try:
        with httpx.Client(base_url=node.url, timeout=10) as api:
            h = {"Authorization": f"Bearer {node.token('flood', 'match:1')}"}
            codes = [
                api.post("/v1/rooms/match:1/messages", headers=h,
                         json={"client_msg_id": f"c{i}", "text": f"come on you reds {i}"}).status_code
                for i in range(25)
            ]  # fmt: skip
            assert codes.count(201) == 5 and codes.count(429) == 20, codes
            time.sleep(2.5)  # two ticks and more
            assert _slow_mode(api, node) == 0
        node.stop()
        assert _switches(node) == []
    finally:
        node.stop()
