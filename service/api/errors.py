"""Translate every refusal into the one error body: ``{"error": {code, message, at}}``.

Request bodies are decoded strictly by ``service.api.body`` and refused there. What is left for
Litestar to validate are path and query parameters and a missing body: its signature model
names them by the handler's parameter names, so the original msgspec error (kept as the
exception's cause) is translated to what the client sent (``?scope=`` for ``lift_scope``,
an empty body for ``data``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)

from service.errors import ErrorCode, SidelineError

log = logging.getLogger(__name__)
_AT = re.compile(r" - at `(?P<at>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_PARAM = re.compile(r"^\$\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>.*)$")
_EMPTY_BODY = "request body is empty; this endpoint expects a JSON body"


def error_response(err: SidelineError) -> Response[Any]:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(err.retry_after)))
    return Response(
        {"error": err.to_dict()}, status_code=err.code.status, headers=headers,
        media_type=MediaType.JSON,
    )  # fmt: skip


def handle_sideline_error(_: Request[Any, Any, Any], exc: SidelineError) -> Response[Any]:
    return error_response(exc)


def _exact_validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> SidelineError | None:
    """The msgspec error Litestar wrapped, with its path in the client's names."""
    cause = exc.__cause__
    if not isinstance(cause, msgspec.ValidationError):
        return None
    text = str(cause)
    m = _AT.search(text)
    at = m.group("at") if m else "$"
    message = _AT.sub("", text)
    missing = _MISSING.match(message)
    if missing and at == "$":
        if missing.group("name") == "data":  # Litestar's name for the body
            return SidelineError(ErrorCode.INVALID_BODY, _EMPTY_BODY, at="$")
        message = f"missing required parameter `{_client_name(request, missing.group('name'))}`"
    elif param := _PARAM.match(at):
        name, rest = param.group("name"), param.group("rest")
        at = "$" + rest if name == "data" else f"$.{_client_name(request, name)}{rest}"
    return SidelineError(ErrorCode.INVALID_BODY, f"{message} - at `{at}`", at=at)


def _client_name(request: Request[Any, Any, Any], name: str) -> str:
    """The query/header name a handler parameter is read from (``scope`` for ``lift_scope``)."""
    param = request.route_handler.parsed_fn_signature.parameters.get(name)
    kwarg = param.kwarg_definition if param is not None else None
    for attr in ("name", "query", "header", "cookie"):
        alias = getattr(kwarg, attr, None)
        if isinstance(alias, str) and alias:
            return alias
    return name


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if isinstance(exc, ValidationException):
        exact = _exact_validation_error(request, exc)
        if exact is not None:
            return error_response(exact)
        detail = exc.detail
        if isinstance(exc.extra, list) and exc.extra:
            detail = "; ".join(str(e.get("message", e)) for e in exc.extra if isinstance(e, dict))
        return error_response(SidelineError(ErrorCode.INVALID_BODY, detail))
    if isinstance(exc, NotFoundException):
        return error_response(SidelineError(ErrorCode.NOT_FOUND, f"no such resource: {request.url.path}"))
    if isinstance(exc, MethodNotAllowedException):
        # RFC 9110 requires the Allow header Litestar's router set on the exception
        # (sorted, as an OPTIONS answer lists them)
        allow = ", ".join(sorted(m.strip() for m in (exc.headers or {}).get("allow", "").split(",") if m.strip()))
        message = f"{request.method[:32]} is not allowed here" + (f" (allowed: {allow})" if allow else "")
        body = {"error": {"code": "method_not_allowed", "message": message}}
        headers = {**(exc.headers or {}), "allow": allow} if allow else exc.headers
        return Response(body, status_code=405, headers=headers, media_type=MediaType.JSON)
    if exc.status_code == 400:
        return error_response(SidelineError(ErrorCode.INVALID_BODY, f"body is not valid: {exc.detail}", at="$"))
    if exc.status_code == 413:
        return error_response(SidelineError(ErrorCode.BODY_TOO_LARGE, "request body is too large"))
    body = {"error": {"code": f"http_{exc.status_code}", "message": exc.detail}}
    return Response(body, status_code=exc.status_code, headers=exc.headers, media_type=MediaType.JSON)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(SidelineError(ErrorCode.INTERNAL, "internal error"))
