"""Routes of the chat panel: the page at ``/embed?room=...`` and its JS/CSS at ``/embed/static``.

The page is plain HTML; the token never travels in its URL's query string (it would reach
access logs and ``Referer`` headers): the host passes it in the ``#token=`` fragment, which
browsers never send to servers, or by ``postMessage`` from the embedding page. Security
headers: a Content-Security-Policy that allows only this origin's scripts, styles and
sockets, and ``frame-ancestors`` limited to ``server.allowed_origins``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from service.api.query import repeated_parameter
from service.domain.rooms import ROOM_ID_RE
from service.errors import ErrorCode, SidelineError

STATIC = Path(str(resources.files("service.embed") / "static"))


@cache
def _page() -> str:
    return (STATIC / "panel.html").read_text()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?\Z")
"""A Host header that can name a CSP source: a name or an IP literal, and a port. Anything else
(``x;frame-ancestors *``) would write its own directives into the policy."""


def security_headers(allowed: list[str], host: str) -> dict[str, str]:
    """CSP of the panel: its own origin only (its sockets named by the request's host, when
    that is a plain host), framed by the allowed origins."""
    ancestors = "*" if "*" in allowed else " ".join(["'self'", *allowed])
    sockets = f"ws://{host} wss://{host}" if _HOST.match(host) else ""
    csp = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {sockets}; frame-ancestors {ancestors}; base-uri 'none'; "
        "form-action 'none'"
    )
    return {
        "Content-Security-Policy": csp,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


@get("/embed", media_type=MediaType.HTML, include_in_schema=False, name="embed")
async def embed_page(request: Request[Any, Any, Any], room: str) -> Response[str]:
    """The chat panel for ``room`` (docs/embed.md)."""
    if (n := len(request.query_params.getall("room"))) > 1:
        # The page would check one and the panel read another (it reads the first).
        raise repeated_parameter("room", n)
    if not ROOM_ID_RE.fullmatch(room):
        raise SidelineError(
            ErrorCode.INVALID_ROOM_ID, f"room {room[:80]!r} is not of the form kind:key", at="$.room"
        )
    allowed: list[str] = request.app.state.settings.server.allowed_origins
    page = _page().replace("__PARENTS__", _escape(msgspec.json.encode(allowed).decode()))
    headers = security_headers(allowed, request.headers.get("host", ""))
    return Response(page, media_type=MediaType.HTML, headers=headers)


def embed_routes() -> list[Any]:
    """The route handlers the app registers for the panel."""
    static = create_static_files_router(
        path="/embed/static", directories=[STATIC], include_in_schema=False, name="embed-static",
        cache_control=CacheControlHeader(public=True, max_age=300),
    )  # fmt: skip
    return [embed_page, static]
