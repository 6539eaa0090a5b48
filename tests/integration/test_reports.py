"""Reports and the review queue through a real server: the hiding threshold is a setting, and
the queue shows a moderator what was reported."""

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


def test_the_review_queue_shows_a_reported_messages_text_and_when_it_was_first_reported(tmp_path: Path):
    """A moderator decides on what they can read: a reported message's text (hidden by the
    reports or still shown) and since when it waits, as a held message's; oldest first."""
    node = ServerProcess(tmp_path / "data").start()
    try:
        def auth(user: str, role: str = "user") -> dict[str, str]:
            return {"Authorization": f"Bearer {node.token(user, 'match:1', role=role)}"}

        with httpx.Client(base_url=node.url, timeout=10) as api:
            mids = []
            for i, text in enumerate(["a first hot take", "a second hot take"]):
                sent = api.post("/v1/rooms/match:1/messages", headers=auth("ann"),
                                json={"client_msg_id": f"c{i}", "text": text})  # fmt: skip
                mids.append(sent.json()["message_id"])
            hidden, shown = mids
            for reporter in ("r1", "r2", "r3"):  # the third hides it
                assert api.post(f"/v1/rooms/match:1/messages/{hidden}/reports", headers=auth(reporter),
                                json={"reason": "abuse"}).status_code == 201  # fmt: skip
            assert api.post(f"/v1/rooms/match:1/messages/{shown}/reports", headers=auth("r1"),
                            json={"reason": "abuse"}).status_code == 201  # fmt: skip
            queue = api.get("/v1/rooms/match:1/review-queue", headers=auth("mia", "moderator")).json()
            assert [(q["message_id"], q["text"], q["reports"]) for q in queue] == [
                (hidden, "a first hot take", 3), (shown, "a second hot take", 1),
            ]
            assert all(q["since"] is not None for q in queue), queue
            assert queue[0]["since"] <= queue[1]["since"]
            node.stop()
            node.start()  # the queue is a projection of the log
            again = api.get("/v1/rooms/match:1/review-queue", headers=auth("mia", "moderator")).json()
            assert again == queue
    finally:
        node.stop()


def test_an_author_cannot_report_their_own_message(tmp_path: Path):
    """The author's report would have been the third and hidden it: it is refused (409, nothing
    written), so only readers' reports count toward the threshold."""
    node = ServerProcess(tmp_path / "data").start()
    try:
        def auth(user: str, role: str = "user") -> dict[str, str]:
            return {"Authorization": f"Bearer {node.token(user, 'match:1', role=role)}"}

        with httpx.Client(base_url=node.url, timeout=10) as api:
            sent = api.post("/v1/rooms/match:1/messages", headers=auth("u6"),
                            json={"client_msg_id": "c1", "text": "a borderline take"})  # fmt: skip
            mid = sent.json()["message_id"]
            for reporter in ("r1", "r2"):
                assert api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth(reporter),
                                json={"reason": "abuse"}).status_code == 201  # fmt: skip
            own = api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth("u6"),
                           json={"reason": "abuse"})  # fmt: skip
            assert own.status_code == 409, own.text
            assert own.json()["error"] == {
                "code": "conflict", "message": "you cannot report your own message",
                "at": "$.message_id",
            }
            shown = api.get("/v1/rooms/match:1/messages", headers=auth("cat")).json()["messages"]
            assert [m["message_id"] for m in shown] == [mid]  # still shown: two reports of three
            queue = api.get("/v1/rooms/match:1/review-queue", headers=auth("mia", "moderator")).json()
            assert [(q["message_id"], q["reports"]) for q in queue] == [(mid, 2)]
            assert api.post(f"/v1/rooms/match:1/messages/{mid}/reports", headers=auth("r3"),
                            json={"reason": "abuse"}).status_code == 201  # fmt: skip
            assert api.get("/v1/rooms/match:1/messages", headers=auth("cat")).json()["messages"] == []
    finally:
        node.stop()
