"""GA4 Measurement Protocol over httpx.

A request carries one user's events (one ``client_id``/``user_id``), at most 25 of them, so a
batch becomes one request per user and chunk, sent a few at a time. GA4 has no dedup key: to
avoid duplicating on a retry, the sink remembers which events of an unfinished batch were
already accepted and skips them when the forwarder retries (lost only in a crash).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import msgspec

from service.domain.events import Event
from service.sinks.base import (
    BlockedError,
    Delivery,
    RedactingFilter,
    Rejected,
    TransientError,
    redact_secrets,
)
from service.sinks.batch import Batch
from service.sinks.ga4_mapping import (
    MAX_BODY_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_USER_ID,
    client_id,
    map_event,
)  # fmt: skip
from service.sinks.http import error_for_status, unanswered
from service.sinks.privacy import PropertyPolicy
from service.sinks.settings import GA4SinkSettings
from service.sinks.uploads import Uploads

_encode = msgspec.json.Encoder().encode
_MAX_REMEMBERED = 1_000_000
_REDACT_HTTPX = RedactingFilter("api_secret=", re.compile(r"(api_secret=)[^&#\s\"']+"), r"\1***")
"""Blanks ``api_secret`` query values in httpx's records (the one logger httpx writes to).

The Measurement Protocol takes the secret only in the query, and httpx logs every request URL
at INFO. That is silent today only because importing ``mixpanel`` turns the httpx logger down
to ERROR; this filter keeps the secret out whatever any library sets.
"""


class GA4Sink:
    """Forwards events to one GA4 data stream."""

    kind = "ga4"

    def __init__(self, settings: GA4SinkSettings, *, api_secret: str) -> None:
        self._settings = settings
        self._params = {"measurement_id": settings.measurement_id, "api_secret": api_secret}
        self._policy = PropertyPolicy.of(settings)
        self._max_age = timedelta(hours=settings.max_age_hours)
        self._client: httpx.Client | None = None
        self._accepted: set[str] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"ga4-{settings.name}")
        self._uploads = ThreadPoolExecutor(
            settings.concurrency, thread_name_prefix=f"ga4-{settings.name}-upload"
        )

    @property
    def name(self) -> str:
        return self._settings.name

    async def start(self) -> None:
        _REDACT_HTTPX.install("httpx")
        # A blocking client on threads: per request it costs a third of the CPU of the async
        # one at the same concurrency, and CPU is what bounds a backlog drain.
        self._client = httpx.Client(
            base_url=self._settings.base_url,
            timeout=self._settings.timeout_seconds,
            limits=httpx.Limits(max_connections=self._settings.concurrency),
        )

    async def recover(self, cursor: int) -> int:
        return cursor

    async def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._uploads.shutdown(wait=True)
        if self._client is not None:
            self._client.close()
            self._client = None

    def requests_for(
        self, events: list[Event], now: datetime
    ) -> tuple[list[tuple[list[Event], bytes]], Delivery]:
        """Request bodies (with the events each carries) and what the mapping rejected."""
        delivery = Delivery()
        by_user: dict[str, list[tuple[Event, dict[str, Any]]]] = {}
        with self._lock:
            done = {e.event_id for e in events} & self._accepted
        for event in events:
            if event.event_id in done:
                continue
            mapped = map_event(event, self._policy, now=now, max_age=self._max_age)
            for note in mapped.adjustments:
                delivery.adjustments[note] = delivery.adjustments.get(note, 0) + 1
            if mapped.event is None:
                delivery.rejected.append(Rejected(event.seq, event.event_id, mapped.reason or ""))
            elif len(event.user_id) > MAX_USER_ID:
                delivery.rejected.append(
                    Rejected(event.seq, event.event_id, "ga4: user_id over 256 chars")
                )
            else:
                by_user.setdefault(event.user_id, []).append((event, mapped.event))
        bodies = [body for user, items in by_user.items() for body in self._bodies(user, items)]
        return bodies, delivery

    def _bodies(
        self, user: str, items: list[tuple[Event, dict[str, Any]]]
    ) -> Iterator[tuple[list[Event], bytes]]:
        cid = client_id(user, self._settings.client_id_salt)
        step = MAX_EVENTS_PER_REQUEST
        chunks = [items[i : i + step] for i in range(0, len(items), step)]
        while chunks:
            chunk = chunks.pop()
            body = _encode({
                "client_id": cid, "user_id": user,
                "timestamp_micros": chunk[0][1]["timestamp_micros"],
                "events": [mapped for _, mapped in chunk],
            })  # fmt: skip
            if len(body) >= MAX_BODY_BYTES and len(chunk) > 1:
                half = len(chunk) // 2
                chunks += [chunk[:half], chunk[half:]]
                continue
            yield [e for e, _ in chunk], body

    async def send(self, batch: Batch) -> Delivery:
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, lambda: self._send(batch.events)
        )

    def _send(self, events: list[Event]) -> Delivery:
        uploads: Uploads[None] = Uploads(self._uploads)
        bodies, delivery = self.requests_for(events, datetime.now(UTC))
        for carried, body in bodies:
            uploads.start(partial(self._post, carried, body))
        uploads.wait()
        with self._lock:
            self._accepted.difference_update(e.event_id for e in events)
        return delivery

    def _post(self, events: list[Event], body: bytes) -> list[None]:
        assert self._client is not None, "GA4 sink not started"
        try:
            response = self._client.post(
                "/mp/collect", params=self._params, content=body,
                headers={"content-type": "application/json"},
            )  # fmt: skip
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # from None: the cause quotes the URL, secret included
            reason = self.redact(f"ga4: {type(exc).__name__}: {exc}")
            raise unanswered(exc, reason, "base_url") from None
        if response.is_redirect:
            raise BlockedError(self.redact(
                f"HTTP {response.status_code} to {response.headers['location']} (a redirect is "
                "not followed: the API secret travels in the URL; set base_url to the address "
                "it names)"
            ))  # fmt: skip
        error = error_for_status(
            response.status_code, retry_after=response.headers.get("retry-after"),
            detail=response.text,
        )  # fmt: skip
        if error is not None:
            raise error
        with self._lock:
            if len(self._accepted) > _MAX_REMEMBERED:
                self._accepted.clear()
            self._accepted.update(e.event_id for e in events)
        return []

    def redact(self, text: str) -> str:
        """``text`` without the API secret (httpx errors, and an endpoint's answer, may quote
        the URL it sits in)."""
        return redact_secrets(text, (self._params["api_secret"],))

    async def validate(self, events: list[Event]) -> list[dict[str, Any]]:
        """Send ``events`` to the debug endpoint; returns GA4's ``validationMessages``."""
        assert self._client is not None, "GA4 sink not started"
        bodies, _ = self.requests_for(events, datetime.now(UTC))
        messages: list[dict[str, Any]] = []
        for _, body in bodies:
            try:
                response = await asyncio.to_thread(
                    self._client.post, "/debug/mp/collect", params=self._params, content=body,
                    headers={"content-type": "application/json"},
                )  # fmt: skip
            except httpx.HTTPError as exc:
                message = f"ga4 debug endpoint: {type(exc).__name__}: {exc}"
                raise TransientError(self.redact(message)) from None
            if response.status_code != 200:
                raise TransientError(
                    self.redact(f"ga4 debug endpoint: HTTP {response.status_code}")
                )
            messages += response.json().get("validationMessages", [])
        return messages
