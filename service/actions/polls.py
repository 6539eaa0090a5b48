"""Polls: created by speakers and moderators, one vote per user, results as a projection."""

from __future__ import annotations

import asyncio
import unicodedata

from service.actions.access import Intent, check_access
from service.actions.context import Community
from service.actions.messages import visible_text
from service.domain.events import EventType, new_event, uuid7
from service.domain.records import Poll
from service.domain.rooms import Role
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import PollIn, PollOut
from service.realtime.vote_claims import CLOSED, RedisVotes


def poll_out(poll: Poll, user_id: str | None = None, results: list[int] | None = None) -> PollOut:
    return PollOut(
        poll_id=poll.poll_id, room_id=poll.room_id, question=poll.question,
        options=poll.options, results=results if results is not None else poll.results(),
        closed=poll.closed,
        my_vote=poll.votes.get(user_id) if user_id else None,
    )  # fmt: skip


def get_poll(c: Community, room_id: str, poll_id: str) -> Poll:
    poll = c.state.polls.get(poll_id)
    if poll is None or poll.room_id != room_id:
        raise SidelineError(
            ErrorCode.NOT_FOUND, f"poll {poll_id[:64]!r} is not in room {room_id}", at="$.poll_id"
        )
    return poll


def _told_apart(option: str) -> str:
    """What a voter tells an option by: its visible characters whatever their case (format
    characters such as a zero-width space dropped; a joiner between emoji is kept, as two
    emoji and one joined emoji look different)."""
    kept = "".join(
        ch for ch in option
        if ch == "\u200d" or unicodedata.category(ch) != "Cf"
    )  # fmt: skip
    return " ".join(kept.casefold().split())


def check_options(options: list[str]) -> None:
    """Refuse an option a voter cannot tell from an earlier one (``invalid_body`` at it)."""
    seen: dict[str, int] = {}
    for i, option in enumerate(options):
        if (first := seen.setdefault(_told_apart(option), i)) < i:
            raise SidelineError(
                ErrorCode.INVALID_BODY, f"poll option {i} ({option[:80]!r}) repeats option {first}",
                at=f"$.options[{i}]",
            )  # fmt: skip


async def create_poll(c: Community, who: Identity, room_id: str, body: PollIn) -> PollOut:
    access = check_access(c, who, room_id, Intent.POST)
    if access.role.rank < Role.SPEAKER.rank:
        raise SidelineError(ErrorCode.ROLE_TOO_LOW, "polls are created by speakers and moderators")
    # cleaned as a message's text is: an override in an option reversed what the panel showed
    question = visible_text(body.question, "poll question", "$.question")
    options = [visible_text(o, "poll option", f"$.options[{i}]") for i, o in enumerate(body.options)]
    check_options(options)
    poll_id = uuid7()
    await c.commit([
        new_event(
            EventType.POLL_CREATED, user_id=who.user_id, room_id=room_id,
            context_id=who.context_id,
            payload={"poll_id": poll_id, "question": question, "options": options},
        )
    ])  # fmt: skip
    return poll_out(c.state.polls[poll_id], who.user_id)


async def vote(c: Community, who: Identity, room_id: str, poll_id: str, option: int) -> PollOut:
    """Vote once; a second vote by the same user is refused with CONFLICT."""
    check_access(c, who, room_id, Intent.VOTE)
    poll = get_poll(c, room_id, poll_id)
    if poll.closed:
        raise SidelineError(ErrorCode.CONFLICT, "this poll is closed", at="$.poll_id")
    if option >= len(poll.options):
        raise SidelineError(
            ErrorCode.INVALID_BODY,
            f"option {option} does not exist (this poll has {len(poll.options)})",
            at="$.option",
        )
    if ("close poll", poll_id) in c.reserved:
        raise SidelineError(ErrorCode.CONFLICT, "this poll is being closed", at="$.poll_id")
    key = ("vote", poll_id, who.user_id)
    if who.user_id in poll.votes or key in c.reserved:
        raise SidelineError(ErrorCode.CONFLICT, "you have already voted in this poll", at="$.poll_id")
    with c.reserving(key):  # before any await, so a concurrent second vote sees it
        if c.votes is None:
            await _write_vote(c, who, room_id, poll_id, option)
        else:
            await _claim_and_vote(c, c.votes, who, room_id, poll, option)
    return poll_out(poll, who.user_id)


