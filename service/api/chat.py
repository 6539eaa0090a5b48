"""The user-facing ``/v1`` chat API: rooms, messages, reactions, reports, polls.

Every request carries the user's token (``Authorization: Bearer``), verified each time; every
action is authorised against the caller's role and the room's mode by ``service.actions``.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, Parameter

from service.actions import history, messages, polls, reactions, reports, rooms
from service.actions.context import Community
from service.api.body import no_stray_body
from service.api.deps import in_order, provide_community, provide_identity, token_guard
from service.api.params import RoomId
from service.api.query import known_query_only
from service.api.responses import BODY, ENTER, ROOM, TAKE_PART, TOKEN, WRITE, E, refusals
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import (
    HistoryOut,
    MessageOut,
    PollIn,
    PollOut,
    ReactionIn,
    ReactionOut,
    ReportIn,
    ReportOut,
    RoomOut,
    RoomsOut,
    SendMessage,
    VoteIn,
)  # fmt: skip

SEND = refusals(
    TOKEN, TAKE_PART, [E.REACTIONS_ONLY, E.SPEAKERS_ONLY, E.USER_MUTED, E.HOLDOUT], BODY,
    [E.TEXT_EMPTY, E.TEXT_TOO_LONG, E.NOT_FOUND, E.CONFLICT, E.MESSAGE_BLOCKED, E.SLOW_MODE,
     E.RATE_LIMITED],
    WRITE, [E.SEND_IN_FLIGHT],
)  # fmt: skip


class ChatController(Controller):
    path = "/v1"
    tags = ["chat"]
    guards = [in_order(token_guard, known_query_only, no_stray_body)]  # the token first: a stranger learns nothing
    security = [{"userToken": []}]  # named in the OpenAPI document
    dependencies = {"who": Provide(provide_identity, sync_to_thread=False), "c": Provide(provide_community, sync_to_thread=False)}

    @get("/me/rooms", summary="Rooms the caller has joined", responses=refusals(TOKEN))
    async def my_rooms(self, c: NamedDependency[Community], who: NamedDependency[Identity]) -> RoomsOut:
        return RoomsOut(rooms=rooms.rooms_of(c, who))

    @get("/rooms/{room_id:str}", summary="A room's settings and the caller's role in it", responses=refusals(TOKEN, ENTER))
    async def room(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId) -> RoomOut:
        return rooms.get_room(c, who, room_id)

    @post("/rooms/{room_id:str}/join", status_code=200, summary="Join a room", responses=refusals(TOKEN, ENTER, [E.HOLDOUT], WRITE))
    async def join(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId) -> RoomOut:
        return await rooms.join(c, who, room_id)

    @post("/rooms/{room_id:str}/leave", status_code=204, summary="Leave a room", responses=refusals(TOKEN, ROOM, WRITE))
    async def leave(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId) -> None:
        await rooms.leave(c, who, room_id)

    @post("/rooms/{room_id:str}/messages", status_code=201, summary="Send a message (idempotent by client_msg_id)", responses=SEND)
    async def send(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, data: JSONBody[SendMessage]) -> MessageOut:
        return await messages.send_message(c, who, room_id, data)

    @get("/rooms/{room_id:str}/messages", summary="A page of history, oldest first", responses=refusals(TOKEN, ENTER, [E.INVALID_BODY, E.NOT_FOUND]))
    async def history(
        self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId,
        before_seq: Annotated[int | None, Parameter(ge=1)] = None,
        before: Annotated[str | None, Parameter(min_length=1, max_length=64, description="A message id (a page's `next_before`): the page before it, through any node")] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> HistoryOut:  # fmt: skip
        if before is not None and before_seq is not None:
            raise SidelineError(ErrorCode.INVALID_BODY, "give `before` or `before_seq`, not both", at="$.before")
        return await history.page(c, who, room_id, before_seq=before_seq, before=before, limit=limit)

    @post("/rooms/{room_id:str}/messages/{message_id:str}/reactions", status_code=200, summary="Add a reaction", responses=refusals(TOKEN, TAKE_PART, [E.HOLDOUT], BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def react(
        self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str, data: JSONBody[ReactionIn]
    ) -> ReactionOut:
        return await reactions.set_reaction(
            c, who, room_id, message_id, data.emoji, add=True, metadata=data.metadata
        )

    @delete("/rooms/{room_id:str}/messages/{message_id:str}/reactions/{emoji:str}", status_code=200, summary="Remove a reaction", responses=refusals(TOKEN, TAKE_PART, [E.HOLDOUT, E.INVALID_BODY, E.NOT_FOUND, E.CONFLICT], WRITE))
    async def unreact(
        self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str, emoji: str
    ) -> ReactionOut:
        return await reactions.set_reaction(c, who, room_id, message_id, emoji, add=False)

    @post("/rooms/{room_id:str}/messages/{message_id:str}/reports", status_code=201, summary="Report a message", responses=refusals(TOKEN, TAKE_PART, BODY, [E.TEXT_EMPTY, E.NOT_FOUND, E.CONFLICT], WRITE))
    async def report(
        self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str, data: JSONBody[ReportIn]
    ) -> ReportOut:
        return ReportOut(report_id=await reports.report(c, who, room_id, message_id, data.reason))

    @post("/rooms/{room_id:str}/polls", status_code=201, summary="Create a poll (speakers, moderators)", responses=refusals(TOKEN, TAKE_PART, [E.REACTIONS_ONLY, E.SPEAKERS_ONLY, E.USER_MUTED], BODY, [E.TEXT_EMPTY], WRITE))
    async def create_poll(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, data: JSONBody[PollIn]) -> PollOut:
        return await polls.create_poll(c, who, room_id, data)

    @get("/rooms/{room_id:str}/polls/{poll_id:str}", summary="A poll and its results", responses=refusals(TOKEN, ENTER, [E.NOT_FOUND]))
    async def poll(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, poll_id: str) -> PollOut:
        from service.actions.access import Intent, check_access

        check_access(c, who, room_id, Intent.READ)
        return polls.poll_out(polls.get_poll(c, room_id, poll_id), who.user_id)

    @post("/rooms/{room_id:str}/polls/{poll_id:str}/votes", status_code=200, summary="Vote once", responses=refusals(TOKEN, TAKE_PART, [E.HOLDOUT], BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def vote(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, poll_id: str, data: JSONBody[VoteIn]) -> PollOut:
        return await polls.vote(c, who, room_id, poll_id, data.option)

    @post("/rooms/{room_id:str}/polls/{poll_id:str}/close", status_code=200, summary="Close a poll", responses=refusals(TOKEN, TAKE_PART, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def close_poll(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, poll_id: str) -> PollOut:
        return await polls.close_poll(c, who, room_id, poll_id)
