"""Segment through ``segment-analytics-python``, with delivery confirmed per request.

The library's ``track()`` only enqueues for a background thread that retries, gives up and
drops on its own (FACTS: without ``flush()`` most events are silently lost). So the client is
built with ``send=False``: ``track()`` then validates and normalises the message (required
ids, the 32 KB event limit, timestamps, ``context.library``) and hands it back, and this sink
uploads batches itself with the library's ``request.post`` on a thread of its own, checking
each response. The cursor moves only after Segment answered 2xx.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from segment.analytics import Client
from segment.analytics.consumer import BATCH_SIZE_LIMIT
from segment.analytics.request import APIError, DatetimeSerializer, post

from service.domain.events import Event
from service.sinks.base import Delivery, Rejected, TransientError
from service.sinks.batch import Batch
from service.sinks.http import error_for_status
from service.sinks.privacy import PropertyPolicy
from service.sinks.settings import SegmentSinkSettings

MAX_BATCH_EVENTS = 2500
"""Segment's documented per-request event limit (its size limit is BATCH_SIZE_LIMIT)."""


def spec_name(event_type: str) -> str:
    """Segment spec style "Object Action" name: ``community_message_sent`` -> ``Community
    Message Sent``."""
    return event_type.replace("_", " ").title()


def context_of(event: Event) -> dict[str, Any]:
    """Segment's ``context`` fields for the event's client metadata."""
    m = event.metadata
    ctx: dict[str, Any] = {}
    if m.device:
        ctx["device"] = {"type": m.device}
    if m.language:
        ctx["locale"] = m.language
    if m.app_version:
        ctx["app"] = {"version": m.app_version}
    return ctx


class SegmentSink:
    """Forwards events to one Segment source as ``track`` calls."""

    kind = "segment"

    def __init__(self, settings: SegmentSinkSettings, *, write_key: str) -> None:
        self._settings = settings
        self._client = Client(
            write_key, host=settings.host, send=False, sync_mode=True, gzip=settings.gzip,
            timeout=settings.timeout_seconds, max_retries=0,
        )  # fmt: skip
        self._policy = PropertyPolicy(
            include_text=settings.include_text, allow=settings.properties or None
        )
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"segment-{settings.name}")

    @property
    def name(self) -> str:
        return self._settings.name

    async def start(self) -> None:
        return None

    async def recover(self, cursor: int) -> int:
        return cursor

    async def send(self, batch: Batch) -> Delivery:
        events = batch.events
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._send, events)

    async def close(self) -> None:
        self._pool.shutdown(wait=False)

    def message(self, event: Event) -> dict[str, Any]:
        """The library-normalised ``track`` message of ``event`` (raises if it is invalid)."""
        _, msg = self._client.track(
            user_id=event.user_id,
            event=spec_name(event.event_type),
            properties=self._policy.properties(event),
            context=context_of(event),
            timestamp=event.occurred_at,
            message_id=event.event_id,
        )
        result: dict[str, Any] = msg
        return result

    def _send(self, events: list[Event]) -> Delivery:
        rejected: list[Rejected] = []
        chunk: list[dict[str, Any]] = []
        size = 0
        for event in events:
            try:
                msg = self.message(event)
            except RuntimeError:  # the library's 32 KB check; its text would echo the event
                rejected.append(Rejected(event.seq, event.event_id, "segment: event over 32 KB"))
                continue
            except AssertionError as exc:  # the library's required-field checks
                rejected.append(Rejected(event.seq, event.event_id, f"segment: {exc}"[:300]))
                continue
            msg_size = len(json.dumps(msg, cls=DatetimeSerializer).encode())
            if chunk and (len(chunk) >= MAX_BATCH_EVENTS or size + msg_size > BATCH_SIZE_LIMIT):
                self._upload(chunk)
                chunk, size = [], 0
            chunk.append(msg)
            size += msg_size
        if chunk:
            self._upload(chunk)
        return Delivery(rejected=rejected)

    def _upload(self, batch: list[dict[str, Any]]) -> None:
        client = self._client
        try:
            post(
                client.write_key, client.host, gzip=client.gzip, timeout=client.timeout,
                batch=batch,
            )  # fmt: skip
        except APIError as exc:
            retry_after = (
                exc.response.headers.get("Retry-After") if exc.response is not None else None
            )
            error = error_for_status(
                int(exc.status), retry_after=retry_after, detail=f"{exc.code}: {exc.message}"
            )
            raise (error or TransientError(str(exc))) from exc
        except requests.RequestException as exc:
            raise TransientError(f"segment: {type(exc).__name__}: {exc}") from exc
