"""The one error model: a machine code, an HTTP status, a WebSocket close code, a message.

Every refusal the service makes is a :class:`SidelineError`. HTTP answers it as
``{"error": {"code": ..., "message": ..., "at": ...}}`` with the code's status; the WebSocket
listener sends it as an ``error`` frame, or closes with the code's close code when the
connection cannot continue. Close codes live in reserved ranges: 4000-4099 authentication,
4100-4199 authorisation, 4200-4299 protocol, 4300-4399 flow control, 4400-4499 server.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.Enum):
    """Machine codes, each with (HTTP status, WebSocket close code)."""

    # authentication
    TOKEN_MISSING = (401, 4001)
    TOKEN_INVALID = (401, 4002)
    TOKEN_EXPIRED = (401, 4003)
    TOKEN_ALGORITHM = (401, 4004)
    ADMIN_KEY_INVALID = (401, 4005)
    AUTH_TIMEOUT = (401, 4006)
    DASHBOARD_KEY_INVALID = (401, 4007)
    # authorisation
    ROOM_NOT_ALLOWED = (403, 4101)
    ROLE_TOO_LOW = (403, 4102)
    ROOM_CLOSED = (403, 4103)
    # 4104 is unused: a room that takes no posts is `closed` (4103) or `reactions_only` (4105)
    REACTIONS_ONLY = (403, 4105)
    SPEAKERS_ONLY = (403, 4106)
    USER_MUTED = (403, 4107)
    USER_BANNED = (403, 4108)
    ORIGIN_NOT_ALLOWED = (403, 4109)
    HOLDOUT = (403, 4110)
    # protocol / validation
    INVALID_BODY = (400, 4201)
    INVALID_ROOM_ID = (400, 4202)
    UNKNOWN_ROOM_KIND = (400, 4203)
    TEXT_EMPTY = (400, 4204)
    TEXT_TOO_LONG = (400, 4205)
    NOT_FOUND = (404, 4206)
    CONFLICT = (409, 4207)
    BODY_TOO_LARGE = (413, 4208)
    UNKNOWN_FRAME = (400, 4209)
    NOT_JOINED = (400, 4210)
    MESSAGE_BLOCKED = (422, 4211)
    # flow control
    SLOW_MODE = (429, 4301)
    RATE_LIMITED = (429, 4302)
    SLOW_CONSUMER = (503, 4303)
    IDLE_TIMEOUT = (408, 4304)
    TOO_MANY_ROOMS = (429, 4305)
    # server
    LOG_UNAVAILABLE = (503, 4401)
    SHUTTING_DOWN = (503, 4402)
    INTERNAL = (500, 4403)
    SEND_IN_FLIGHT = (503, 4404)

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def close_code(self) -> int:
        return self.value[1]

    @property
    def slug(self) -> str:
        return self.name.lower()


class SidelineError(Exception):
    """A refusal with a machine code, a human message and, for bad input, where it was."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        at: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code.slug, "message": self.message}
        if self.at is not None:
            body["at"] = self.at
        if self.retry_after is not None:
            body["retry_after"] = round(self.retry_after, 3)
        return body
