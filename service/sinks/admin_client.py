"""The CLI's client of the running service's sink admin API (``X-Admin-Key``)."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from service.sinks.status import SinkStatus
from service.sinks.store import ErasureRecord


class ServiceUnreachable(Exception):
    """No service answered at the URL (the CLI then works on the log file directly)."""


class AdminError(Exception):
    """The service refused the call; the message is the service's own.

    A refusal of bad input reads as the API's line with where it was
    (``... - at `$.from_seq```), as the CLI's own checks do; any other carries its status.
    """

    def __init__(self, status: int, message: str, at: str | None = None) -> None:
        where = f" - at `{at}`"
        if at is None:
            text = f"HTTP {status}: {message}"
        else:
            text = message if message.endswith(where) else message + where
        super().__init__(text)
        self.status = status
        self.at = at


class AdminClient:
    """Calls ``/v1/admin/sinks`` of one service."""

    def __init__(self, base_url: str, admin_key: str, *, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"X-Admin-Key": admin_key}
        self._timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> bytes:
        try:
            response = httpx.request(
                method, f"{self._base}/v1/admin/sinks{path}", json=body, headers=self._headers,
                timeout=self._timeout,
            )  # fmt: skip
        except httpx.ConnectError as exc:
            raise ServiceUnreachable(f"no service at {self._base}") from exc
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                message, at = str(error["message"]), error.get("at")
            except (ValueError, KeyError, TypeError, AttributeError):
                message, at = response.text[:300], None
            raise AdminError(response.status_code, message, str(at) if at is not None else None)
        return response.content

    def status(self) -> list[SinkStatus]:
        return msgspec.json.decode(self._call("GET", "/"), type=list[SinkStatus])

    def replay(self, name: str, from_seq: int) -> SinkStatus:
        raw = self._call("POST", f"/{name}/replay", {"from_seq": from_seq})
        return msgspec.json.decode(raw, type=SinkStatus)

    def erase(self, user_id: str, requested_by: str) -> ErasureRecord:
        raw = self._call("POST", "/erasures", {"user_id": user_id, "requested_by": requested_by})
        return msgspec.json.decode(raw, type=ErasureRecord)
