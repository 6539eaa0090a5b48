"""Segment through ``segment-analytics-python``, with delivery confirmed per request.

The library's ``track()`` only enqueues for a background thread that retries, gives up and
drops on its own (without ``flush()`` most events are silently lost). So the ``Client`` is
built with ``send=False`` and serves as configuration (write key, host, gzip, timeout); each
event becomes exactly the message ``track()`` would build (a test holds them equal), checked
against the 32 KB event limit; batches under 500 KB / 2,500 events are uploaded with the
library's ``request.post`` from threads of this sink, a few at a time, and each response is
checked. The cursor moves only after Segment answered 2xx to every request of the batch.
"""

from __future__ import annotations

import functools
import json
from functools import partial
from typing import Any

import msgspec
import requests
from segment.analytics import Client
from segment.analytics.consumer import BATCH_SIZE_LIMIT, MAX_MSG_SIZE
from segment.analytics.request import APIError, post
from segment.analytics.version import VERSION

from service.domain.events import Event
from service.sinks.base import Delivery, Rejected, TransientError
from service.sinks.http import error_for_status
from service.sinks.settings import SegmentSinkSettings
from service.sinks.threaded import ThreadedSink
from service.sinks.uploads import Uploads

_encode = msgspec.json.Encoder().encode
_LIBRARY = {"name": "analytics-python", "version": VERSION}
MAX_BATCH_EVENTS = 2500
"""Segment's documented per-request event limit (its size limit is BATCH_SIZE_LIMIT)."""


@functools.cache
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


def json_size_bound(msg: dict[str, Any]) -> int:
    """An upper bound of ``len(json.dumps(msg))``, the form ``request.post`` sends, at a
    tenth of its cost: the compact UTF-8 encoding, plus one space per ``,`` or ``:`` (the
    default separators), plus ten bytes per non-ASCII character (``\\uXXXX`` escapes, up to
    twelve bytes for a surrogate pair)."""
    raw = _encode(msg)
    bound = len(raw) + raw.count(b",") + raw.count(b":")
    if not raw.isascii():
        bound += 10 * (len(raw) - len(raw.decode()))
    return bound


class SegmentSink(ThreadedSink):
    """Forwards events to one Segment source as ``track`` calls."""

    kind = "segment"

    def __init__(self, settings: SegmentSinkSettings, *, write_key: str) -> None:
        super().__init__(settings)
        self._settings: SegmentSinkSettings = settings
        self._client = Client(
            write_key, host=settings.host, send=False, sync_mode=True, gzip=settings.gzip,
            timeout=settings.timeout_seconds, max_retries=0,
        )  # fmt: skip
    def library_message(self, event: Event) -> dict[str, Any]:
        """The message ``Client.track`` builds for ``event`` (raises if the library refuses it).

        The reference for :meth:`message`; a test holds the two equal.
        """
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

    def message(self, event: Event) -> dict[str, Any] | str:
        """The ``track`` message of ``event``, or why Segment would refuse it.

        Equal to what ``Client.track`` builds, without its generic clean-up pass (our
        properties are already plain JSON), which cost more than everything else per event.
        """
        if not event.user_id:
            return "segment: event has no user id"
        ctx = context_of(event)
        ctx["library"] = dict(_LIBRARY)
        msg = {
            "integrations": {}, "anonymousId": None, "properties": self._policy.properties(event),
            "timestamp": event.occurred_at.isoformat(timespec="milliseconds"), "context": ctx,
            "userId": event.user_id, "type": "track", "event": spec_name(event.event_type),
            "messageId": event.event_id,
        }  # fmt: skip
        if json_size_bound(msg) > MAX_MSG_SIZE and len(json.dumps(msg).encode()) > MAX_MSG_SIZE:
            return "segment: event over 32 KB"
        return msg

    def _send(self, events: list[Event]) -> Delivery:
        rejected: list[Rejected] = []
        uploads: Uploads[None] = Uploads(self._uploads)
        chunk: list[dict[str, Any]] = []
        size = 0
        for event in events:
            msg = self.message(event)
            if isinstance(msg, str):
                rejected.append(Rejected(event.seq, event.event_id, msg))
                continue
            msg_size = json_size_bound(msg)
            if chunk and (len(chunk) >= MAX_BATCH_EVENTS or size + msg_size > BATCH_SIZE_LIMIT):
                uploads.start(partial(self._upload, chunk))
                chunk, size = [], 0
            chunk.append(msg)
            size += msg_size
        if chunk:
            uploads.start(partial(self._upload, chunk))
        uploads.wait()
        return Delivery(rejected=rejected)

    def _upload(self, batch: list[dict[str, Any]]) -> list[None]:
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
        return []
