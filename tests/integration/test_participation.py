"""Who may take part (report, close a poll), one write per concurrent duplicate, and what
history older than the in-memory window shows. In-process app on a real DuckDB log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from service.actions import moderators, polls, reactions, reports, rooms
from service.actions.context import Community
from service.domain.events import Event, EventType, new_event
from service.domain.rooms import Role, RoomMode
from service.errors import ErrorCode, SidelineError
from service.identity import Identity, mint_token
from service.protocol.http import PollIn, RestrictIn, RoomConfigIn
from service.settings import Settings

ADMIN = "X-Admin-Key"
ROOM = "/v1/rooms/match:1"


def bearer(s: Settings, user: str, role: str = "user") -> dict[str, str]:
    token = mint_token(s.auth.hs256_secret, user_id=user, context_id="match:1", role=role)
    return {"Authorization": f"Bearer {token}"}


def rows(client: TestClient[Any], c: Community, event_type: EventType) -> list[Event]:
    events = client.blocking_portal.call(c.log.read, 0, 100_000)
    return [e for e in events if e.event_type is event_type]


def post_message(client: TestClient[Any], h: dict[str, str], cid: str, text: str = "a fine message") -> str:
    r = client.post(f"{ROOM}/messages", headers=h, json={"client_msg_id": cid, "text": text})
    assert r.status_code == 201, r.text
    return str(r.json()["message_id"])


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


# -- reporting is taking part ---------------------------------------------------------------


def test_viewers_cannot_report_and_three_viewers_hide_nothing(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    for i in range(3):
        r = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, f"v{i}", "viewer"), json={"reason": "spam"})
        assert error(r) == (403, "role_too_low")
        assert r.json()["error"]["message"] == "viewers can read but not take part"
    history = client.get(f"{ROOM}/messages", headers=bearer(s, "other")).json()["messages"]
    assert [m["message_id"] for m in history] == [mid]
    assert rows(client, c, EventType.MESSAGE_REPORTED) == []


def test_no_reports_in_a_closed_room_but_a_mute_does_not_stop_one(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    mod = bearer(s, "mod", "moderator")
    assert client.post(f"{ROOM}/mutes", headers=mod, json={"user_id": "muted"}).status_code == 201
    muted = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "muted"), json={"reason": "spam"})
    assert muted.status_code == 201, muted.text
    client.post("/v1/admin/rooms/match:1/close", headers={ADMIN: s.admin.api_key})
    r = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "u2"), json={"reason": "spam"})
    assert error(r) == (403, "room_closed")
    assert [e.user_id for e in rows(client, c, EventType.MESSAGE_REPORTED)] == ["muted"]


# -- closing a poll -----------------------------------------------------------------------


def test_a_closed_room_stops_the_creator_closing_a_poll_but_not_a_moderator(start):
    s, c, client = start()
    speaker = bearer(s, "sp", "speaker")
    created = client.post(f"{ROOM}/polls", headers=speaker, json={"question": "q?", "options": ["a", "b"]})
    pid = created.json()["poll_id"]
    client.post("/v1/admin/rooms/match:1/close", headers={ADMIN: s.admin.api_key})
    r = client.post(f"{ROOM}/polls/{pid}/close", headers=speaker)
    assert error(r) == (403, "room_closed")
    assert r.json()["error"]["message"] == "this room is closed (read-only archive)"
    assert rows(client, c, EventType.POLL_CLOSED) == []
    other = client.post(f"{ROOM}/polls/{pid}/close", headers=bearer(s, "sp2", "speaker"))
    assert error(other) == (403, "role_too_low")
    by_mod = client.post(f"{ROOM}/polls/{pid}/close", headers=bearer(s, "mod", "moderator"))
    assert by_mod.status_code == 200 and by_mod.json()["closed"]
    assert [e.user_id for e in rows(client, c, EventType.POLL_CLOSED)] == ["mod"]


# -- history older than the in-memory window ----------------------------------------------


def page_texts(client: TestClient[Any], h: dict[str, str], **query: int) -> list[str]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return [m["text"] for m in client.get(f"{ROOM}/messages?{params}", headers=h).json()["messages"]]


def report_until_hidden(client: TestClient[Any], s: Settings, mid: str, round_: int) -> None:
    for i in range(3):  # the default threshold
        r = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, f"r{round_}{i}"), json={"reason": "abuse"})
        assert r.status_code == 201, r.text


def test_log_history_hides_reported_messages_like_memory_does(start):
    s, c, client = start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    reader, mod = bearer(s, "reader"), bearer(s, "mod", "moderator")
    mid = post_message(client, bearer(s, "author"), "a", "reported text")
    report_until_hidden(client, s, mid, 0)
    assert page_texts(client, reader, limit=10) == []
    for i in range(3):  # push it out of the in-memory window: only the log has it now
        post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    assert not c.state.history_complete("match:1")
    assert page_texts(client, reader, limit=10) == ["later 0", "later 1", "later 2"]

    approved = client.post(f"{ROOM}/review/{mid}", headers=mod, json={"decision": "approve"})
    assert approved.status_code == 200, approved.text
    shown = ["reported text", "later 0", "later 1", "later 2"]
    assert page_texts(client, reader, limit=10) == shown

    report_until_hidden(client, s, mid, 1)  # reported again after the approval: hidden again
    assert page_texts(client, reader, limit=10) == shown[1:]
    # a fresh projection from the same log answers the same, from memory and from the log
    s, c, client = start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    assert page_texts(client, reader, limit=10) == shown[1:]


def test_a_log_page_of_only_hidden_messages_still_pages_on(start):
    s, _, client = start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE="2")
    reader = bearer(s, "reader")
    post_message(client, bearer(s, "old"), "old", "oldest shown")
    mid = post_message(client, bearer(s, "author"), "a", "reported text")
    report_until_hidden(client, s, mid, 0)
    for i in range(2):
        post_message(client, bearer(s, f"p{i}"), f"p{i}", f"later {i}")
    newest = client.get(f"{ROOM}/messages?limit=2", headers=reader).json()
    assert [m["text"] for m in newest["messages"]] == ["later 0", "later 1"]
    older = page_texts(client, reader, limit=1, before_seq=newest["next_before_seq"])
    assert older == ["oldest shown"]  # not an empty page that ends the paging


# -- concurrent duplicates write once -----------------------------------------------------


def together(client: TestClient[Any], *calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Run action calls concurrently on the app's own event loop; their results or errors."""

    async def run() -> list[Any]:
        return await asyncio.gather(*(call() for call in calls), return_exceptions=True)

    return client.blocking_portal.call(run)


