"""Segment through ``segment-analytics-python``, with delivery confirmed per request.

The library's ``track()`` only enqueues for a background thread that retries, gives up and
drops on its own (without ``flush()`` most events are silently lost). So the ``Client`` is
built with ``send=False`` and serves as configuration (write key, host, gzip, timeout); each
event becomes exactly the message ``track()`` would build (a test holds them equal), checked
against the 32 KB event limit; batches under 500 KB / 2,500 events are uploaded with the
library's ``request.post`` from threads of this sink, a few at a time, and each response is
checked. The cursor moves only after Segment answered 2xx to every request of the batch.

The messages of a batch are built from the log's Arrow columns (timestamps formatted
once per second, one context object per distinct device/locale/app) rather than from event
structs; the first requests leave while the rest of the batch is still being built.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urljoin

import msgspec
import pyarrow as pa
import requests
from segment.analytics import Client
from segment.analytics.consumer import BATCH_SIZE_LIMIT, MAX_MSG_SIZE
from segment.analytics.request import APIError, post
from segment.analytics.version import VERSION

from service.domain.events import Event
from service.eventlog.codec import decode_payload
from service.sinks.base import (
    Delivery,
    RedactingFilter,
    Rejected,
    SinkError,
    TransientError,
    hide_secrets_in,
)
from service.sinks.batch import Batch
from service.sinks.http import REDIRECTS_TO_GET, error_for_status, unanswered
from service.sinks.settings import SegmentSinkSettings
from service.sinks.threaded import ThreadedSink
from service.sinks.uploads import Uploads

_encode = msgspec.json.Encoder().encode
_LIBRARY = {"name": "analytics-python", "version": VERSION}
MAX_BATCH_EVENTS = 2500
"""Segment's documented per-request event limit (its size limit is BATCH_SIZE_LIMIT)."""
_SECOND = "%Y-%m-%dT%H:%M:%S"
_SLICE_ROWS = 2500
"""Rows turned into messages at a time, so the first upload starts early."""
_REDACT_SEGMENT = RedactingFilter(
    "writeKey", re.compile(r'("writeKey":\s*")(?:[^"\\]|\\.)*(")'), r"\1***\2"
)
"""Blanks the write key in the library's records (the ``segment`` logger, its only one).

``request.post`` puts the write key in every request body and logs that body at DEBUG
(``making request: ...``), so a debug level set by anyone would print it; this filter writes
``"writeKey": "***"`` instead.
"""


@functools.cache
def spec_name(event_type: str) -> str:
    """Segment spec style "Object Action" name: ``community_message_sent`` -> ``Community
    Message Sent``."""
    return event_type.replace("_", " ").title()


def context_of(event: Event) -> dict[str, Any]:
    """Segment's ``context`` fields for all of the event's client metadata (a sink keeps
    those its allow-list lets out: :meth:`SegmentSink.context_of`)."""
    m = event.metadata
    return _context(m.device, m.language, m.app_version)


