"""A browser's preflight from an origin the API does not allow gets the one error body.

Litestar's CORS middleware (configured from ``server.allowed_origins`` in ``create_app``)
answers such a preflight ``400 text/plain "Disallowed CORS Origin"``, the one refusal of the
service without a machine code. This wrapper around it answers exactly the preflights it would
refuse for their origin (Litestar's test: an ``OPTIONS`` with an ``Origin`` that the same
:class:`CORSConfig` does not allow) with 403 ``origin_not_allowed``, the code the WebSocket
handshake refuses an origin with. Everything else reaches Litestar's middleware unchanged:
allowed preflights, and the CORS headers of every other request.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from service.api.errors import error_response
from service.errors import ErrorCode, SidelineError


def refused_origin(origin: str) -> SidelineError:
    return SidelineError(
        ErrorCode.ORIGIN_NOT_ALLOWED,
        f"origin {origin[:100]!r} may not call this API from a browser: it is not in server.allowed_origins",
        at="Origin",
    )


def preflight_refusal_middleware(app: ASGIApp, cors: CORSConfig) -> ASGIApp:
    """``app`` (Litestar's handler, its CORS middleware outermost) with a refused preflight
    answered as :func:`refused_origin`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        origin = None
        if scope["type"] == ScopeType.HTTP and scope["method"] == "OPTIONS":
            origin = Headers.from_scope(scope).get("origin")
        if not origin or cors.is_origin_allowed(origin):
            await app(scope, receive, send)
            return
        request = scope["litestar_app"].request_class(scope=scope, receive=receive, send=send)
        answer = error_response(refused_origin(origin)).to_asgi_response(app=None, request=request)
        await answer(scope, receive, send)

    return middleware
