"""Query parameters a ``/v1`` endpoint does not read are refused, not ignored.

Ignoring them answers a misspelt request as if the parameter had not been sent (``?before=5``
returns the newest page, not the one before seq 5), which the client cannot tell from a right
answer. :func:`known_query_only` is a guard on every ``/v1`` controller; the names it allows
are the ones Litestar itself reads for the route (the handler's signature and its dependencies,
by the name sent: ``scope`` for ``lift_scope``), so a handler's new parameter is known at once.
"""

from __future__ import annotations

import re
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.errors import ErrorCode, SidelineError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN: dict[tuple[Any, tuple[str, ...]], tuple[str, ...]] = {}
"""The query names each route reads, computed on its first request. Keyed by the handler's
function and path parameter names, not by the handler object: the object a guard receives did
not outlive the request (a weak cache by object was empty on every request, and computing the
names cost ~8% of the server's CPU under load)."""


def known_query(handler: BaseRouteHandler, path_params: Any) -> tuple[str, ...]:
    """The query parameter names Litestar reads for ``handler``, sorted."""
    key = (handler.fn, tuple(path_params))
    known = _KNOWN.get(key)
    if known is None:
        # Only the names of the path parameters are read: they are not query parameters.
        names: dict[str, Any] = dict.fromkeys(path_params)
        model = handler.create_kwargs_model(path_parameters=names)
        known = _KNOWN[key] = tuple(sorted(p.field_alias for p in model.expected_query_params))
    return known


async def known_query_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse the first query parameter the route does not read: 400 ``invalid_body`` at it.

    A coroutine because Litestar runs a plain function guard on a worker thread (a thread hop
    on every request, ~6% of the server's CPU under load).
    """
    known = known_query(handler, connection.path_params)
    for name in connection.query_params:
        if name not in known:
            raise unknown_parameter(name, known)


def unknown_parameter(name: str, known: tuple[str, ...]) -> SidelineError:
    shown = name[:64]
    at = f"$.{shown}" if _NAME.match(shown) else f"$[{shown!r}]"
    takes = ", ".join(f"`{k}`" for k in known) or "none"
    return SidelineError(
        ErrorCode.INVALID_BODY,
        f"unknown query parameter `{shown}` (this endpoint takes {takes}) - at `{at}`", at=at,
    )  # fmt: skip
