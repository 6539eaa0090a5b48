"""Lifting a mute or ban that has already run out lifts nothing: ``lifted: false`` and no event,
as for one that never existed. In-process app on a real DuckDB log; the clock is moved, not
waited for.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from service.actions.context import Community
from service.app import build_community, create_app
from service.domain.events import EventType, utcnow
from service.settings import Settings, ensure_dev_secrets, load_settings
from tests.integration.test_participation import ADMIN, ROOM, bearer, rows


@pytest.fixture
def api(tmp_path) -> Iterator[tuple[Settings, Community, TestClient[Any]]]:
    s = load_settings(environ={"SIDELINE_DATA_DIR": str(tmp_path), "SIDELINE_MODERATION__ENABLED": "false",
                               "SIDELINE_ANALYTICS__SCHEDULE_ENABLED": "false"})  # fmt: skip
    ensure_dev_secrets(s)
    c = build_community(s)
    with TestClient(create_app(s, community=c)) as client:
        yield s, c, client


def later(c: Community, seconds: float) -> None:
    c.clock = lambda: utcnow() + timedelta(seconds=seconds)


@pytest.mark.parametrize(("kind", "lifted"), [("mutes", EventType.USER_UNMUTED), ("bans", EventType.USER_UNBANNED)])
def test_an_expired_restriction_is_not_lifted_again(api, kind, lifted):
    s, c, client = api
    mod = bearer(s, "mod", "moderator")
    assert client.post(f"{ROOM}/{kind}", headers=mod, json={"user_id": "u2", "duration_seconds": 60}).status_code == 201
    later(c, 120)
    before = c.log.last_seq
    r = client.delete(f"{ROOM}/{kind}/u2", headers=mod)
    assert r.status_code == 200 and r.json() == {"lifted": False}
    assert c.log.last_seq == before and rows(client, c, lifted) == []
    # an active one is lifted, once
    assert client.post(f"{ROOM}/{kind}", headers=mod, json={"user_id": "u3", "duration_seconds": 600}).json()
    assert client.delete(f"{ROOM}/{kind}/u3", headers=mod).json() == {"lifted": True}
    assert client.delete(f"{ROOM}/{kind}/u3", headers=mod).json() == {"lifted": False}
    assert [e.user_id for e in rows(client, c, lifted)] == ["u3"]


def test_an_expired_global_ban_is_not_lifted_again(api):
    s, c, client = api
    admin = {ADMIN: s.admin.api_key}
    body = {"user_id": "u2", "duration_seconds": 60, "scope": "global"}
    assert client.post("/v1/admin/rooms/match:1/bans", headers=admin, json=body).status_code == 201
    later(c, 61)
    r = client.delete("/v1/admin/rooms/match:1/bans/u2?scope=global", headers=admin)
    assert r.json() == {"lifted": False} and rows(client, c, EventType.USER_UNBANNED) == []


def test_unbanning_still_lifts_an_active_shadow_ban_when_the_ban_ran_out(api):
    s, c, client = api
    mod = bearer(s, "mod", "moderator")
    assert client.post(f"{ROOM}/bans", headers=mod, json={"user_id": "u2", "duration_seconds": 60}).status_code == 201
    assert client.post(f"{ROOM}/shadow-bans", headers=mod, json={"user_id": "u2"}).status_code == 201
    later(c, 120)
    assert client.delete(f"{ROOM}/bans/u2", headers=mod).json() == {"lifted": True}
    assert c.state.restriction("shadow", "match:1", "u2", c.now()) is None
    assert client.delete(f"{ROOM}/bans/u2", headers=mod).json() == {"lifted": False}


@pytest.mark.parametrize("base", [ROOM, "/v1/admin/rooms/match:1"])
def test_lifting_a_shadow_ban_directly_names_the_way_to_lift_it(api, base):
    """``DELETE .../shadow-bans/{user}`` is no endpoint (unbanning lifts a shadow-ban): the
    refusal says so in the path's own words, not as an unknown restriction 'shadow'."""
    s, c, client = api
    who = bearer(s, "mod", "moderator") if base == ROOM else {ADMIN: s.admin.api_key}
    assert client.post(f"{base}/shadow-bans", headers=who, json={"user_id": "u2"}).status_code == 201
    r = client.delete(f"{base}/shadow-bans/u2", headers=who)
    assert r.status_code == 404
    assert r.json()["error"] == {
        "code": "not_found", "at": "$.kind",
        "message": "a shadow-ban is lifted by lifting the ban: DELETE .../bans/u2 (this path lifts mutes, bans)",
    }  # fmt: skip
    assert c.state.restriction("shadow", "match:1", "u2", c.now()) is not None


def test_a_timed_mute_or_ban_says_when_it_ends(api):
    """A timed restriction runs out without any event, so its refusal carries the wait:
    ``Retry-After`` and ``retry_after``; one until lifted carries neither."""
    s, c, client = api
    mod, user = bearer(s, "mod", "moderator"), bearer(s, "u2")
    assert client.post(f"{ROOM}/mutes", headers=mod, json={"user_id": "u2", "duration_seconds": 60}).status_code == 201
    later(c, 15)
    r = client.post(f"{ROOM}/messages", headers=user, json={"client_msg_id": "a", "text": "hi"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "user_muted"
    assert 44 <= r.json()["error"]["retry_after"] <= 45 and r.headers["retry-after"] == "45"

    assert client.post(f"{ROOM}/mutes", headers=mod, json={"user_id": "u2"}).status_code == 201  # until lifted
    r = client.post(f"{ROOM}/messages", headers=user, json={"client_msg_id": "b", "text": "hi"})
    assert r.status_code == 403 and "retry_after" not in r.json()["error"] and "retry-after" not in r.headers

    assert client.post(f"{ROOM}/bans", headers=mod, json={"user_id": "u3", "duration_seconds": 600}).status_code == 201
    r = client.get(f"{ROOM}/messages", headers=bearer(s, "u3"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "user_banned"
    assert 599 <= r.json()["error"]["retry_after"] <= 600 and r.headers["retry-after"] == "600"
