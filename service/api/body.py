"""Request bodies are decoded strictly, once, straight into the handler's ``data`` type.

Litestar would parse the JSON into builtins and convert them with msgspec in lax mode, where
``"1"``, ``"1e0"`` and ``1.0`` all pass as the int ``1``. :class:`StrictRequest` (the app's
request class) decodes the raw bytes with a strict msgspec decoder instead, as the WebSocket
frames are decoded: a string is not an int, a float is not an int. Litestar's own conversion
then receives a value of the declared type and passes it through unchanged, and the OpenAPI
schema still comes from the ``data: JSONBody[...]`` annotations.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from service.errors import ErrorCode, SidelineError
from service.protocol.http import invalid_body


@functools.cache
def _decoder(target: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(target, strict=True)


def decode_body(body: bytes, target: Any) -> Any:
    """``body`` as a ``target``, or the ``invalid_body`` refusal naming what is wrong and where."""
    try:
        return _decoder(target).decode(body)
    except msgspec.ValidationError as exc:
        raise invalid_body(exc, **_input(exc, body, target)) from None
    except msgspec.DecodeError as exc:
        message = f"body is not valid JSON: {exc}"
        raise SidelineError(ErrorCode.INVALID_BODY, message, at="$") from None
    except UnicodeDecodeError as exc:
        raise _not_utf8(body, exc) from None


def _input(exc: msgspec.ValidationError, body: bytes, target: Any) -> dict[str, Any]:
    """What :func:`invalid_body` needs to name a map's key in the error's path: the body as
    builtins (decoded again only then; left out if the rest of it is not JSON)."""
    if "[...]" not in str(exc):
        return {}
    try:
        return {"raw": msgspec.json.decode(body), "target": target}
    except msgspec.DecodeError:
        return {}


def _not_utf8(body: bytes, exc: UnicodeDecodeError) -> SidelineError:
    # msgspec counts from the start of the string it was reading; the client needs the body offset
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as whole:
        exc = whole
    bad = exc.object[exc.start : exc.start + 1].hex()
    return SidelineError(
        ErrorCode.INVALID_BODY,
        f"body is not valid UTF-8 JSON: byte 0x{bad} at offset {exc.start} ({exc.reason})", at="$",
    )  # fmt: skip


class StrictRequest(Request[Any, Any, Any]):
    """A request whose JSON body decodes strictly into the handler's ``data`` annotation."""

    async def json(self) -> Any:
        """The body as the handler's ``data`` type (Litestar calls this once per request).

        An empty body never gets here: Litestar reports the missing ``data`` itself, and
        ``service.api.errors`` words that as an empty body.
        """
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is None:
            return await super().json()
        return decode_body(await self.body(), data.annotation)


async def no_stray_body(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A body sent to an endpoint that reads none is refused (400 ``invalid_body`` at ``$``), as
    an unknown query parameter is, not ignored: ignoring it answers a request the client did not
    mean (a join "with" options) as if it were right. An empty body and ``{}`` pass, for clients
    that always send JSON; one over ``server.max_body_bytes`` is 413 as anywhere.

    A guard on every ``/v1`` controller; a coroutine, as :func:`service.api.query.known_query_only`.
    """
    if "data" in handler.parsed_fn_signature.parameters or not isinstance(connection, Request):
        return
    headers = connection.headers
    if headers.get("content-length", "0") == "0" and "transfer-encoding" not in headers:
        return
    body = await connection.body()  # at most request_max_body_size: Litestar answers 413 past it
    if not body.strip() or _is_empty_object(body):
        return
    raise SidelineError(
        ErrorCode.INVALID_BODY,
        f"this endpoint takes no body (send none, or {{}}); {len(body)} bytes were sent - at `$`",
        at="$",
    )  # fmt: skip


def _is_empty_object(body: bytes) -> bool:
    try:
        return bool(msgspec.json.decode(body) == {})
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