async def _claim_and_vote(
    c: Community, votes: RedisVotes, who: Identity, room_id: str, poll: Poll, option: int
) -> None:
    """Many nodes: claim the user's place in the poll across nodes, then vote as on one node.

    A place another node holds is the user's vote through that node, being written or
    written, which this node's state may lack (its envelope is on its way, or was lost, or
    this node restarted since): refused as a second vote, and nothing is written."""
    claim = await votes.take(poll.poll_id, who.user_id)
    if claim.holder == CLOSED:  # through another node, whose close has not reached this one
        raise SidelineError(ErrorCode.CONFLICT, "this poll is closed", at="$.poll_id")
    if claim.holder is not None:
        through = f" through node {node[:64]!r}" if (node := claim.pending_on) else ""
        raise SidelineError(ErrorCode.CONFLICT, f"you have already voted in this poll{through}", at="$.poll_id")
    if who.user_id in poll.votes:  # arrived meanwhile, written unclaimed (Redis was down)
        await votes.release(poll.poll_id, who.user_id, claim)
        raise SidelineError(ErrorCode.CONFLICT, "you have already voted in this poll", at="$.poll_id")
    try:
        await _write_vote(c, who, room_id, poll.poll_id, option)
    except Exception:
        await votes.release(poll.poll_id, who.user_id, claim)
        raise
    votes.seal(poll.poll_id, who.user_id, claim, option)


async def _write_vote(c: Community, who: Identity, room_id: str, poll_id: str, option: int) -> None:
    await c.ensure_exposure(who.user_id, room_id, who.context_id)
    await c.commit([
        new_event(
            EventType.POLL_VOTED, user_id=who.user_id, room_id=room_id,
            context_id=who.context_id, payload={"poll_id": poll_id, "option": option},
        )
    ])  # fmt: skip


async def close_poll(c: Community, who: Identity, room_id: str, poll_id: str) -> PollOut:
    """Close a poll: a moderator (in a closed room too, like every moderation tool), or its
    creator while they may take part in the room. Votes being written when the close starts
    are committed first and counted in the results it records; later votes are refused. With
    many nodes that holds across them: the close marks the poll closed in Redis, waits for the
    votes other nodes are writing, and counts every vote written with a claim
    (``service.realtime.vote_claims``)."""
    access = check_access(c, who, room_id, Intent.READ)
    poll = get_poll(c, room_id, poll_id)
    if access.role is not Role.MODERATOR:
        if poll.created_by != who.user_id:
            raise SidelineError(ErrorCode.ROLE_TOO_LOW, "only the poll's creator or a moderator can close it")
        check_access(c, who, room_id, Intent.CLOSE_OWN_POLL)
    if poll.closed:
        return poll_out(poll, who.user_id)
    key = ("close poll", poll_id)
    if key in c.reserved:
        raise SidelineError(ErrorCode.CONFLICT, "this poll is being closed already", at="$.poll_id")
    with c.reserving(key):  # from here on new votes are refused; those in flight land first
        while any(k[:2] == ("vote", poll_id) for k in c.reserved):
            await asyncio.sleep(0.002)
        results = poll.results()
        if c.votes is not None and (elsewhere := await c.votes.closing(poll_id)) is not None:
            # other nodes' votes too, also those whose envelopes have not reached this node
            known = {u: o for u, o in elsewhere.items() if 0 <= o < len(poll.options)}
            results = poll.results({**known, **poll.votes})
        await c.commit([
            new_event(
                EventType.POLL_CLOSED, user_id=who.user_id, room_id=room_id,
                context_id=who.context_id, payload={"poll_id": poll_id, "results": results},
            )
        ])  # fmt: skip
    if c.votes is not None:
        c.votes.forget(poll_id)
    return poll_out(poll, who.user_id, results)
