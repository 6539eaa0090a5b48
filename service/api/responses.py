"""The refusals each endpoint can answer, for its OpenAPI document.

Every refusal has the one body of ``service.errors`` (``{"error": {code, message, at}}``), not
Litestar's ``{status_code, detail}``. :func:`refusals` turns the error codes a handler can raise
into its ``responses``: one entry per status, its description listing the codes, so a client
generated from ``/schema/openapi.json`` knows every status and body it may get.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Annotated

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Meta

from service.errors import ErrorCode

E = ErrorCode


def _said(description: str) -> Meta:
    return Meta(description=description)


class ErrorDetail(msgspec.Struct, kw_only=True):
    code: Annotated[str, _said("Machine code; the response's description lists the possible ones.")]
    message: Annotated[str, _said("What was wrong, with the offending value where it helps.")]
    at: Annotated[str, _said(
        "Bad input only: the offending field (`$.options[2]`) or query parameter (`$.limit`)."
    )] | None = None  # fmt: skip
    retry_after: Annotated[float, _said(
        "Seconds to wait (`slow_mode`, `rate_limited`, `log_unavailable`, `send_in_flight`; until "
        "a timed `user_muted` or `user_banned` ends); also `Retry-After`."
    )] | None = None  # fmt: skip


class ErrorBody(msgspec.Struct, kw_only=True):
    """The body of every refusal."""

    error: ErrorDetail


TOKEN = (E.TOKEN_MISSING, E.TOKEN_INVALID, E.TOKEN_EXPIRED, E.TOKEN_ALGORITHM)
"""A user token, verified on every request."""
ADMIN = (E.ADMIN_KEY_INVALID,)
ROOM = (E.INVALID_ROOM_ID, E.UNKNOWN_ROOM_KIND)
"""The ``{room_id}`` of the path."""
ENTER = (*ROOM, E.ROOM_NOT_ALLOWED, E.USER_BANNED)
"""A user token's access to the room (reading)."""
TAKE_PART = (*ENTER, E.ROLE_TOO_LOW, E.ROOM_CLOSED)
MODERATE = (*ENTER, E.ROLE_TOO_LOW)
BODY = (E.INVALID_BODY, E.BODY_TOO_LARGE)
WRITE = (E.LOG_UNAVAILABLE,)
"""Anything that may append to the log."""

RETRY_NOTE = "(with `Retry-After`)"
"""In the description of a refusal that sends the header (declared by ``describe_answers``)."""
_RETRY = {E.SLOW_MODE, E.RATE_LIMITED, E.LOG_UNAVAILABLE, E.SEND_IN_FLIGHT, E.USER_MUTED, E.USER_BANNED}


QUERY = (E.INVALID_BODY, E.BODY_TOO_LARGE)
"""Every ``/v1`` operation refuses a query parameter it does not read (``service.api.query``),
and a body over ``server.max_body_bytes``, even one that reads no body."""


def refusals(*groups: Iterable[ErrorCode]) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for the error codes in ``groups`` and :data:`QUERY`, one entry per
    HTTP status."""
    by_status: dict[int, list[ErrorCode]] = defaultdict(list)
    for code in (code for group in (QUERY, *groups) for code in group):
        if code not in by_status[code.status]:
            by_status[code.status].append(code)
    return {
        status: ResponseSpec(
            data_container=ErrorBody, generate_examples=False, description=_describe(codes)
        )
        for status, codes in sorted(by_status.items())
    }


def _describe(codes: list[ErrorCode]) -> str:
    names = ", ".join(f"`{code.slug}`" for code in codes)
    retry = f" {RETRY_NOTE}" if any(code in _RETRY for code in codes) else ""
    return f"Refused{retry}: {names}"
