"""Moderator endpoints (a user token whose role in the room is ``moderator``).

The same tools are open to the host backend through ``/v1/admin`` (see admin.py).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from service.actions import messages, moderators, reports, rooms
from service.actions.access import Access, Intent, check_access
from service.actions.context import Community
from service.api.body import no_stray_body
from service.api.deps import in_order, provide_community, provide_identity, token_guard
from service.api.params import LiftKind, RestrictKind, RoomId, UserIdPath
from service.api.query import known_query_only
from service.api.responses import BODY, ENTER, MODERATE, TOKEN, WRITE, E, refusals
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import (
    REASON_MAX,
    DeletedOut,
    LiftedOut,
    MessageOut,
    RestrictIn,
    ReviewedOut,
    ReviewIn,
    RoomConfigIn,
    RoomOut,
)

DeleteReason = Annotated[str, QueryParameter(
    max_length=REASON_MAX,
    description=f"Why, for the moderation audit (the event's `reason`); at most {REASON_MAX} "
    "characters, trimmed; absent or blank records `moderator`.",
)]  # fmt: skip
"""A delete's reason, limited as a mute's or ban's. A query parameter, not a body: DELETE
bodies are dropped or refused by many clients and proxies."""
LiftReason = Annotated[str, QueryParameter(
    max_length=REASON_MAX,
    description=f"Why, for the moderation audit (the event's `reason`, as a mute's or ban's); at "
    f"most {REASON_MAX} characters, trimmed.",
)]  # fmt: skip


class PinIn(msgspec.Struct, forbid_unknown_fields=True):
    message_id: str | None


class RestrictionOut(msgspec.Struct):
    user_id: str
    kind: str
    until: str | None


class ModerationRecordOut(msgspec.Struct):
    message_id: str
    user_id: str
    original: str
    recorded_at: str


async def moderation_record(c: Community, room_id: str, message_id: str) -> ModerationRecordOut:
    """The unmasked original of a masked or held message: moderators and admin only."""
    found = await messages.moderation_record(c, room_id, message_id)
    if found is None:
        raise SidelineError(ErrorCode.NOT_FOUND, f"no moderation record for message {message_id}", at="$.message_id")
    m, u, original, at = found
    return ModerationRecordOut(message_id=m, user_id=u, original=original, recorded_at=at.isoformat())


def _moderator(c: Community, who: Identity, room_id: str) -> Access:
    return check_access(c, who, room_id, Intent.MODERATE)


class ModeratorController(Controller):
    path = "/v1/rooms/{room_id:str}"
    tags = ["moderation"]
    guards = [in_order(token_guard, known_query_only, no_stray_body)]  # the token first: a stranger learns nothing
    security = [{"userToken": []}]  # named in the OpenAPI document
    dependencies = {"who": Provide(provide_identity, sync_to_thread=False), "c": Provide(provide_community, sync_to_thread=False)}

    # Litestar refuses one path from two controllers (their OPTIONS handlers clash), so a
    # reader's GET of a message lives here, beside the moderator's DELETE of it.
    @get("/messages/{message_id:str}", tags=["chat"], summary="One message, as the caller's history shows it", responses=refusals(TOKEN, ENTER, [E.NOT_FOUND]))
    async def message(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str) -> MessageOut:
        return await messages.message(c, who, room_id, message_id)

    @delete("/messages/{message_id:str}", status_code=200, summary="Delete a message", responses=refusals(TOKEN, MODERATE, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def delete_message(
        self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str,
        reason: DeleteReason = "",
    ) -> DeletedOut:  # fmt: skip
        _moderator(c, who, room_id)
        return DeletedOut(seq=await moderators.delete_message(c, who.user_id, room_id, message_id, reason))

    @post("/pin", status_code=200, summary="Pin one message (null unpins)", responses=refusals(TOKEN, MODERATE, BODY, [E.NOT_FOUND], WRITE))
    async def pin(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, data: JSONBody[PinIn]) -> RoomOut:
        access = _moderator(c, who, room_id)
        await moderators.pin_message(c, who.user_id, room_id, data.message_id)
        return rooms.room_out(c.state.room(room_id), access.role)

    @patch("/settings", summary="Change mode, slow mode, max message length", responses=refusals(TOKEN, MODERATE, BODY, WRITE))
    async def settings(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, data: JSONBody[RoomConfigIn]) -> RoomOut:
        return await rooms.moderator_configure(c, who, room_id, data)

    @post("/{kind:str}", status_code=201, summary="Mute, ban or shadow-ban a user (kind: mutes, bans, shadow-bans)", responses=refusals(TOKEN, MODERATE, BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def restrict(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, kind: RestrictKind, data: JSONBody[RestrictIn]) -> RestrictionOut:
        _moderator(c, who, room_id)
        if data.scope == "global":
            raise SidelineError(ErrorCode.ROLE_TOO_LOW, "global restrictions go through the admin API", at="$.scope")
        name = _kind(kind)
        until = await moderators.restrict(c, who.user_id, room_id, name, data)
        return RestrictionOut(user_id=data.user_id, kind=name, until=until)

    @delete("/{kind:str}/{user_id:str}", status_code=200, summary="Lift a mute or ban", responses=refusals(TOKEN, MODERATE, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def lift(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, kind: LiftKind, user_id: UserIdPath, reason: LiftReason = "") -> LiftedOut:
        _moderator(c, who, room_id)
        return LiftedOut(lifted=await moderators.lift(c, who.user_id, room_id, _lift_kind(kind, user_id), user_id, reason=reason))

    @get("/review-queue", summary="Held and reported messages of this room", responses=refusals(TOKEN, MODERATE))
    async def review_queue(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId) -> list[reports.QueueItem]:
        _moderator(c, who, room_id)
        return await reports.queue(c, room_id)

    @post("/review/{message_id:str}", status_code=200, summary="Approve, reject or delete a queued message", responses=refusals(TOKEN, MODERATE, BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def review(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str, data: JSONBody[ReviewIn]) -> ReviewedOut:
        _moderator(c, who, room_id)
        await reports.review(c, who.user_id, room_id, message_id, data.decision)
        return ReviewedOut(decision=data.decision)

    @get("/moderation-records/{message_id:str}", summary="Unmasked original of a masked or held message", responses=refusals(TOKEN, MODERATE, [E.NOT_FOUND]))
    async def record(self, c: NamedDependency[Community], who: NamedDependency[Identity], room_id: RoomId, message_id: str) -> ModerationRecordOut:
        _moderator(c, who, room_id)
        return await moderation_record(c, room_id, message_id)


_KINDS = {"mutes": "mute", "bans": "ban", "shadow-bans": "shadow"}


def _kind(segment: str) -> str:
    if segment not in _KINDS:
        raise SidelineError(
            ErrorCode.NOT_FOUND, f"unknown restriction {segment!r} (mutes, bans, shadow-bans)", at="$.kind"
        )
    return _KINDS[segment]


def _lift_kind(segment: str, user_id: str) -> str:
    """The restriction a ``DELETE .../{kind}/{user_id}`` lifts: a mute or a ban. A shadow-ban
    has no lift of its own (unbanning lifts it), and the refusal says so rather than naming
    the internal kind."""
    if segment == "shadow-bans":
        raise SidelineError(
            ErrorCode.NOT_FOUND,
            f"a shadow-ban is lifted by lifting the ban: DELETE .../bans/{user_id} (this path lifts mutes, bans)",
            at="$.kind",
        )
    return _kind(segment)
