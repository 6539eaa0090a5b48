"""Query parameters a ``/v1`` endpoint does not read are refused, not ignored; so is one it
reads once that is given more than once.

Ignoring them answers a misspelt request as if the parameter had not been sent (``?before=5``
returns the newest page, not the one before seq 5), which the client cannot tell from a right
answer; Litestar reads a repeated scalar parameter as its last value (``?reason=a&reason=b``
records ``b``), which drops the others as silently. :func:`known_query_only` is a guard on every
``/v1`` controller; the names it allows are the ones Litestar itself reads for the route (the
handler's signature and its dependencies, by the name sent: ``scope`` for ``lift_scope``), so a
handler's new parameter is known at once, and one it declares as a list may repeat.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.errors import ErrorCode, SidelineError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Taken(NamedTuple):
    """The query parameters one route reads."""

    names: tuple[str, ...]
    """Every name, sorted (as the refusals list them)."""
    lists: frozenset[str]
    """The names the handler declares as a list: every value is read, so they may repeat."""
    ints: frozenset[str]
    """The names the handler declares as an int (or int | None): their value must be digits."""


_KNOWN: dict[tuple[Any, tuple[str, ...]], Taken] = {}
"""The query names each route reads, computed on its first request. Keyed by the handler's
function and path parameter names, not by the handler object: the object a guard receives did
not outlive the request (a weak cache by object was empty on every request, and computing the
names cost ~8% of the server's CPU under load)."""


def known_query(handler: BaseRouteHandler, path_params: Any) -> Taken:
    """The query parameters Litestar reads for ``handler``."""
    key = (handler.fn, tuple(path_params))
    known = _KNOWN.get(key)
    if known is None:
        # Only the names of the path parameters are read: they are not query parameters.
        names: dict[str, Any] = dict.fromkeys(path_params)
        params = handler.create_kwargs_model(path_parameters=names).expected_query_params
        declared = handler.parsed_fn_signature.parameters
        known = _KNOWN[key] = Taken(
            names=tuple(sorted(p.field_alias for p in params)),
            lists=frozenset(p.field_alias for p in params if p.is_sequence),
            ints=frozenset(
                p.field_alias for p in params
                if (d := declared.get(p.field_name)) is not None
                and (d.is_subclass_of(int) or (d.is_optional and d.has_inner_subclass_of(int)))
                and not d.is_subclass_of(bool)
            ),
        )  # fmt: skip
    return known


async def known_query_only(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Refuse the first query parameter the route does not read, or reads once but was given
    more than once: 400 ``invalid_body`` at it.

    A coroutine because Litestar runs a plain function guard on a worker thread (a thread hop
    on every request, ~6% of the server's CPU under load).
    """
    query = connection.query_params
    if not query:
        return
    known = known_query(handler, connection.path_params)
    seen: set[str] = set()
    for name in query:
        if name not in known.names:
            raise unknown_parameter(name, known.names)
        if name in known.ints and not _INT.match(value := query[name]):
            raise not_an_integer(name, value)
        seen.add(name)
    if len(query) > len(seen):  # more values than names: some name was given more than once
        for name in query:
            if name not in known.lists and (n := len(query.getall(name))) > 1:
                raise repeated_parameter(name, n)


def unknown_parameter(name: str, known: tuple[str, ...]) -> SidelineError:
    shown, at = _located(name)
    takes = ", ".join(f"`{k}`" for k in known) or "none"
    return SidelineError(
        ErrorCode.INVALID_BODY,
        f"unknown query parameter `{shown}` (this endpoint takes {takes}) - at `{at}`", at=at,
    )  # fmt: skip


_INT = re.compile(r"^-?[0-9]{1,18}\Z")
"""An int as a query gives it: digits, no ``1e0``, ``2.0``, ``+3`` or spaces (Litestar's own
conversion takes the first two as 1 and 2)."""


def not_an_integer(name: str, value: str) -> SidelineError:
    shown, at = _located(name)
    return SidelineError(
        ErrorCode.INVALID_BODY,
        f"query parameter `{shown}` must be an integer (digits only), not {value[:32]!r} - at `{at}`",
        at=at,
    )  # fmt: skip


def repeated_parameter(name: str, times: int) -> SidelineError:
    shown, at = _located(name)
    return SidelineError(
        ErrorCode.INVALID_BODY,
        f"query parameter `{shown}` is given {times} times (this endpoint reads one value) "
        f"- at `{at}`", at=at,
    )  # fmt: skip


def _located(name: str) -> tuple[str, str]:
    """The name as shown (at most 64 characters) and its path: ``$.name``, or ``$['a b']``."""
    shown = name[:64]
    return shown, f"$.{shown}" if _NAME.match(shown) else f"$[{shown!r}]"