def who(user: str, role: Role = Role.USER) -> Identity:
    return Identity(user_id=user, name=user, context_id="match:1", role=role)


def one_conflict(results: list[Any], message: str) -> None:
    """Exactly one call went through; the other was refused with CONFLICT and ``message``."""
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1, results
    assert isinstance(refused[0], SidelineError), refused[0]
    assert (refused[0].code, refused[0].message) == (ErrorCode.CONFLICT, message)
    assert refused[0].code.status == 409


def exposed(c: Community, prefix: str) -> str:
    """A user of the exposed group: their first vote awaits the exposure commit."""
    return next(u for i in range(100) if c.holdout_group(u := f"{prefix}{i}", "match:1") == "exposed")


def test_two_concurrent_votes_of_one_user_write_one(start):
    _, c, client = start(SIDELINE_HOLDOUT__SHARE="0.3")
    speaker, voter = who(exposed(c, "s"), Role.SPEAKER), who(exposed(c, "u"))
    poll = client.blocking_portal.call(polls.create_poll, c, speaker, "match:1", PollIn(question="q?", options=["a", "b"]))
    results = together(client, *(
        lambda option=option: polls.vote(c, voter, "match:1", poll.poll_id, option) for option in (0, 1)
    ))  # fmt: skip
    one_conflict(results, "you have already voted in this poll")
    assert next(r for r in results if isinstance(r, SidelineError)).at == "$.poll_id"
    assert len(rows(client, c, EventType.POLL_VOTED)) == 1
    assert sum(c.state.polls[poll.poll_id].results()) == 1


def test_two_concurrent_closes_of_a_poll_write_one(start):
    s, c, client = start()
    speaker = who("sp", Role.SPEAKER)
    poll = client.blocking_portal.call(polls.create_poll, c, speaker, "match:1", PollIn(question="q?", options=["a", "b"]))
    close = lambda: polls.close_poll(c, speaker, "match:1", poll.poll_id)  # noqa: E731
    one_conflict(together(client, close, close), "this poll is being closed already")
    assert len(rows(client, c, EventType.POLL_CLOSED)) == 1
    again = client.post(f"{ROOM}/polls/{poll.poll_id}/close", headers=bearer(s, "sp", "speaker"))
    assert again.status_code == 200 and again.json()["closed"]  # a closed poll: nothing written
    assert len(rows(client, c, EventType.POLL_CLOSED)) == 1


