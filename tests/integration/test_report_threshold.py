"""The number of distinct reporters that hides a message is a setting, through a real server."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.server import ServerProcess


def test_a_message_is_hidden_at_the_configured_number_of_reporters(tmp_path: Path):
    node = ServerProcess(tmp_path / "data", env={"SIDELINE_MODERATION__REPORT_HIDE_THRESHOLD": "2"}).start()
    try:
        def auth(user: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {node.token(user, 'match:1')}"}

        with httpx.Client(base_url=node.url, timeout=10) as api:
            sent = api.post("/v1/rooms/match:1/messages", headers=auth("ann"),
                            json={"client_msg_id": "c1", "text": "a borderline take"})  # fmt: skip
            mid = sent.json()["message_id"]
            first = api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth("r1"), json={"reason": "abuse"})
            assert first.status_code == 201, first.text
            shown = api.get("/v1/rooms/match:1/messages", headers=auth("cat")).json()["messages"]
            assert [m["message_id"] for m in shown] == [mid]
            second = api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth("r2"), json={"reason": "abuse"})
            assert second.status_code == 201, second.text
            assert api.get("/v1/rooms/match:1/messages", headers=auth("cat")).json()["messages"] == []
    finally:
        node.stop()
