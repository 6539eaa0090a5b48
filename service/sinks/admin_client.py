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
    """The service refused the call; the message is the service's own."""


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
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:300]
            raise AdminError(f"HTTP {response.status_code}: {message}")
        return response.content

    def status(self) -> list[SinkStatus]:
        return msgspec.json.decode(self._call("GET", "/"), type=list[SinkStatus])

    def replay(self, name: str, from_seq: int) -> SinkStatus:
        raw = self._call("POST", f"/{name}/replay", {"from_seq": from_seq})
        return msgspec.json.decode(raw, type=SinkStatus)

    def erase(self, user_id: str, requested_by: str) -> ErasureRecord:
        raw = self._call("POST", "/erasures", {"user_id": user_id, "requested_by": requested_by})
        return msgspec.json.decode(raw, type=ErasureRecord)
