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

``request.post`` encodes each request body with ``json.dumps(body, cls=DatetimeSerializer)``,
Python's encoder: half of the sink's time per event. The sink hands it its batches as an
:class:`EncodedBatch`, and the encoder the library uses is its own ``DatetimeSerializer``
taught one thing (:class:`BatchSerializer`): such a body is encoded by msgspec in C, to the
same JSON value (compact separators; non-ASCII escaped as ``json.dumps`` escapes it, so the body
stays ASCII). Every other body, and everything else ``post`` does (URL, auth, headers, gzip,
the session, its errors), is the library's.
"""

from __future__ import annotations

import codecs
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
from segment.analytics import request as segment_request
from segment.analytics.consumer import BATCH_SIZE_LIMIT, MAX_MSG_SIZE
from segment.analytics.request import APIError, DatetimeSerializer, post
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


class EncodedBatch(list[bytes]):
    """The messages of one request, each as its compact JSON in ASCII (what
    :meth:`SegmentSink.messages` builds, encoded by msgspec, or by ``json.dumps`` when it holds
    non-ASCII characters, which it escapes), for :class:`BatchSerializer`.

    Only the encodings are kept, not the dicts: those die young, so a backlog's messages never
    reach the older generations of the cyclic GC (whose full passes cost a tenth of the sink's
    time when they did). Encoded by anything but :class:`BatchSerializer`, it fails loudly
    (``TypeError``: bytes are not JSON to ``json.dumps``), never as a wrong body.
    """

    __slots__ = ()


def _json_escapes(err: UnicodeError) -> tuple[str, int]:
    """The ``\\uXXXX`` escapes ``json.dumps`` writes for a run of non-ASCII characters (a
    surrogate pair above U+FFFF): a codec error handler, so the scan for them runs in C."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    out = []
    for ch in err.object[err.start : err.end]:
        code = ord(ch)
        if code >= 0x10000:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), err.end


codecs.register_error("sideline.json_escapes", _json_escapes)


def ascii_json(value: Any) -> str:
    """``value`` as compact JSON in ASCII: what ``json.dumps`` gives, but for separators
    (``,`` and ``:`` without spaces), from msgspec's encoder in C. An :class:`EncodedBatch`
    under ``batch`` is written as the list of its encodings."""
    batch = value.get("batch") if type(value) is dict else None
    if type(batch) is EncodedBatch:
        value = {**value, "batch": msgspec.Raw(b"[" + b",".join(batch) + b"]")}
    raw = _encode(value)
    if raw.isascii():
        return raw.decode("ascii")
    return raw.decode().encode("ascii", "sideline.json_escapes").decode("ascii")


def ascii_message(msg: dict[str, Any], raw: bytes) -> bytes:
    """``msg``, encoded by msgspec as ``raw`` (compact, UTF-8), in ASCII as ``json.dumps``
    writes it: ``backslashreplace`` (in C) escapes U+0100..U+FFFF as JSON does (``\\u26bd``);
    what it writes otherwise (``\\xe9``, ``\\U0001f600``; or a backslash in the data, as
    ``\\\\x``) is not JSON's, and ``json.dumps`` writes those messages itself."""
    escaped = raw.decode().encode("ascii", "backslashreplace")
    if b"\\x" in escaped or b"\\U" in escaped:
        return json.dumps(msg, separators=(",", ":")).encode()
    return escaped


class BatchSerializer(DatetimeSerializer):  # type: ignore[misc]
    """The library's ``DatetimeSerializer`` that encodes a request body holding an
    :class:`EncodedBatch` with :func:`ascii_json` (the same JSON value, ten times faster);
    any other value as before."""

    def encode(self, o: Any) -> str:
        if type(o) is dict and type(o.get("batch")) is EncodedBatch:
            return ascii_json(o)
        encoded: str = super().encode(o)
        return encoded


def use_batch_serializer() -> None:
    """Make ``request.post`` encode with :class:`BatchSerializer` (it looks its encoder up by
    name at each call; a subclass, so nothing else changes for anyone)."""
    segment_request.DatetimeSerializer = BatchSerializer


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