def test_a_vote_racing_the_close_is_in_the_results_or_refused(start):
    _, c, client = start(SIDELINE_HOLDOUT__SHARE="0.3")
    speaker = who(exposed(c, "s"), Role.SPEAKER)
    for order in ("vote first", "close first"):
        voter = who(exposed(c, f"v{order[0]}"))  # its vote awaits its exposure commit first
        poll = client.blocking_portal.call(polls.create_poll, c, speaker, "match:1",
                                           PollIn(question="q?", options=["a", "b"]))  # fmt: skip
        vote = lambda poll=poll, voter=voter: polls.vote(c, voter, "match:1", poll.poll_id, 1)  # noqa: E731
        close = lambda poll=poll: polls.close_poll(c, speaker, "match:1", poll.poll_id)  # noqa: E731
        results = together(client, *((vote, close) if order == "vote first" else (close, vote)))
        votes = [r for r in rows(client, c, EventType.POLL_VOTED) if r.payload["poll_id"] == poll.poll_id]
        closed = [r for r in rows(client, c, EventType.POLL_CLOSED) if r.payload["poll_id"] == poll.poll_id]
        assert len(closed) == 1
        assert all(v.seq < closed[0].seq for v in votes), order  # no vote after the close
        assert closed[0].payload["results"] == c.state.polls[poll.poll_id].results(), order
        if order == "vote first":
            assert closed[0].payload["results"] == [0, 1] and not isinstance(results[0], BaseException)
        else:
            assert isinstance(results[1], SidelineError) and results[1].message == "this poll is being closed"
            assert closed[0].payload["results"] == [0, 0] and votes == []


def test_two_concurrent_leaves_write_one(start):
    s, c, client = start()
    assert client.post(f"{ROOM}/join", headers=bearer(s, "u1")).status_code < 300
    leave = lambda: rooms.leave(c, who("u1"), "match:1")  # noqa: E731
    assert together(client, leave, leave) == [None, None]
    assert len(rows(client, c, EventType.ROOM_LEFT)) == 1


def test_two_concurrent_deletes_write_one(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    delete = lambda: moderators.delete_message(c, "mod", "match:1", mid)  # noqa: E731
    one_conflict(together(client, delete, delete), f"message {mid!r} is being deleted already")
    assert len(rows(client, c, EventType.MESSAGE_DELETED)) == 1


def test_two_concurrent_reviews_write_one_decision(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    report_until_hidden(client, s, mid, 0)
    approve = lambda: reports.review(c, "mod", "match:1", mid, "approve")  # noqa: E731
    one_conflict(together(client, approve, approve), f"message {mid} is being reviewed already")
    assert len(rows(client, c, EventType.MESSAGE_APPROVED)) == 1


# -- blank text ---------------------------------------------------------------------------


@pytest.mark.parametrize("question", [" ", "\t\n  "])
def test_a_blank_poll_question_is_refused_and_nothing_written(start, question):
    s, c, client = start()
    r = client.post(f"{ROOM}/polls", headers=bearer(s, "sp", "speaker"), json={"question": question, "options": ["a", "b"]})
    assert error(r) == (400, "text_empty")
    assert r.json()["error"] == {"code": "text_empty", "message": "poll question is empty", "at": "$.question"}
    assert rows(client, c, EventType.POLL_CREATED) == []


def test_a_blank_report_reason_is_refused_and_a_padded_one_is_trimmed(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    r = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "r1"), json={"reason": "   "})
    assert r.json()["error"] == {"code": "text_empty", "message": "report reason is empty", "at": "$.reason"}
    assert r.status_code == 400 and rows(client, c, EventType.MESSAGE_REPORTED) == []
    r = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "r1"), json={"reason": "\u200b"})
    assert r.json()["error"] == {
        "code": "text_empty", "message": "report reason has no visible characters (U+200B)", "at": "$.reason",
    }  # fmt: skip
    ok = client.post(f"{ROOM}/messages/{mid}/reports", headers=bearer(s, "r1"), json={"reason": "  spam \n"})
    assert ok.status_code == 201, ok.text
    assert [e.payload["reason"] for e in rows(client, c, EventType.MESSAGE_REPORTED)] == ["spam"]


