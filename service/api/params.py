"""Path and query parameters shared by the ``/v1`` controllers, with the rules they are checked
by stated in the OpenAPI document.

A room id's rule is checked by ``service.actions.access.check_room_id`` (``invalid_room_id``,
``unknown_room_kind``) and a restriction's kind by the handler (404 naming the kinds), so those
are stated for the document only (``schema_extra``): a constraint of the parameter would have
Litestar refuse first, with a plainer ``invalid_body``. A user id is checked here, bounded as
user ids are everywhere (a token's ``sub``, a body's ``user_id``).
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from service.domain.rooms import ROOM_ID_PATTERN

_ROOM = "Room id, `kind:key` (e.g. `match:123`), of a kind this node serves (`rooms.<kind>`)"

RoomId = Annotated[str, PathParameter(description=_ROOM, schema_extra={"pattern": ROOM_ID_PATTERN})]
RoomIdQuery = Annotated[str | None, QueryParameter(
    description=f"{_ROOM}; absent: every room", schema_extra={"pattern": ROOM_ID_PATTERN}
)]  # fmt: skip
UserIdPath = Annotated[str, PathParameter(min_length=1, max_length=128, description="A user id (a token's `sub`)")]
RestrictKind = Annotated[str, PathParameter(
    description="`mutes`, `bans` or `shadow-bans`; another is 404",
    schema_extra={"enum": ["mutes", "bans", "shadow-bans"]},
)]  # fmt: skip
LiftKind = Annotated[str, PathParameter(
    description="`mutes` or `bans` (lifting the ban lifts a shadow-ban too); another is 404",
    schema_extra={"enum": ["mutes", "bans"]},
)]  # fmt: skip