def sent_size(raw: bytes) -> int:
    """An upper bound of the bytes a message encoded as ``raw`` (compact JSON, UTF-8) takes
    in a request body, as :class:`BatchSerializer` writes it (:func:`ascii_json`): a non-ASCII
    character of 2, 3 or 4 UTF-8 bytes becomes an escape of 6, 6 or 12, so at most four more
    bytes per byte past its first."""
    if raw.isascii():
        return len(raw)
    return len(raw) + 4 * (len(raw) - len(raw.decode()))


def over_message_limit(msg: dict[str, Any], size: int) -> bool:
    """The library's test of a message (``len(json.dumps(msg)) > MAX_MSG_SIZE``, 32 KB), made
    only when it can be true: ``json.dumps`` adds a space after each ``,`` and ``:`` of the
    ASCII form, so it is never more than twice ``size`` (:func:`sent_size`)."""
    return 2 * size > MAX_MSG_SIZE and len(json.dumps(msg)) > int(MAX_MSG_SIZE)


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
        use_batch_serializer()  # the sizes its batches are cut by are those of its encoding
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
        if over_message_limit(msg, sent_size(_encode(msg))):
            return "segment: event over 32 KB"
        return msg

    def messages(self, batch: Batch) -> Iterator[tuple[int, str, dict[str, Any] | str, int]]:
        """``(seq, event_id, message or why Segment would refuse it, bytes in a request body:
        :func:`sent_size`)`` per
        event of ``batch``, built from its columns; each message equals :meth:`message` of
        the same event."""
        for seq, event_id, msg, size, _ in self._encoded_messages(batch):
            yield seq, event_id, msg, size

    def _encoded_messages(
        self, batch: Batch
    ) -> Iterator[tuple[int, str, dict[str, Any] | str, int, bytes]]:
        """:meth:`messages`, each with its compact JSON encoding (empty for a refusal)."""
        library = dict(_LIBRARY)
        contexts: dict[tuple[str | None, str | None, str | None], dict[str, Any]] = {}
        combine, encode = self._policy.combine_owned, _encode
        table = batch.table
        for start in range(0, table.num_rows, _SLICE_ROWS):
            part = table.slice(start, _SLICE_ROWS)
            col = {name: part.column(name).to_pylist() for name in _MESSAGE_COLUMNS}
            rows = zip(iso_millis(part.column("occurred_at")), *col.values(), strict=True)
            for (at, seq, event_id, node_id, event_type, user_id, room_id, context_id, actor_id,
                 message_id, device, language, message_type, app_version, session_id,
                 payload) in rows:  # fmt: skip
                if not user_id:
                    yield seq, event_id, "segment: event has no user id", 0, b""
                    continue
                ctx = contexts.get((device, language, app_version))
                if ctx is None:
                    key = self._context_key(device, language, app_version)
                    ctx = contexts[device, language, app_version] = {**_context(*key), "library": library}
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
                raw = encode(msg)
                if not raw.isascii():  # escaped here, so the body needs no pass of its own
                    raw = ascii_message(msg, raw)
                size = len(raw)
                if over_message_limit(msg, size):
                    yield seq, event_id, "segment: event over 32 KB", size, b""
                    continue
                yield seq, event_id, msg, size, raw

    def _send_batch(self, batch: Batch) -> Delivery:
        rejected: list[Rejected] = []
        uploads: Uploads[None] = Uploads(self._uploads)
        chunk = EncodedBatch()
        size = 0
        for seq, event_id, msg, msg_size, raw in self._encoded_messages(batch):
            if isinstance(msg, str):
                rejected.append(Rejected(seq, event_id, msg))
                continue
            if chunk and (len(chunk) >= MAX_BATCH_EVENTS or size + msg_size > BATCH_SIZE_LIMIT):
                uploads.start(partial(self._upload, chunk))
                chunk, size = EncodedBatch(), 0
            chunk.append(raw)
            size += msg_size + 1  # and its comma
        if chunk:
            uploads.start(partial(self._upload, chunk))
        uploads.wait()
        return Delivery(rejected=rejected)

    def _upload(self, batch: EncodedBatch) -> list[None]:
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