def _context(device: str | None, language: str | None, app_version: str | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    if device:
        ctx["device"] = {"type": device}
    if language:
        ctx["locale"] = language
    if app_version:
        ctx["app"] = {"version": app_version}
    return ctx


def iso_millis(timestamps: pa.ChunkedArray | pa.Array) -> list[str]:
    """``datetime.isoformat(timespec="milliseconds")`` of UTC microsecond timestamps, for a
    whole column: the date and time of day are formatted once per distinct second (events of
    a batch share seconds), the milliseconds appended (cut, not rounded, like ``isoformat``)."""
    seconds: dict[int, str] = {}
    out = []
    for micros in timestamps.cast(pa.int64()).to_pylist():
        second, rest = divmod(micros, 1_000_000)
        text = seconds.get(second)
        if text is None:
            text = seconds[second] = datetime.fromtimestamp(second, UTC).strftime(_SECOND)
        out.append(f"{text}.{rest // 1000:03d}+00:00")
    return out


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


_MESSAGE_COLUMNS = (
    "seq", "event_id", "node_id", "event_type", "user_id", "room_id", "context_id", "actor_id",
    "message_id", "device", "language", "message_type", "app_version", "session_id", "payload",
)  # fmt: skip


class SegmentSink(ThreadedSink):
    """Forwards events to one Segment source as ``track`` calls."""

    kind = "segment"

    def __init__(self, settings: SegmentSinkSettings, *, write_key: str) -> None:
        super().__init__(settings, secrets=(write_key,))
        self._settings: SegmentSinkSettings = settings
        self._client = Client(
            write_key, host=settings.host, send=False, sync_mode=True, gzip=settings.gzip,
            timeout=settings.timeout_seconds, max_retries=0,
        )  # fmt: skip
        # The client fields go in ``context``, not ``properties``, but under the same allow-list
        # (named as Mixpanel and GA4 name them), so an allow-list never lets them out unasked.
        allowed = self._policy.allowed({"device": 1, "language": 1, "app_version": 1})
        self._client_fields = ("device" in allowed, "language" in allowed, "app_version" in allowed)

    def _context_key(
        self, device: str | None, language: str | None, app_version: str | None
    ) -> tuple[str | None, str | None, str | None]:
        keep_device, keep_language, keep_app = self._client_fields
        return (
            device if keep_device else None,
            language if keep_language else None,
            app_version if keep_app else None,
        )

    def context_of(self, event: Event) -> dict[str, Any]:
        """Segment's ``context`` fields of ``event`` that the allow-list lets out."""
        m = event.metadata
        return _context(*self._context_key(m.device, m.language, m.app_version))

    async def start(self) -> None:
        _REDACT_SEGMENT.install("segment")
        # It also logs each response at DEBUG, which may quote the request's Basic credentials.
        hide_secrets_in("segment", self._secrets)

    def library_message(self, event: Event) -> dict[str, Any]:
        """The message ``Client.track`` builds for ``event`` (raises if the library refuses it).

        The reference for :meth:`message`; a test holds the two equal.
        """
        _, msg = self._client.track(
            user_id=event.user_id,
            event=spec_name(event.event_type),
            properties=self._policy.properties(event),
            context=self.context_of(event),
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
        ctx = self.context_of(event)
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

    def messages(self, batch: Batch) -> Iterator[tuple[int, str, dict[str, Any] | str, int]]:
        """``(seq, event_id, message or why Segment would refuse it, JSON size bound)`` per
        event of ``batch``, built from its columns; each message equals :meth:`message` of
        the same event."""
        library = dict(_LIBRARY)
        contexts: dict[tuple[str | None, str | None, str | None], dict[str, Any]] = {}
        combine = self._policy.combine
        table = batch.table
        for start in range(0, table.num_rows, _SLICE_ROWS):
            part = table.slice(start, _SLICE_ROWS)
            col = {name: part.column(name).to_pylist() for name in _MESSAGE_COLUMNS}
            rows = zip(iso_millis(part.column("occurred_at")), *col.values(), strict=True)
            for (at, seq, event_id, node_id, event_type, user_id, room_id, context_id, actor_id,
                 message_id, device, language, message_type, app_version, session_id,
                 payload) in rows:  # fmt: skip
                if not user_id:
                    yield seq, event_id, "segment: event has no user id", 0
                    continue
                key = self._context_key(device, language, app_version)
                ctx = contexts.get(key)
                if ctx is None:
                    ctx = contexts[key] = {**_context(*key), "library": library}
                props = combine({
                    "room_id": room_id, "context_id": context_id, "message_id": message_id,
                    "actor_id": actor_id, "message_type": message_type, "session_id": session_id,
                    "seq": seq, "node_id": node_id,
                }, decode_payload(payload))  # fmt: skip
                msg = {
                    "integrations": {}, "anonymousId": None, "properties": props,
                    "timestamp": at, "context": ctx, "userId": user_id, "type": "track",
                    "event": spec_name(event_type), "messageId": event_id,
                }  # fmt: skip
                size = json_size_bound(msg)
                if size > MAX_MSG_SIZE and len(json.dumps(msg).encode()) > MAX_MSG_SIZE:
                    yield seq, event_id, "segment: event over 32 KB", size
                    continue
                yield seq, event_id, msg, size

    def _send_batch(self, batch: Batch) -> Delivery:
        rejected: list[Rejected] = []
        uploads: Uploads[None] = Uploads(self._uploads)
        chunk: list[dict[str, Any]] = []
        size = 0
        for seq, event_id, msg, msg_size in self.messages(batch):
            if isinstance(msg, str):
                rejected.append(Rejected(seq, event_id, msg))
                continue
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
            response = post(
                client.write_key, client.host, gzip=client.gzip, timeout=client.timeout,
                batch=batch,
            )  # fmt: skip
        except APIError as exc:
            if (to_get := _turned_to_get(exc.response)) is not None:
                raise to_get from exc
            retry_after = (
                exc.response.headers.get("Retry-After") if exc.response is not None else None
            )
            error = error_for_status(
                int(exc.status), retry_after=retry_after, detail=f"{exc.code}: {exc.message}"
            )
            raise (error or TransientError(str(exc))) from exc
        except requests.RequestException as exc:
            raise unanswered(exc, f"segment: {type(exc).__name__}: {exc}", "host") from exc
        if (to_get := _turned_to_get(response)) is not None:
            raise to_get  # whatever answered the GET, the batch was never posted
        return []


def _turned_to_get(response: requests.Response | None) -> SinkError | None:
    """The error for a 301, 302 or 303 on the way to ``response``: the library's session
    follows it by resending the POST as a GET, without the batch, so no answer after it
    (even a 200) means Segment accepted anything."""
    hops = response.history if response is not None else []
    hop = next((h for h in hops if h.status_code in REDIRECTS_TO_GET), None)
    if hop is None:
        return None
    location = urljoin(hop.url, hop.headers.get("Location", ""))
    return error_for_status(hop.status_code, location=location)
