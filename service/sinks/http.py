"""How an HTTP answer maps to the sink errors, the same way for every vendor.

- 2xx: accepted (the vendor adapter still checks the body where the vendor reports errors
  inside a 200).
- 408, 425, 429, 5xx (except 501, 505): transient; ``Retry-After`` is honoured.
- 401, 403, 404, 405, 501, 505: the sink is blocked (credentials, endpoint); nothing about
  the events is wrong, so they are retried later rather than dead-lettered.
- Any other 4xx (400, 413, 422 ...): the destination refused the content: permanent.

A request that got no answer is transient (network, timeout), unless it could not be made as
configured (:data:`MISCONFIGURED`): then the sink is blocked until the configuration changes.
"""

from __future__ import annotations

import httpx
import requests

from service.sinks.base import BlockedError, PermanentError, SinkError, TransientError
from service.sinks.retry import parse_retry_after

TRANSIENT_4XX = frozenset({408, 425, 429})
BLOCKED = frozenset({401, 403, 404, 405, 501, 505})
MISCONFIGURED: tuple[type[Exception], ...] = (
    requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema, requests.exceptions.URLRequired,
    requests.exceptions.TooManyRedirects,
    httpx.UnsupportedProtocol, httpx.InvalidURL, httpx.TooManyRedirects,
)  # fmt: skip
"""Failures of a request that no retry can mend: no http(s) URL to send to, a redirect loop."""


def error_for_status(
    status: int, *, retry_after: str | None = None, detail: str = ""
) -> SinkError | None:
    """The error a response with ``status`` means, or None when it was accepted."""
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}" + (f": {detail[:300]}" if detail else "")
    if status in BLOCKED:
        return BlockedError(reason, retry_after=parse_retry_after(retry_after))
    if status in TRANSIENT_4XX or status >= 500 or status < 200:
        return TransientError(reason, retry_after=parse_retry_after(retry_after))
    if 300 <= status < 400:
        return BlockedError(f"{reason} (unexpected redirect: check the configured host)")
    return PermanentError(reason)


def unanswered(exc: Exception, reason: str, setting: str) -> SinkError:
    """The error a request that got no answer means: blocked when it could not be made as
    configured (``reason`` then points at ``setting``), transient otherwise."""
    if isinstance(exc, MISCONFIGURED):
        return BlockedError(f"{reason} (check the configured {setting})")
    return TransientError(reason)
