"""Request-scoped dependencies: the caller's identity and the admin guard."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.actions.context import Community
from service.errors import ErrorCode, SidelineError
from service.identity import Identity, TokenVerifier


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def community_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Community:
    community: Community = connection.app.state.community
    return community


_IDENTITY = "sideline.identity"

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None] | None]


def in_order(*guards: Guard) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]:
    """One guard that runs ``guards`` in order, on the event loop, the first refusal raised.

    Litestar copies the route handler for every guard it calls (a shallow copy of a large
    object, ~10 µs) and runs a plain function guard on a worker thread; a controller's three
    guards cost three copies on every request, and the admin key's check a thread hop."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        for each in guards:
            result = each(connection, handler)
            if result is not None:
                await result

    guard.__name__ = "+".join(g.__name__ for g in guards)
    return guard


async def token_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Verify the bearer token on every request (nothing is cached per client), first: before
    the query and the body are looked at, so a caller without a valid token learns nothing
    but 401 (as the admin key is checked first). A coroutine, not run on a worker thread.
    ``OPTIONS`` needs none: it reads nothing of the user's, and says what the OpenAPI document
    says (the path's methods)."""
    if connection.scope.get("method") == "OPTIONS":
        return
    verifier: TokenVerifier = connection.app.state.verifier
    connection.state[_IDENTITY] = verifier.verify(bearer(connection.headers.get("authorization")))


def provide_identity(request: Request[Any, Any, Any]) -> Identity:
    """The identity :func:`token_guard` verified for this request."""
    identity: Identity = request.state[_IDENTITY]
    return identity


def provide_community(request: Request[Any, Any, Any]) -> Community:
    return community_of(request)


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Server-to-server calls carry ``X-Admin-Key``; compared in constant time."""
    expected: str = connection.app.state.admin_key
    given = connection.headers.get("x-admin-key", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise SidelineError(ErrorCode.ADMIN_KEY_INVALID, "missing or wrong X-Admin-Key")
