"""Mixpanel through the ``mixpanel`` library: ``/track`` for recent events, ``/import`` for old.

``Mixpanel.track`` / ``import_data`` build each message (token, ``mp_lib``, our own ``time``
and ``$insert_id`` so a resend deduplicates) into a collecting consumer; batches of up to
2,000 then go out through the library's ``Consumer`` on a thread of this sink. The library
only retries 5xx on https and never 429, and hides the status code, so a response hook
classifies every non-2xx answer (with its ``Retry-After``) before the library sees it. It lets
requests follow a 307 or 308 (the POST is resent as it was) and stops a 301, 302 or 303, which
would be resent as a GET without the events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urljoin

import msgspec
import requests
from mixpanel import Consumer, Mixpanel, MixpanelException

from service.domain.events import Event
from service.sinks.base import (
    BlockedError,
    Delivery,
    PermanentError,
    Rejected,
    SinkError,
    TransientError,
)
from service.sinks.http import REDIRECTS_TO_GET, error_for_status, unanswered
from service.sinks.settings import MixpanelSinkSettings
from service.sinks.threaded import ThreadedSink
from service.sinks.uploads import Uploads

MAX_STRING_BYTES = 255
"""Mixpanel keeps this many bytes (UTF-8) of a string value (in lists and objects too) and
drops the rest without an error; the mapping cuts (on a character boundary) and counts instead."""
MAX_ITEMS = 254
"""Mixpanel refuses an event holding a list of 255 or more elements, or an object of 255 or
more keys, at any depth; the mapping keeps the first 254."""
MAX_DEPTH = 3
"""Objects nest at most this deep (a property's own object is the first level); Mixpanel
refuses deeper ones, the mapping drops them."""
MAX_COLLECTION_BYTES = 8 * 1024
"""A list or object property holds at most 8 KB (of compact UTF-8 JSON); Mixpanel cuts the
rest without an error, the mapping drops trailing elements (or members) and counts."""
MAX_PROPERTIES = 254
"""Mixpanel refuses an event with 255 or more properties, ``LIBRARY_PROPERTIES`` included."""
LIBRARY_PROPERTIES = frozenset({"token", "distinct_id", "mp_lib", "$lib_version"})
"""What the library adds to every event's properties besides our ``time`` and ``$insert_id``."""
MAX_EVENT_BYTES = 1024 * 1024
"""An event of 1 MB of JSON or more is refused; within the other limits only over a hundred
list or object properties near 8 KB reach it, and such an event is dead-lettered."""
MAX_BATCH_EVENTS = 2000
MAX_BATCH_BYTES = 2_000_000
"""Kept well under the 10 MB ``/import`` body limit (the body is also URL-encoded)."""


_encode = msgspec.json.Encoder().encode

_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_TABLE = str.maketrans({
    chr(b): "+" if b == 0x20 else chr(b) if b in _FORM_SAFE else f"%{b:02X}" for b in range(256)
})  # fmt: skip


def form_encode(fields: Mapping[str, str | int]) -> bytes:
    """``urllib.parse.urlencode(fields)``, as requests encodes a form, in C: each value's UTF-8
    bytes, read as Latin-1, through one translation table. The library posts each batch as a
    form field of up to 2 MB of JSON, and ``quote_plus`` takes a Python step per byte: half of
    an upload's time (0.10 of 0.22 s for 2,000 events)."""
    return "&".join(
        f"{_form_quote(k)}={_form_quote(str(v))}" for k, v in fields.items()
    ).encode("ascii")


def _form_quote(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_FORM_TABLE)


def _post_encoded(post: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
    """``session.post`` with a form (a dict of strings and ints) encoded by :func:`form_encode`:
    the same body and ``Content-Type`` requests would send."""

    def post_form(url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        if isinstance(data, dict) and all(isinstance(v, str | int) for v in data.values()):
            headers = {**(kwargs.pop("headers", None) or {}),
                       "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
            return post(url, data=form_encode(data), headers=headers, **kwargs)
        return post(url, data=data, **kwargs)

    return post_form


class _Collector:
    """A consumer for ``Mixpanel`` that keeps each JSON message instead of sending it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def send(self, endpoint: str, json_message: str, *_: Any, **__: Any) -> None:
        self.messages.append((endpoint, json_message))


class _Refused(Exception):
    """Raised from the response hook for a non-2xx answer, with what the library drops."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.status = response.status_code
        self.retry_after = response.headers.get("Retry-After")
        self.body = response.text
        location = response.headers.get("Location")
        self.location = urljoin(response.url, location) if location else None


class _NotMixpanel(Exception):
    """A 2xx whose body is not Mixpanel's JSON answer: something else answers at the address."""


def _check_status(response: requests.Response, *_: Any, **__: Any) -> None:
    # The hook sees every hop. A 307 or 308 is resent with its method and body, and the hook
    # sees where it leads; raising here on a 301, 302 or 303 keeps requests from resending
    # the POST as a GET, without the events (:data:`REDIRECTS_TO_GET`).
    if response.is_redirect and response.status_code not in REDIRECTS_TO_GET:
        return
    if not 200 <= response.status_code < 300:
        raise _Refused(response)
    # The library takes an unreadable 2xx as a refusal of the data, which would dead-letter
    # every event while a proxy's page or a wrong base_url answers; it is a blocked sink.
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "status" not in answer:
        raise _NotMixpanel(
            f"mixpanel: HTTP {response.status_code} from {response.url.split('?')[0]} is not "
            f"a Mixpanel answer ({response.text[:100]!r}); check base_url / api_host"
        )


def insert_id(event_id: str) -> str:
    """Mixpanel's dedup key: the event id's 32 hex digits (alphanumeric, under 36 bytes)."""
    return event_id.replace("-", "")


class MixpanelSink(ThreadedSink):
    """Forwards events to one Mixpanel project."""

    kind = "mixpanel"

    def __init__(self, settings: MixpanelSinkSettings, *, token: str, api_secret: str = "") -> None:
        super().__init__(settings, secrets=(token, api_secret))
        self._settings: MixpanelSinkSettings = settings
        self._secret = api_secret
        base = settings.base_url.rstrip("/") or f"https://{settings.api_host}"
        self._consumer = Consumer(
            events_url=f"{base}/track", import_url=f"{base}/import", api_host=settings.api_host,
            request_timeout=settings.timeout_seconds, retry_limit=settings.library_retries,
        )  # fmt: skip
        session = self._consumer._session
        if settings.library_retries == 0:
            # The library's https adapter turns a final 5xx into a bare RetryError; a plain
            # adapter lets the hook below see the status and Retry-After of every answer.
            session.mount("https://", requests.adapters.HTTPAdapter())
        # The hook is the one place the HTTP status and Retry-After are still visible.
        session.hooks["response"].append(_check_status)
        session.post = _post_encoded(session.post)
        self._collector = _Collector()
        self._mp = Mixpanel(token, consumer=self._collector)
        self._import_after = timedelta(days=settings.import_after_days)

    def properties(self, event: Event) -> dict[str, Any]:
        """Event properties, with the dedup fields Mixpanel needs set from the event itself."""
        props = self._policy.properties(event)
        m = event.metadata
        extra = {"device": m.device, "language": m.language, "app_version": m.app_version}
        props.update(self._policy.allowed({k: v for k, v in extra.items() if v is not None}))
        props["time"] = int(event.occurred_at.timestamp() * 1000)
        props["$insert_id"] = insert_id(event.event_id)
        return props

    def _build(
        self, events: list[Event], adjustments: dict[str, int]
    ) -> tuple[list[tuple[Event, str, str]], list[Rejected]]:
        """Each event's message and endpoint, and the events refused; what the mapping cut or
        dropped is counted into ``adjustments``."""
        now = datetime.now(UTC)
        built, rejected = [], []
        self._collector.messages.clear()
        for event in events:
            props = self.properties(event)
            for reason, n in fit_properties(props, event.payload.keys()).items():
                adjustments[reason] = adjustments.get(reason, 0) + n
            if now - event.occurred_at <= self._import_after:
                self._mp.track(event.user_id, event.event_type.value, props)
            elif self._secret:
                name = event.event_type.value
                self._mp.import_data(None, event.user_id, name, props["time"], props)
            else:
                reason = "mixpanel: older than the live window and no API secret for /import"
                rejected.append(Rejected(event.seq, event.event_id, reason))
                continue
            endpoint, message = self._collector.messages.pop()
            # The library's JSON is ASCII (non-ASCII is escaped): characters are bytes.
            if len(message) >= MAX_EVENT_BYTES:
                reason = (f"mixpanel: event of {len(message)} bytes of JSON (Mixpanel refuses "
                          "1 MB or more)")  # fmt: skip
                rejected.append(Rejected(event.seq, event.event_id, reason))
                continue
            built.append((event, endpoint, message))
        return built, rejected

    def _send(self, events: list[Event]) -> Delivery:
        """Build the batch a request's worth at a time, each request started as soon as it is
        full: the destination takes one while the next is built (before, the whole batch was
        built first, and the building and the uploads took turns)."""
        uploads: Uploads[Rejected] = Uploads(self._uploads)
        rejected: list[Rejected] = []
        adjustments: dict[str, int] = {}
        pending: dict[str, tuple[list[tuple[Event, str, str]], int]] = {}
        for start in range(0, len(events), MAX_BATCH_EVENTS):
            built, refused = self._build(events[start : start + MAX_BATCH_EVENTS], adjustments)
            rejected += refused
            for item in built:
                endpoint = item[1]
                chunk, size = pending.get(endpoint, ([], 0))
                if chunk and (len(chunk) >= MAX_BATCH_EVENTS or size + len(item[2]) > MAX_BATCH_BYTES):
                    uploads.start(partial(self._upload, endpoint, chunk))
                    chunk, size = [], 0
                chunk.append(item)
                pending[endpoint] = (chunk, size + len(item[2]))
            for endpoint, (chunk, _) in list(pending.items()):
                if len(chunk) >= MAX_BATCH_EVENTS:
                    uploads.start(partial(self._upload, endpoint, chunk))
                    del pending[endpoint]
        for endpoint, (chunk, _) in pending.items():
            if chunk:
                uploads.start(partial(self._upload, endpoint, chunk))
        return Delivery(rejected=rejected + uploads.wait(), adjustments=adjustments)

    def _upload(self, endpoint: str, chunk: list[tuple[Event, str, str]]) -> list[Rejected]:
        body = "[" + ",".join(message for _, _, message in chunk) + "]"
        secret = self._secret if endpoint == "imports" else None
        try:
            self._consumer.send(endpoint, body, api_key=None, api_secret=secret)
        except MixpanelException as exc:
            refused = exc.__cause__
            if isinstance(refused, _Refused):
                path = "/import" if endpoint == "imports" else "/track"
                return _failed_records(refused, chunk, path)
            if isinstance(refused, _NotMixpanel):
                raise BlockedError(str(refused)) from exc
            if isinstance(refused, requests.RequestException):
                reason = f"mixpanel: {type(refused).__name__}: {refused}"
                raise unanswered(refused, reason, "base_url / api_host") from exc
            # A 2xx whose body has status != 1 (/track with verbose=1): the data was refused.
            raise PermanentError(f"mixpanel: {exc}"[:300]) from exc
        return []


def fit_properties(props: dict[str, Any], payload_keys: Collection[str] = ()) -> dict[str, int]:
    """Bring ``props`` within Mixpanel's per-event limits in place; returns the changes by reason.

    Mixpanel refuses an event over some limits and cuts values over others without a word; the
    mapping does either change itself and counts it (as GA4's are):

    - ``properties_dropped``: one per property past 254 (the library's four included), the
      payload's last ones; envelope fields, ``time`` and ``$insert_id`` always stay.
    - ``property_value_truncated``: one per string over 255 bytes, at any depth.
    - ``list_truncated``: one per list of 255 or more elements, cut to its first 254.
    - ``object_keys_dropped``: one per object of 255 or more keys, cut to its first 254.
    - ``object_too_deep``: one per object nested deeper than 3 levels, dropped.
    - ``property_over_8kb``: one per list or object property over 8 KB of JSON; a list keeps
      its leading elements that fit, an object the members that fit.

    Nested lists and objects are copied, never changed: they belong to the event's payload.
    """
    notes: dict[str, int] = {}
    _drop_properties(props, payload_keys, notes)
    for key, value in props.items():
        # 63 characters are at most 252 bytes: only longer strings need encoding.
        if isinstance(value, str) and len(value) > MAX_STRING_BYTES // 4:
            props[key] = _fit_string(value, notes)
        elif isinstance(value, list | dict):
            props[key] = _fit_size(_fit_value(value, 0, notes), notes)
    return notes


def _note(notes: dict[str, int], reason: str, n: int = 1) -> None:
    notes[reason] = notes.get(reason, 0) + n


def _drop_properties(
    props: dict[str, Any], payload_keys: Collection[str], notes: dict[str, int]
) -> None:
    if len(props) + len(LIBRARY_PROPERTIES) <= MAX_PROPERTIES:
        return
    count = len(props) + len(LIBRARY_PROPERTIES - props.keys())
    if count <= MAX_PROPERTIES:
        return
    droppable = [k for k in props if k in payload_keys and k not in ("time", "$insert_id")]
    keep = max(0, len(droppable) - (count - MAX_PROPERTIES))
    dropped = droppable[keep:]
    for key in dropped:
        del props[key]
    _note(notes, "properties_dropped", len(dropped))


def _fit_string(value: str, notes: dict[str, int]) -> str:
    raw = value.encode()
    if len(raw) <= MAX_STRING_BYTES:
        return value
    _note(notes, "property_value_truncated")
    return raw[:MAX_STRING_BYTES].decode(errors="ignore")


_TOO_DEEP = object()
"""What :func:`_fit_value` returns for an object nested too deep: its place is dropped."""


def _fit_value(value: Any, depth: int, notes: dict[str, int]) -> Any:
    """``value`` within the per-value limits; ``depth`` counts the objects around it."""
    if isinstance(value, str):
        return _fit_string(value, notes) if len(value) > MAX_STRING_BYTES // 4 else value
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            _note(notes, "list_truncated")
            value = value[:MAX_ITEMS]
        items = (_fit_value(item, depth, notes) for item in value)
        return [item for item in items if item is not _TOO_DEEP]
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            _note(notes, "object_too_deep")
            return _TOO_DEEP
        if len(value) > MAX_ITEMS:
            _note(notes, "object_keys_dropped")
            value = dict(list(value.items())[:MAX_ITEMS])
        members = ((k, _fit_value(v, depth + 1, notes)) for k, v in value.items())
        return {k: v for k, v in members if v is not _TOO_DEEP}
    return value


def _fit_size(value: list[Any] | dict[str, Any], notes: dict[str, int]) -> Any:
    """A list or object property cut to 8 KB of JSON: a list's leading elements that fit, an
    object's members that fit (in order; one too big is skipped, the next may fit)."""
    if len(_encode(value)) <= MAX_COLLECTION_BYTES:
        return value
    _note(notes, "property_over_8kb")
    size = 2  # [] or {}
    if isinstance(value, list):
        kept: list[Any] = []
        for item in value:
            size += len(_encode(item)) + bool(kept)  # the comma before it
            if size > MAX_COLLECTION_BYTES:
                break
            kept.append(item)
        return kept
    members: dict[str, Any] = {}
    for key, item in value.items():
        member = len(_encode(key)) + 1 + len(_encode(item)) + bool(members)
        if size + member <= MAX_COLLECTION_BYTES:
            members[key] = item
            size += member
    return members


def _failed_records(
    refused: _Refused, chunk: list[tuple[Event, str, str]], path: str
) -> list[Rejected]:
    """Per-event rejects of an ``/import`` 400 that lists them; otherwise raise for the batch.

    ``/import`` answers 400 with ``failed_records`` (index and message per refused event) and
    imports the rest, so only those are dead letters and the batch counts as delivered. A list
    naming no event of the request (an index outside it, missing or not an integer) cannot
    say which events were refused: the sink is blocked (something other than Mixpanel's API,
    or a change of it, answers), so nothing is dead-lettered for it and the batch waits.
    """
    error: SinkError | None = error_for_status(
        refused.status, retry_after=refused.retry_after, detail=refused.body,
        location=refused.location,
    )  # fmt: skip
    if refused.status == 400:
        try:
            body = msgspec.json.decode(refused.body)
        except msgspec.DecodeError:
            body = None
        failed = body.get("failed_records") if isinstance(body, dict) else None
        if isinstance(failed, list) and failed:
            out = []
            for record in failed:
                index = _index_in(record, len(chunk))
                if index is None:
                    raise BlockedError(_unmatched(path, len(chunk), record))
                event = chunk[index][0]
                reason = f"mixpanel: {record.get('field', '')} {record.get('message', '')}"
                out.append(Rejected(event.seq, event.event_id, reason.strip()[:300]))
            return out
    raise error or TransientError(f"mixpanel: HTTP {refused.status}")


def _index_in(record: Any, size: int) -> int | None:
    """The position a failed record names in a request of ``size`` events, if it names one."""
    if not isinstance(record, dict):
        return None
    index = record.get("index")
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < size:
        return index
    return None


def _unmatched(path: str, size: int, record: Any) -> str:
    what = f"index {record.get('index')!r}" if isinstance(record, dict) else "a record"
    return (
        f"mixpanel: {path} answered 400 with failed_records that do not match the request of "
        f"{size} events ({what} in {str(record)[:100]!r}); nothing is dead-lettered, the "
        "batch is retried; check base_url / api_host"
    )
