"""Moderator actions through a real server: who acted, and why, is on every event (lifts
included), and a room moderator cannot restrict a fellow moderator; the admin API can."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import httpx

from tests.fixtures.server import ServerProcess

ROOM = "/v1/rooms/match:1"
ADMIN_ROOM = "/v1/admin/rooms/match:1"


def test_moderators_cannot_restrict_fellow_moderators_but_the_admin_api_can(tmp_path: Path):
    """Any moderator could ban another. A moderator by token (known from the role their
    message was sent with) and one granted through the admin API are both refused (403
    role_too_low at $.user_id, nothing written), a lift of the admin's ban of one too."""
    node = ServerProcess(tmp_path / "data", env={"SIDELINE_MODERATION__ENABLED": "false"}).start()
    try:
        def auth(user: str, role: str = "user") -> dict[str, str]:
            return {"Authorization": f"Bearer {node.token(user, 'match:1', role=role)}"}

        admin = {"X-Admin-Key": node.admin_key()}
        mia = auth("mia", "moderator")
        with httpx.Client(base_url=node.url, timeout=10) as api:
            assert api.post(f"{ROOM}/messages", headers=auth("max", "moderator"),
                            json={"client_msg_id": "c1", "text": "keep it civil"}).status_code == 201  # fmt: skip
            assert api.post(f"{ADMIN_ROOM}/roles", headers=admin,
                            json={"user_id": "gus", "role": "moderator"}).status_code == 200  # fmt: skip
            for peer in ("max", "gus"):
                for kind in ("mutes", "bans", "shadow-bans"):
                    r = api.post(f"{ROOM}/{kind}", headers=mia, json={"user_id": peer, "reason": "power grab"})
                    assert r.status_code == 403, r.text
                    assert r.json()["error"]["code"] == "role_too_low"
                    assert r.json()["error"]["at"] == "$.user_id"
                    assert "cannot restrict a fellow moderator (the admin API can)" in r.json()["error"]["message"]
            assert api.post(f"{ADMIN_ROOM}/bans", headers=admin, json={"user_id": "max"}).status_code == 201
            r = api.delete(f"{ROOM}/bans/max", headers=mia)
            assert r.status_code == 403 and r.json()["error"]["code"] == "role_too_low", r.text
            assert api.post(f"{ROOM}/bans", headers=mia, json={"user_id": "ann"}).status_code == 201  # a user: yes
            assert api.delete(f"{ADMIN_ROOM}/bans/max", headers=admin).json() == {"lifted": True}
        rows = _events(node, "user_banned", "user_unbanned", "user_muted", "user_shadow_banned")
        assert [(t, u, a) for t, u, a, _ in rows] == [
            ("user_banned", "max", "system:admin"), ("user_banned", "ann", "mia"),
            ("user_unbanned", "max", "system:admin"),
        ]
    finally:
        node.stop()


