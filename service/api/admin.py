"""The server-to-server admin API (``X-Admin-Key``): rooms, roles, moderation across rooms."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, QueryParameter

from service.actions import moderators, policies, reports, rooms
from service.actions.access import check_room_id
from service.actions.context import Community
from service.api.body import no_stray_body
from service.api.deps import admin_guard, in_order, provide_community
from service.api.moderation import (
    DeleteReason,
    LiftReason,
    ModerationRecordOut,
    PinIn,
    RestrictionOut,
    _kind,
    _lift_kind,
    moderation_record,
)
from service.api.params import LiftKind, RestrictKind, RoomId, RoomIdQuery, UserIdPath
from service.api.query import known_query_only
from service.api.responses import ADMIN as ADMIN_KEY
from service.api.responses import BODY, ROOM, WRITE, E, refusals
from service.moderation.settings import Policy
from service.protocol.http import (
    DeletedOut,
    LiftedOut,
    RestrictIn,
    ReviewedOut,
    ReviewIn,
    RevokedOut,
    RoleGrantIn,
    RoleGrantOut,
    RoomConfigIn,
    RoomOut,
)

ADMIN = rooms.ADMIN_ACTOR


class AdminController(Controller):
    path = "/v1/admin"
    tags = ["admin"]
    guards = [in_order(admin_guard, known_query_only, no_stray_body)]  # the key first: a stranger learns nothing
    security = [{"adminKey": []}]  # named in the OpenAPI document
    dependencies = {"c": Provide(provide_community, sync_to_thread=False)}

    @get("/rooms/{room_id:str}", summary="A room's settings", responses=refusals(ADMIN_KEY, ROOM))
    async def room(self, c: NamedDependency[Community], room_id: RoomId) -> RoomOut:
        check_room_id(c, room_id)
        return rooms.room_out(c.state.room(room_id))

    @put("/rooms/{room_id:str}", summary="Create or configure a room", responses=refusals(ADMIN_KEY, ROOM, BODY, WRITE))
    async def configure(self, c: NamedDependency[Community], room_id: RoomId, data: JSONBody[RoomConfigIn]) -> RoomOut:
        return await rooms.configure(c, room_id, data, actor=ADMIN)

    @post("/rooms/{room_id:str}/close", status_code=200, summary="Close a room (read-only archive)", responses=refusals(ADMIN_KEY, ROOM, WRITE))
    async def close(self, c: NamedDependency[Community], room_id: RoomId) -> RoomOut:
        return await rooms.close_room(c, room_id)

    @post("/rooms/{room_id:str}/roles", status_code=200, summary="Grant a role in a room", responses=refusals(ADMIN_KEY, ROOM, BODY, WRITE))
    async def grant(self, c: NamedDependency[Community], room_id: RoomId, data: JSONBody[RoleGrantIn]) -> RoleGrantOut:
        await rooms.grant_role(c, room_id, data.user_id, data.role)
        return RoleGrantOut(user_id=data.user_id, role=data.role)

    @delete("/rooms/{room_id:str}/roles/{user_id:str}", status_code=200, summary="Revoke a granted role", responses=refusals(ADMIN_KEY, ROOM, WRITE))
    async def revoke(self, c: NamedDependency[Community], room_id: RoomId, user_id: UserIdPath) -> RevokedOut:
        return RevokedOut(revoked=await rooms.revoke_role(c, room_id, user_id))

    @delete("/rooms/{room_id:str}/messages/{message_id:str}", status_code=200, summary="Delete a message", responses=refusals(ADMIN_KEY, ROOM, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def delete_message(self, c: NamedDependency[Community], room_id: RoomId, message_id: str, reason: DeleteReason = "") -> DeletedOut:
        return DeletedOut(seq=await moderators.delete_message(c, ADMIN, room_id, message_id, reason))

    @post("/rooms/{room_id:str}/pin", status_code=200, summary="Pin one message (null unpins)", responses=refusals(ADMIN_KEY, ROOM, BODY, [E.NOT_FOUND], WRITE))
    async def pin(self, c: NamedDependency[Community], room_id: RoomId, data: JSONBody[PinIn]) -> RoomOut:
        await moderators.pin_message(c, ADMIN, room_id, data.message_id)
        return rooms.room_out(c.state.room(room_id))

    @post("/rooms/{room_id:str}/{kind:str}", status_code=201, summary="Mute, ban or shadow-ban (room or global scope)", responses=refusals(ADMIN_KEY, ROOM, BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def restrict(self, c: NamedDependency[Community], room_id: RoomId, kind: RestrictKind, data: JSONBody[RestrictIn]) -> RestrictionOut:
        name = _kind(kind)
        until = await moderators.restrict(c, ADMIN, room_id, name, data)
        return RestrictionOut(user_id=data.user_id, kind=name, until=until)

    @delete("/rooms/{room_id:str}/{kind:str}/{user_id:str}", status_code=200, summary="Lift a mute or ban", responses=refusals(ADMIN_KEY, ROOM, [E.INVALID_BODY, E.NOT_FOUND], WRITE))
    async def lift(
        self, c: NamedDependency[Community], room_id: RoomId, kind: LiftKind, user_id: UserIdPath,
        # ``scope`` itself is Litestar's reserved name for the ASGI scope
        lift_scope: Annotated[Literal["room", "global"], QueryParameter(name="scope")] = "room",
        reason: LiftReason = "",
    ) -> LiftedOut:  # fmt: skip
        return LiftedOut(lifted=await moderators.lift(c, ADMIN, room_id, _lift_kind(kind, user_id), user_id, lift_scope, reason))

    @get("/moderation/policies/{kind:str}", summary="The moderation policy of a room kind", responses=refusals(ADMIN_KEY, [E.UNKNOWN_ROOM_KIND, E.CONFLICT]))
    async def get_policy(self, c: NamedDependency[Community], kind: str) -> Policy:
        return policies.get_policy(c, kind)

    @put("/moderation/policies/{kind:str}", summary="Replace the moderation policy of a room kind", responses=refusals(ADMIN_KEY, [E.UNKNOWN_ROOM_KIND], BODY, [E.CONFLICT], WRITE))
    async def put_policy(self, c: NamedDependency[Community], kind: str, data: JSONBody[Policy]) -> Policy:
        return await policies.set_policy(c, kind, data, actor=ADMIN)

    @get("/review-queue", summary="Held and reported messages across rooms", responses=refusals(ADMIN_KEY, ROOM))
    async def review_queue(self, c: NamedDependency[Community], room_id: RoomIdQuery = None) -> list[reports.QueueItem]:
        return await reports.queue(c, room_id)

    @post("/rooms/{room_id:str}/review/{message_id:str}", status_code=200, summary="Decide on a queued message", responses=refusals(ADMIN_KEY, ROOM, BODY, [E.NOT_FOUND, E.CONFLICT], WRITE))
    async def review(self, c: NamedDependency[Community], room_id: RoomId, message_id: str, data: JSONBody[ReviewIn]) -> ReviewedOut:
        await reports.review(c, ADMIN, room_id, message_id, data.decision)
        return ReviewedOut(decision=data.decision)

    @get("/rooms/{room_id:str}/moderation-records/{message_id:str}", summary="Unmasked original", responses=refusals(ADMIN_KEY, ROOM, [E.NOT_FOUND]))
    async def record(self, c: NamedDependency[Community], room_id: RoomId, message_id: str) -> ModerationRecordOut:
        check_room_id(c, room_id)
        return await moderation_record(c, room_id, message_id)