def test_blank_restriction_and_delete_reasons_are_not_stored_as_blanks(start):
    s, c, client = start()
    body = RestrictIn(user_id="u9", reason=" \n\t ")
    client.blocking_portal.call(moderators.restrict, c, "mod", "match:1", "mute", body)
    assert rows(client, c, EventType.USER_MUTED)[-1].payload["reason"] == ""
    mid = post_message(client, bearer(s, "author"), "m1")
    client.blocking_portal.call(moderators.delete_message, c, "mod", "match:1", mid, "   ")
    assert rows(client, c, EventType.MESSAGE_DELETED)[-1].payload["reason"] == "moderator"


@pytest.mark.parametrize("user_id", ["   ", "\t\n"])
def test_a_blank_user_id_is_refused_where_a_body_names_a_user(start, user_id):
    """Roles, mutes, bans and shadow-bans name a user as a token's ``sub`` does: a blank id is
    no user (400 at ``$.user_id``), and nothing is written."""
    s, c, client = start()
    admin, mod = {ADMIN: s.admin.api_key}, bearer(s, "mod", "moderator")
    before = c.log.last_seq
    for path, headers, body in [
        ("/v1/admin/rooms/match:1/roles", admin, {"user_id": user_id, "role": "moderator"}),
        ("/v1/admin/rooms/match:1/mutes", admin, {"user_id": user_id}),
        (f"{ROOM}/bans", mod, {"user_id": user_id}),
        (f"{ROOM}/shadow-bans", mod, {"user_id": user_id}),
    ]:
        r = client.post(path, headers=headers, json=body)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error"] == {
            "code": "invalid_body", "message": "Expected a `str` that is not blank - at `$.user_id`",
            "at": "$.user_id",
        }, path  # fmt: skip
    assert c.log.last_seq == before


def test_a_moderators_delete_may_give_the_reason_review_and_is_not_marked_a_review(start):
    """Only the review queue marks its delete a review (``review: true``), so a moderator's own
    delete keeps whatever reason it gives, ``review`` included, without passing for one."""
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    client.blocking_portal.call(moderators.delete_message, c, "mod", "match:1", mid, "review")
    assert rows(client, c, EventType.MESSAGE_DELETED)[-1].payload == {"reason": "review", "review": False}


