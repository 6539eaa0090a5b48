"""How an HTTP answer maps to the sink errors, the same way for every vendor.

- 2xx: accepted (the vendor adapter still checks the body where the vendor reports errors
  inside a 200).
- 408, 425, 429, 5xx (except 501, 505): transient; ``Retry-After`` is honoured.
- 401, 403, 404, 405, 501, 505: the sink is blocked (credentials, endpoint); nothing about
  the events is wrong, so they are retried later rather than dead-lettered.
- Any other 4xx (400, 413, 422 ...): the destination refused the content: permanent.
- 3xx: a redirect that reaches the sink was not followed, so nothing was delivered: blocked.
  A 301, 302 or 303 must never be followed either: the client would resend the POST as a GET
  without its body, and a page answering that GET would pass for a delivery. 307 and 308 keep
  the method and body; where a vendor's client follows them, only the final answer counts.

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
REDIRECTS_TO_GET = frozenset({301, 302, 303})
"""Redirects a client follows by resending a POST as a GET, without the events."""
TO_GET = (
    "following it would resend the POST as a GET without the events; set the configured host "
    "to the address it names"
)


def error_for_status(
    status: int, *, retry_after: str | None = None, detail: str = "", location: str | None = None
) -> SinkError | None:
    """The error a response with ``status`` means, or None when it was accepted; ``location``
    is where a redirect leads."""
    if 200 <= status < 300:
        return None
    reason = f"HTTP {status}" + (f": {detail[:300]}" if detail else "")
    if status in BLOCKED:
        return BlockedError(reason, retry_after=parse_retry_after(retry_after))
    if status in TRANSIENT_4XX or status >= 500 or status < 200:
        return TransientError(reason, retry_after=parse_retry_after(retry_after))
    if 300 <= status < 400:
        if location and status in REDIRECTS_TO_GET:
            return BlockedError(f"HTTP {status} to {location}: {TO_GET}")
        where = f"HTTP {status} to {location}" if location else reason
        return BlockedError(f"{where} (unexpected redirect: check the configured host)")
    return PermanentError(reason)


def unanswered(exc: Exception, reason: str, setting: str) -> SinkError:
    """The error a request that got no answer means: blocked when it could not be made as
    configured (``reason`` then points at ``setting``), transient otherwise."""
    if isinstance(exc, MISCONFIGURED):
        return BlockedError(f"{reason} (check the configured {setting})")
    return TransientError(reason)
