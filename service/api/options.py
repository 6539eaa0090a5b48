"""An OPTIONS answer's ``Allow`` lists every method of its path.

Litestar gives a path its OPTIONS handler when the path's first handler is registered, and that
handler lists the methods of the route as it was then: a second handler of the same path (the
PUT beside a room's GET) joins a route built afresh, and OPTIONS still answered ``GET, OPTIONS``.
This middleware sets ``Allow`` on an OPTIONS answer that carries one from the routes as finally
built, by the route template Litestar records on the scope. Other requests pass straight through.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send


def options_allow_middleware(app: ASGIApp) -> ASGIApp:
    allowed: dict[str, bytes] = {}
    """``Allow`` by route template, read from the app's routes on the first OPTIONS request."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "OPTIONS":
            await app(scope, receive, send)
            return
        if not allowed:
            for route in scope["app"].routes:
                if isinstance(route, HTTPRoute):
                    allowed[route.path_format] = ", ".join(sorted(route.methods)).encode()

        async def fix(message: Message) -> None:
            template = scope.get("path_template")
            if message["type"] == "http.response.start" and template in allowed:
                headers = message.get("headers") or []
                if any(name.lower() == b"allow" for name, _ in headers):
                    rest = [(n, v) for n, v in headers if n.lower() != b"allow"]
                    message = {**message, "headers": [*rest, (b"allow", allowed[template])]}
            await send(message)

        await app(scope, receive, fix)

    return middleware