def test_a_reaction_that_is_not_emoji_from_older_data_can_be_removed_not_added(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    legacy = new_event(EventType.REACTION_ADDED, user_id="fan", room_id="match:1", context_id="match:1",
                       message_id=mid, payload={"emoji": "BUY"})  # written before emoji were checked
    client.blocking_portal.call(c.commit, [legacy])

    def react(user: str, add: bool) -> Any:
        return client.blocking_portal.call(lambda: reactions.set_reaction(c, who(user), "match:1", mid, "BUY", add=add))

    with pytest.raises(SidelineError, match="is not made of emoji"):
        react("other", add=True)
    with pytest.raises(SidelineError, match="is not made of emoji"):  # not theirs to remove
        react("other", add=False)
    out = react("fan", add=False)
    assert out.count == 0 and out.seq > 0
    assert rows(client, c, EventType.REACTION_REMOVED)[-1].payload["emoji"] == "BUY"


# -- read-modify-write of shared state, one at a time -------------------------------------


def test_two_concurrent_setting_changes_both_take_effect(start):
    s, c, client = start()
    mode = lambda: rooms.configure(c, "match:1", RoomConfigIn(mode=RoomMode.SPEAKERS_ONLY), actor="m1")  # noqa: E731
    slow = lambda: rooms.configure(c, "match:1", RoomConfigIn(slow_mode_seconds=10), actor="m2")  # noqa: E731
    first, second = together(client, mode, slow)
    assert (first.mode, first.slow_mode_seconds) == ("speakers-only", 0)
    assert (second.mode, second.slow_mode_seconds) == ("speakers-only", 10)
    settings = c.state.room("match:1").settings
    assert (settings.mode, settings.slow_mode_seconds) == (RoomMode.SPEAKERS_ONLY, 10)
    last = rows(client, c, EventType.ROOM_MODE_CHANGED)[-1].payload
    assert (last["mode"], last["slow_mode_seconds"]) == ("speakers-only", 10)
    r = client.post(f"{ROOM}/messages", headers=bearer(s, "u1"), json={"client_msg_id": "a", "text": "hi"})
    assert error(r) == (403, "speakers_only")


def test_reports_filed_at_once_still_hide_the_message_at_the_threshold(start):
    s, c, client = start()
    mid = post_message(client, bearer(s, "author"), "m1")
    client.blocking_portal.call(reports.report, c, who("r0"), "match:1", mid, "spam")
    report = lambda user: lambda: reports.report(c, who(user), "match:1", mid, "spam")  # noqa: E731
    results = together(client, report("r1"), report("r2"))
    assert not any(isinstance(r, BaseException) for r in results), results
    assert [e.payload["hide"] for e in rows(client, c, EventType.MESSAGE_REPORTED)] == [False, False, True]
    assert page_texts(client, bearer(s, "reader"), limit=10) == []  # the third report hid it
    shown = post_message(client, bearer(s, "author"), "m2")  # the hidden one is reported no more
    again = lambda: reports.report(c, who("r3"), "match:1", shown, "spam")  # noqa: E731
    one_conflict(together(client, again, again), "you have already reported this message")
    assert len(rows(client, c, EventType.MESSAGE_REPORTED)) == 4


def test_the_same_grant_revoke_lift_or_unpin_at_once_writes_once(start):
    s, c, client = start()
    grant = lambda: rooms.grant_role(c, "match:1", "u1", Role.SPEAKER)  # noqa: E731
    assert together(client, grant, grant) == [None, None]
    revoke = lambda: rooms.revoke_role(c, "match:1", "u1")  # noqa: E731
    assert sorted(together(client, revoke, revoke)) == [False, True]
    client.blocking_portal.call(moderators.restrict, c, "mod", "match:1", "mute", RestrictIn(user_id="u2"))
    lift = lambda: moderators.lift(c, "mod", "match:1", "mute", "u2")  # noqa: E731
    assert sorted(together(client, lift, lift)) == [False, True]
    mid = post_message(client, bearer(s, "author"), "m1")
    client.blocking_portal.call(moderators.pin_message, c, "mod", "match:1", mid)
    unpin = lambda: moderators.pin_message(c, "mod", "match:1", None)  # noqa: E731
    assert together(client, unpin, unpin) == [None, None]
    for event_type in (EventType.ROLE_GRANTED, EventType.ROLE_REVOKED, EventType.USER_UNMUTED):
        assert len(rows(client, c, event_type)) == 1, event_type
    assert [e.payload["pinned"] for e in rows(client, c, EventType.MESSAGE_PINNED)] == [True, False]


@pytest.mark.parametrize("in_memory", [10, 2], ids=["whole room in memory", "older part in the log"])
def test_the_oldest_page_says_there_is_nothing_before_it(start, in_memory):
    s, _, client = start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE=str(in_memory))
    reader = bearer(s, "reader")
    assert client.post(f"{ROOM}/join", headers=reader).status_code == 200  # seq 1 is no message
    for i in range(3):
        post_message(client, bearer(s, f"p{i}"), f"p{i}", f"msg {i}")

    def page(**query: int) -> tuple[list[str], int | None]:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        body = client.get(f"{ROOM}/messages?{params}", headers=reader).json()
        return [m["text"] for m in body["messages"]], body["next_before_seq"]

    assert page(limit=10) == (["msg 0", "msg 1", "msg 2"], None)
    assert page(limit=3) == (["msg 0", "msg 1", "msg 2"], None)
    newest = page(limit=2)
    assert newest == (["msg 1", "msg 2"], 3)
    assert page(limit=2, before_seq=3) == (["msg 0"], None)
    assert page(limit=1, before_seq=3) == (["msg 0"], None)


@pytest.mark.parametrize("in_memory", [20, 3], ids=["whole room in memory", "older part in the log"])
def test_paging_by_message_id_shows_what_paging_by_seq_does(start, in_memory):
    """``before`` (a message id, ``next_before``) pages as ``before_seq`` does on one node,
    also past what memory holds, where the log is read; a message deleted meanwhile still
    marks its place."""
    s, _, client = start(SIDELINE_ROOMS__MATCH__HISTORY_SIZE=str(in_memory))
    reader = bearer(s, "reader")
    ids = [post_message(client, bearer(s, f"p{i}"), f"p{i}", f"msg {i}") for i in range(8)]

    def pages(cursor: str, start_at: str | None = None) -> list[list[str]]:
        found, query = [], "limit=3" + (f"&before={start_at}" if start_at else "")
        while True:
            body = client.get(f"{ROOM}/messages?{query}", headers=reader).json()
            found.append([m["text"] for m in body["messages"]])
            if body["next_before"] is None:
                assert body["next_before_seq"] is None
                return found
            query = f"limit=3&{cursor}={body[f'next_{cursor}']}"

    expected = [["msg 5", "msg 6", "msg 7"], ["msg 2", "msg 3", "msg 4"], ["msg 0", "msg 1"]]
    assert pages("before") == pages("before_seq") == expected
    moderator = bearer(s, "mod", role="moderator")
    assert client.delete(f"{ROOM}/messages/{ids[5]}", headers=moderator).status_code == 200
    assert pages("before", start_at=ids[5]) == [["msg 2", "msg 3", "msg 4"], ["msg 0", "msg 1"]]


