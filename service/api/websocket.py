"""The one WebSocket endpoint, ``/v1/ws``: Origin check, then a :class:`Session`.

Litestar's CORS middleware does not look at WebSocket handshakes, so the Origin check is
here, before the handshake is accepted. Browsers always send ``Origin``; a page may connect
when its origin (scheme, host and port) is exactly one of ``server.allowed_origins`` (``*``
allows any) or this service's own origin, that of ``public_url`` (the embedded panel, which
defaults to ``http://host:port``). The request's ``Host`` header is never the measure: with
DNS rebinding an attacker's page reaches this server under the attacker's host name, and its
``Origin`` equals the ``Host`` it sends. Clients that are not browsers send no ``Origin`` and
are not subject to it (they could forge it anyway); the token is what authenticates them. A
refused handshake is answered ``403`` with the error body naming close code 4109; servers
without the ASGI denial-response extension answer a plain 403.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Litestar, WebSocket, websocket
from litestar.enums import ScopeType
from litestar.exceptions import WebSocketDisconnect
from litestar.types import ASGIApp, Receive, Scope, Send

from service.errors import ErrorCode, SidelineError
from service.realtime.outbox import RAW_SEND
from service.realtime.session import Session

log = logging.getLogger(__name__)


def expose_raw_send(app: Litestar) -> None:
    """Let the socket handler send through the server's own ``send``.

    Litestar wraps ``send`` in two exception-handler layers and a state check; for HTTP that
    is how error responses work, for a socket's frames it is three extra coroutines per
    delivery, the largest cost of fan-out after the write itself (benchmarks/fanout.py). The
    handler still uses the wrapped ``send`` for the handshake and closes before ``accept``.
    """
    inner: ASGIApp = app.asgi_handler

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.WEBSOCKET:
            scope[RAW_SEND] = send  # type: ignore[literal-required]
        await inner(scope, receive, send)

    app.asgi_handler = handler


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_key(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin like ``https://app.example:8443``, else None.

    Host names compare case-insensitively and a default port may be left out (as browsers
    do); anything that is not a bare http(s) origin (a path, user info, ``null``) is None.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def origin_allowed(origin: str | None, allowed: list[str], own: str) -> bool:
    """May a page served from ``origin`` open a socket here? ``own``: this service's URL."""
    if origin is None or "*" in allowed:
        return True
    key = origin_key(origin)
    return key is not None and key in {origin_key(a) for a in [*allowed, own]}


async def _refuse(socket: WebSocket[Any, Any, Any], err: SidelineError) -> None:
    if "websocket.http.response" in (socket.scope.get("extensions") or {}):
        body = msgspec.json.encode({"error": {**err.to_dict(), "close_code": err.code.close_code}})
        start: Any = {
            "type": "websocket.http.response.start", "status": err.code.status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        end: Any = {"type": "websocket.http.response.body", "body": body}
        await socket.send(start)
        await socket.send(end)
        return
    await socket.close(code=err.code.close_code, reason=err.message[:120])


@websocket("/v1/ws", name="realtime")
async def realtime_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Chat in real time: frames and close codes in docs/protocol.md."""
    state = socket.app.state
    origin = socket.headers.get("origin")
    settings = state.settings
    if not origin_allowed(origin, settings.server.allowed_origins, settings.public_url):
        await _refuse(socket, SidelineError(
            ErrorCode.ORIGIN_NOT_ALLOWED,
            f"origin {str(origin)[:100]!r} may not open sockets here: it is neither in "
            "server.allowed_origins nor this service's own (server.public_url)",
        ))  # fmt: skip
        return
    metrics = getattr(state, "metrics", None)
    if metrics is not None:
        metrics.sockets.inc()
    try:
        await Session(state.hub, socket, state.verifier).run()
    except WebSocketDisconnect:
        raise
    except Exception:  # a bug: the socket closes with 4500, and the operator is told why
        log.exception("WebSocket session failed")
        raise
    finally:
        if metrics is not None:
            metrics.sockets.dec()
