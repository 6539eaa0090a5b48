"""A message the caller may not see (held for review, hidden by reports, a shadow-banned
author's) cannot be reacted to, replied to or reported: the answer is the one for a message
that does not exist, so it tells nothing. Its author acts on what they see; moderators on all.
In-process app on a real DuckDB log.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from service.actions.context import Community
from service.app import build_community
from service.domain.state import CommunityState
from service.settings import Settings
from tests.integration.conftest import Api
from tests.integration.test_participation import (
    ADMIN,
    ROOM,
    bearer,
    post_message,
    report_until_hidden,
)

GHOST = "no-such-message"


def hold_pii(s: Settings, client: TestClient[Any]) -> None:
    admin = {ADMIN: s.admin.api_key}
    policy = client.get("/v1/admin/moderation/policies/match", headers=admin).json()
    policy["actions"]["pii"] = "hold"
    assert client.put("/v1/admin/moderation/policies/match", headers=admin, json=policy).status_code == 200


def held(s: Settings, client: TestClient[Any]) -> str:
    hold_pii(s, client)
    r = client.post(f"{ROOM}/messages", headers=bearer(s, "author"),
                    json={"client_msg_id": "h1", "text": "mail me at ann.lee@example.com"})  # fmt: skip
    assert r.status_code == 201 and r.json()["visibility"] == "held", r.text
    return str(r.json()["message_id"])


def reported(s: Settings, client: TestClient[Any]) -> str:
    mid = post_message(client, bearer(s, "author"), "r1", "a reported message")
    report_until_hidden(client, s, mid, 0)
    return mid


def shadow_banned(s: Settings, client: TestClient[Any]) -> str:
    mod = bearer(s, "mod", "moderator")
    assert client.post(f"{ROOM}/shadow-bans", headers=mod, json={"user_id": "author"}).status_code == 201
    return post_message(client, bearer(s, "author"), "s1", "a shadow-banned message")


HIDDEN: dict[str, Callable[[Settings, TestClient[Any]], str]] = {
    "held for review": held, "hidden by reports": reported, "author shadow-banned": shadow_banned,
}  # fmt: skip


def react(client: TestClient[Any], h: dict[str, str], mid: str) -> Any:
    return client.post(f"{ROOM}/messages/{mid}/reactions", headers=h, json={"emoji": "👍"})


def reply(client: TestClient[Any], h: dict[str, str], mid: str) -> Any:
    body = {"client_msg_id": f"re-{mid[-12:]}", "text": "a reply", "reply_to": mid}
    return client.post(f"{ROOM}/messages", headers=h, json=body)


def report(client: TestClient[Any], h: dict[str, str], mid: str) -> Any:
    return client.post(f"{ROOM}/messages/{mid}/reports", headers=h, json={"reason": "spam"})


ACTS = {"react": react, "reply": reply, "report": report}


def as_for_no_message(client: TestClient[Any], act: Any, h: dict[str, str], mid: str) -> None:
    """``act`` on ``mid`` answers exactly what it answers for a message that does not exist."""
    ghost = act(client, h, GHOST)
    r = act(client, h, mid)
    assert (r.status_code, ghost.status_code) == (404, 404), r.text
    assert r.json() == json.loads(json.dumps(ghost.json()).replace(GHOST, mid))


@pytest.mark.parametrize("hidden", HIDDEN.values(), ids=HIDDEN.keys())
@pytest.mark.parametrize("act", ACTS.values(), ids=ACTS.keys())
def test_acting_on_a_message_one_cannot_see_answers_as_for_none(start, hidden, act):
    s, c, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = hidden(s, client)
    before = c.log.last_seq
    as_for_no_message(client, act, bearer(s, "fan"), mid)
    assert c.log.last_seq == before  # nothing written
    assert mid not in c.state.reactions and "fan" not in c.state.reporters.get(mid, set())


@pytest.mark.parametrize("act", ACTS.values(), ids=ACTS.keys())
def test_moderators_act_on_every_message(start, act):
    s, _, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = held(s, client)
    r = act(client, bearer(s, "mod", "moderator"), mid)
    assert r.status_code in (200, 201), r.text


def test_a_shadow_banned_author_acts_on_their_own_message(start):
    s, _, client = start(SIDELINE_MODERATION__ENABLED="true")
    mid = shadow_banned(s, client)
    assert react(client, bearer(s, "author"), mid).status_code == 200
    r = client.post(f"{ROOM}/messages", headers=bearer(s, "author"),
                    json={"client_msg_id": "s2", "text": "replying to myself", "reply_to": mid})  # fmt: skip
    assert r.status_code == 201, r.text


def small_memory(monkeypatch: pytest.MonkeyPatch, **sizes: Any) -> None:
    """The ``start`` fixture's apps remember two messages in their message index (``sizes``:
    :class:`CommunityState`'s other sizes): older ones only the log knows."""

    def build(s: Settings) -> Community:
        c = build_community(s)
        policies = {kind: c.state.room(f"{kind}:x").settings for kind in s.rooms}
        c.state = CommunityState(policies, **{"message_index_size": 2, **sizes})
        return c

    monkeypatch.setattr("tests.integration.conftest.build_community", build)


def test_a_hidden_message_only_the_log_still_knows_is_hidden_too(start, monkeypatch):
    """Past the in-memory message index, the message and its reports are read from the log."""
    small_memory(monkeypatch)
    api: Api = start()
    s, c, client = api
    mid = reported(s, client)
    for i in range(3):
        post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    assert mid not in c.state.messages  # only the log has it now
    before = c.log.last_seq
    for act in ACTS.values():
        as_for_no_message(client, act, bearer(s, "fan"), mid)
    assert c.log.last_seq == before
    shown = post_message(client, bearer(s, "p9"), "p9", "shown")
    for i in range(3):
        post_message(client, bearer(s, f"q{i}"), f"q{i}", f"even later {i}")
    assert shown not in c.state.messages
    assert react(client, bearer(s, "fan"), shown).status_code == 200  # a visible one still works