def test_a_page_before_an_unknown_message_is_refused_at_before(start):
    s, _, client = start()
    reader = bearer(s, "reader")
    mid = post_message(client, bearer(s, "p1"), "p1", "msg 1")
    both = client.get(f"{ROOM}/messages?before={mid}&before_seq=3", headers=reader)
    assert both.status_code == 400 and both.json()["error"] == {
        "code": "invalid_body", "at": "$.before", "message": "give `before` or `before_seq`, not both"}  # fmt: skip
    for unknown in ("nope", "00000000-0000-4000-8000-000000000000"):
        r = client.get(f"{ROOM}/messages?before={unknown}", headers=reader)
        assert r.status_code == 404 and r.json()["error"]["at"] == "$.before", r.text
    other = {"Authorization": f"Bearer {mint_token(s.auth.hs256_secret, user_id='p2', context_id='match:2')}"}
    sent = client.post("/v1/rooms/match:2/messages", headers=other, json={"client_msg_id": "p2", "text": "other room"})
    elsewhere = sent.json()["message_id"]
    r = client.get(f"{ROOM}/messages?before={elsewhere}", headers=reader)
    assert r.status_code == 404 and r.json()["error"]["at"] == "$.before", r.text
    # a UUIDv7 this node does not hold (another node's message, older than it keeps): its time
    from service.domain.events import uuid7

    assert [m["text"] for m in client.get(f"{ROOM}/messages?before={uuid7()}", headers=reader).json()["messages"]] == ["msg 1"]


def test_a_repeated_poll_option_is_bad_input_at_its_index(start):
    s, c, client = start()
    body = {"question": "Man of the match?", "options": ["Saka", "Rice", " Saka "]}
    r = client.post(f"{ROOM}/polls", headers=bearer(s, "sp", "speaker"), json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == {
        "code": "invalid_body", "at": "$.options[2]",
        "message": "poll option 2 ('Saka') repeats option 0",
    }  # fmt: skip
    assert rows(client, c, EventType.POLL_CREATED) == []


def test_a_moderators_room_answers_carry_their_role(start):
    """Pinning and changing settings answer the room as ``GET /v1/rooms/{room}`` does, with the
    caller's role; the admin API (no role) answers ``role: null``."""
    s, _, client = start()
    mod = bearer(s, "mod", "moderator")
    mid = post_message(client, bearer(s, "author"), "m1")
    for r in (client.post(f"{ROOM}/pin", headers=mod, json={"message_id": mid}),
              client.patch(f"{ROOM}/settings", headers=mod, json={"slow_mode_seconds": 5})):  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["role"] == client.get(ROOM, headers=mod).json()["role"] == "moderator"
    r = client.put("/v1/admin/rooms/match:1", headers={ADMIN: s.admin.api_key}, json={"slow_mode_seconds": 0})
    assert r.status_code == 200 and r.json()["role"] is None, r.text
    gone = client.post(f"{ROOM}/review/{mid}", headers=mod, json={"decision": "approve"})
    assert (gone.status_code, gone.json()["error"]["at"]) == (404, "$.message_id"), gone.text


def test_only_the_admin_api_reopens_a_room_it_closed(start):
    s, c, client = start()
    mod, admin = bearer(s, "mod", "moderator"), {ADMIN: s.admin.api_key}
    assert client.post("/v1/admin/rooms/match:1/close", headers=admin).status_code == 200
    before = c.log.last_seq
    for body in ({"mode": "open"}, {"slow_mode_seconds": 5}):
        r = client.patch(f"{ROOM}/settings", headers=mod, json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "room_closed"), r.text
    assert c.log.last_seq == before
    s, c, client = start()  # rebuilt from the log: still the admin's close
    assert client.patch(f"{ROOM}/settings", headers=mod, json={"mode": "open"}).status_code == 403
    r = client.put("/v1/admin/rooms/match:1", headers=admin, json={"mode": "open"})
    assert r.status_code == 200 and r.json()["mode"] == "open", r.text
    for mode in ("closed", "open"):  # a moderator's own close, a moderator may undo
        r = client.patch(f"{ROOM}/settings", headers=mod, json={"mode": mode})
        assert r.status_code == 200 and r.json()["mode"] == mode, r.text
