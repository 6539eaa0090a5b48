"""Admin endpoints of the forwarder (``X-Admin-Key``): status, dead letters, replay, erasure.

The CLI (``sideline sinks status|replay``, ``sideline erase``) calls these while the service
runs, because only the service may open the log file. The forwarder is read from
``app.state.forwarder``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import SecurityRequirement
from litestar.params import JSONBody, Parameter
from litestar.types import Guard

from service.api.body import no_stray_body
from service.api.deps import admin_guard
from service.api.query import known_query_only
from service.api.responses import ADMIN, BODY, E, refusals
from service.errors import ErrorCode, SidelineError
from service.protocol.http import NOT_BLANK
from service.sinks.forwarder import Forwarder, UnknownSink
from service.sinks.status import SinkStatus
from service.sinks.store import DeadLetter, ErasureRecord, ReplayOutOfRange


class ReplayIn(msgspec.Struct, forbid_unknown_fields=True):
    """Forward again from ``from_seq`` (inclusive): 1 up to the log's last seq + 1."""

    from_seq: Annotated[int, msgspec.Meta(ge=1)]


class EraseIn(msgspec.Struct, forbid_unknown_fields=True):
    """Erase one user from the export and from everything forwarded afterwards."""

    user_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=NOT_BLANK)]
    requested_by: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NOT_BLANK)]
    """Who asked (an operator or ticket id); stored in the erasure record."""


def provide_forwarder(state: State) -> Forwarder:
    forwarder: Forwarder | None = getattr(state, "forwarder", None)
    if forwarder is None:
        raise SidelineError(ErrorCode.NOT_FOUND, "forwarding is not running on this node")
    return forwarder


def _unknown(name: str) -> SidelineError:
    return SidelineError(ErrorCode.NOT_FOUND, f"no sink named {name!r}", at="$.name")


class SinksController(Controller):
    path = "/v1/admin/sinks"
    tags: ClassVar[list[str]] = ["admin", "sinks"]  # type: ignore[misc]
    guards: ClassVar[list[Guard]] = [admin_guard, known_query_only, no_stray_body]  # type: ignore[misc]
    # named in the OpenAPI document
    security: ClassVar[list[SecurityRequirement]] = [{"adminKey": []}]  # type: ignore[misc]
    dependencies: ClassVar[dict[str, Provide]] = {  # type: ignore[misc]
        "forwarder": Provide(provide_forwarder, sync_to_thread=False)
    }

    @get("/", summary="Cursor, lag, throughput, errors and dead letters of every sink", responses=refusals(ADMIN, [E.NOT_FOUND]))
    async def list_sinks(self, forwarder: NamedDependency[Forwarder]) -> list[SinkStatus]:
        return forwarder.status()

    @get("/{name:str}/dead-letters", summary="The newest dead letters of one sink", responses=refusals(ADMIN, [E.INVALID_BODY, E.NOT_FOUND]))
    async def dead_letters(
        self,
        forwarder: NamedDependency[Forwarder],
        name: str,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> list[DeadLetter]:
        try:
            return await forwarder.dead_letters(name, limit)
        except UnknownSink:
            raise _unknown(name) from None

    @post("/{name:str}/replay", status_code=200, summary="Forward again from a seq", responses=refusals(ADMIN, BODY, [E.NOT_FOUND]))
    async def replay(
        self, forwarder: NamedDependency[Forwarder], name: str, data: JSONBody[ReplayIn]
    ) -> SinkStatus:
        try:
            return await forwarder.replay(name, data.from_seq)
        except UnknownSink:
            raise _unknown(name) from None
        except ReplayOutOfRange as exc:
            raise SidelineError(ErrorCode.INVALID_BODY, str(exc), at="$.from_seq") from None

    @post("/erasures", status_code=201, summary="Erase a user from the warehouse export", responses=refusals(ADMIN, BODY, [E.NOT_FOUND]))
    async def erase(
        self, forwarder: NamedDependency[Forwarder], data: JSONBody[EraseIn]
    ) -> ErasureRecord:
        return await forwarder.erase(data.user_id, data.requested_by)