def test_lifts_carry_their_reason_and_pins_and_mode_changes_name_the_moderator_as_actor(tmp_path: Path):
    """Unmute and unban events had no reason; pins and mode changes put the moderator in
    user_id with actor_id empty, unlike mutes and bans."""
    node = ServerProcess(tmp_path / "data", env={"SIDELINE_MODERATION__ENABLED": "false"}).start()
    try:
        def auth(user: str, role: str = "user") -> dict[str, str]:
            return {"Authorization": f"Bearer {node.token(user, 'match:1', role=role)}"}

        mia = auth("mia", "moderator")
        admin = {"X-Admin-Key": node.admin_key()}
        with httpx.Client(base_url=node.url, timeout=10) as api:
            mid = api.post(f"{ROOM}/messages", headers=auth("ann"),
                           json={"client_msg_id": "c1", "text": "what a goal"}).json()["message_id"]  # fmt: skip
            for kind in ("mutes", "bans"):
                assert api.post(f"{ROOM}/{kind}", headers=mia, json={"user_id": "bob", "reason": "spam"}).status_code == 201
            assert api.delete(f"{ROOM}/mutes/bob?reason=  appealed in time  ", headers=mia).json() == {"lifted": True}
            assert api.delete(f"{ADMIN_ROOM}/bans/bob", headers=admin, params={"reason": "host support"}).json() == {"lifted": True}
            too_long = api.delete(f"{ROOM}/mutes/bob", headers=mia, params={"reason": "x" * 201})
            assert too_long.status_code == 400 and too_long.json()["error"]["at"] == "$.reason", too_long.text
            assert api.post(f"{ROOM}/pin", headers=mia, json={"message_id": mid}).status_code == 200
            assert api.patch(f"{ROOM}/settings", headers=mia, json={"slow_mode_seconds": 10}).status_code == 200
            assert api.put(ADMIN_ROOM, headers=admin, json={"slow_mode_seconds": 0}).status_code == 200
        lifts = _events(node, "user_unmuted", "user_unbanned")
        assert [(t, u, a, p["reason"]) for t, u, a, p in lifts] == [
            ("user_unmuted", "bob", "mia", "appealed in time"),
            ("user_unbanned", "bob", "system:admin", "host support"),
        ]
        pins = _events(node, "community_message_pinned")
        assert [(u, a) for _, u, a, _ in pins] == [("ann", "mia")]  # the message's author, who pinned it
        modes = _events(node, "room_mode_changed")
        assert [(u, a, p["cause"]) for _, u, a, p in modes] == [
            ("mia", "mia", "moderator"), ("system:admin", "system:admin", "admin"),
        ]
    finally:
        node.stop()


def test_a_moderator_cannot_lift_their_own_mute_or_shadow_ban(tmp_path: Path):
    """The admin API mutes and shadow-bans a moderator by token who has not posted in the room
    (so not known as a fellow moderator). Restricting oneself was refused, lifting one's own
    restriction was not: ``DELETE .../mutes/<self>`` and ``.../bans/<self>`` (which lifts a
    shadow-ban too) answered ``{"lifted": true}`` and undid the admin's decision. Now 409
    ``conflict`` at ``$.user_id``, nothing written; the admin API still lifts them."""
    node = ServerProcess(tmp_path / "data", env={"SIDELINE_MODERATION__ENABLED": "false"}).start()
    try:
        rex = {"Authorization": f"Bearer {node.token('rex', 'match:1', role='moderator')}"}
        admin = {"X-Admin-Key": node.admin_key()}
        with httpx.Client(base_url=node.url, timeout=10) as api:
            for kind in ("mutes", "shadow-bans"):
                r = api.post(f"{ADMIN_ROOM}/{kind}", headers=admin, json={"user_id": "rex", "reason": "rogue"})
                assert r.status_code == 201, r.text
            before = api.get("/ready").json()["last_seq"]
            for kind in ("mutes", "bans"):
                r = api.delete(f"{ROOM}/{kind}/rex", headers=rex)
                assert r.status_code == 409, r.text
                assert r.json()["error"]["code"] == "conflict" and r.json()["error"]["at"] == "$.user_id"
            assert api.get("/ready").json()["last_seq"] == before
            muted = api.post(f"{ROOM}/messages", headers=rex, json={"client_msg_id": "c1", "text": "back"})
            assert muted.status_code == 403 and muted.json()["error"]["code"] == "user_muted", muted.text
            assert api.delete(f"{ADMIN_ROOM}/mutes/rex", headers=admin).json() == {"lifted": True}
            assert api.delete(f"{ADMIN_ROOM}/bans/rex", headers=admin).json() == {"lifted": True}
        lifts = _events(node, "user_unmuted", "user_unbanned")
        assert [(t, u, a) for t, u, a, _ in lifts] == [
            ("user_unmuted", "rex", "system:admin"), ("user_unbanned", "rex", "system:admin"),
        ]
    finally:
        node.stop()


def _events(node: ServerProcess, *types: str) -> list[tuple[str, str, str | None, dict[str, object]]]:
    node.stop()
    con = duckdb.connect(str(node.settings().log_path), read_only=True)
    try:
        found = con.execute(
            "SELECT event_type, user_id, actor_id, payload FROM events WHERE event_type IN "
            f"({', '.join('?' for _ in types)}) ORDER BY seq", list(types),
        ).fetchall()  # fmt: skip
    finally:
        con.close()
    node.start()
    return [(t, u, a, json.loads(p)) for t, u, a, p in found]
