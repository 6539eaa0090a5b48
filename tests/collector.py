"""A real local HTTP collector that speaks Segment, Mixpanel and GA4 Measurement Protocol.

It listens on 127.0.0.1 (random port), validates every request against the vendor's
documented shape and limits, records what it received, and can be told to fail for a while
(500, 429 with Retry-After ...) or to be slow. Problems in accepted payloads go to
``invalid`` (Segment and GA4 answer 2xx to most bad input, so a test must look there).

In a test::

    with Collector(segment_write_key="wk", mixpanel_token="tok") as c:
        ... point sinks at c.url ...
        c.wait_for("segment", 100)
        assert c.invalid == []

As a process (benchmarks, crash tests): ``python -m tests.collector --port-file P`` and read
``GET /_stats``. Routes: ``/v1/batch`` (Segment), ``/track`` and ``/import`` (Mixpanel),
``/mp/collect`` and ``/debug/mp/collect`` (GA4).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

SEGMENT_MAX_EVENT = 32 * 1024
SEGMENT_MAX_BATCH = 500 * 1024
SEGMENT_MAX_EVENTS = 2500
MIXPANEL_MAX_EVENTS = 2000
MIXPANEL_MAX_PROPERTIES = 255
"""An event must have fewer than this many properties."""
MIXPANEL_MAX_EVENT_BYTES = 1024 * 1024
"""An event must be smaller than 1 MB of uncompressed JSON."""
MIXPANEL_MAX_STRING_BYTES = 255
"""Longer string values are cut by Mixpanel without an error (255 bytes, UTF-8), in lists and
objects too."""
MIXPANEL_MAX_ITEMS = 255
"""Every list must have fewer than this many elements, every object fewer keys, at any depth."""
MIXPANEL_MAX_DEPTH = 3
"""Objects nest at most this deep, a property's own object being the first level."""
MIXPANEL_MAX_COLLECTION_BYTES = 8 * 1024
"""A list or object property holds at most 8 KB (its compact JSON, UTF-8)."""
MIXPANEL_LIVE_SECONDS = 5 * 24 * 3600
GA4_MAX_EVENTS, GA4_MAX_PARAMS, GA4_MAX_NAME, GA4_MAX_VALUE = 25, 25, 40, 100
GA4_MAX_BODY = 130 * 1024
GA4_MAX_AGE_MICROS = 72 * 3600 * 1_000_000
_GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_INSERT_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
GA4_RESERVED = {
    "session_start",
    "first_visit",
    "first_open",
    "user_engagement",
    "app_remove",
    "error",
}


@dataclass
class Fault:
    """Answer ``status`` instead of processing, for ``times`` requests or until ``until``."""

    status: int
    times: int | None = None
    until: float | None = None
    retry_after: str | None = None
    vendor: str | None = None
    echo: bool = False
    """Answer with the request line and headers quoted, as some proxies and error pages do."""
    match: bytes | None = None
    """Only requests whose body contains these bytes (one user's GA4 request, say)."""
    location: str | None = None
    """Send ``Location: <location><the request's path and query>``: a redirect to the same
    route at another address (``""``: this one)."""

    def active(self, vendor: str, body: bytes = b"") -> bool:
        if self.vendor is not None and self.vendor != vendor:
            return False
        if self.match is not None and self.match not in body:
            return False
        if self.until is not None and time.monotonic() >= self.until:
            return False
        return self.times is None or self.times > 0


@dataclass
class Stats:
    requests: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    events: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    refused: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cut_off: int = 0
    """Requests whose body ended before its Content-Length (the sender died mid-request)."""


class Collector:
    """The collector server; start/stop it, or use it as a context manager."""

    def __init__(
        self,
        *,
        segment_write_key: str = "test-write-key",
        mixpanel_token: str = "test-token",
        mixpanel_secret: str = "test-secret",
        ga4_measurement_id: str = "G-TEST",
        ga4_api_secret: str = "test-ga4-secret",
        keep_events: bool = True,
        port: int = 0,
    ) -> None:
        self.segment_write_key = segment_write_key
        self.mixpanel_token = mixpanel_token
        self.mixpanel_secret = mixpanel_secret
        self.ga4_measurement_id = ga4_measurement_id
        self.ga4_api_secret = ga4_api_secret
        self.keep_events = keep_events
        self.lock = threading.Lock()
        self.received: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.keys: dict[str, list[str]] = defaultdict(list)
        self.invalid: list[str] = []
        self.stats = Stats()
        self.faults: list[Fault] = []
        self.delay = 0.0
        self.mixpanel_reject_insert_ids: set[str] = set()
        self.segment_reject_message_ids: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Collector:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- control -----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        times: int | None = None,
        seconds: float | None = None,
        retry_after: str | None = None,
        vendor: str | None = None,
        echo: bool = False,
        match: str | None = None,
        location: str | None = None,
    ) -> None:
        """Answer ``status`` to the next ``times`` requests, or for ``seconds``; with ``echo``,
        quoting the request line and headers in the answer; with ``match``, only to requests
        whose body contains it; with ``location``, redirecting to the same route there."""
        until = time.monotonic() + seconds if seconds is not None else None
        fault = Fault(status, times, until, retry_after, vendor, echo,
                      None if match is None else match.encode(), location)  # fmt: skip
        with self.lock:
            self.faults.append(fault)

    def recover(self) -> None:
        """Stop every injected failure."""
        with self.lock:
            self.faults.clear()

    def count(self, vendor: str) -> int:
        with self.lock:
            return self.stats.events[vendor]

    def wait_for(self, vendor: str, count: int, timeout: float = 30.0) -> None:
        """Block until ``vendor`` received at least ``count`` events (AssertionError if not)."""
        deadline = time.monotonic() + timeout
        while self.count(vendor) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{vendor}: {self.count(vendor)} of {count} events arrived")
            time.sleep(0.02)

    def unique_keys(self, vendor: str) -> set[str]:
        with self.lock:
            return set(self.keys[vendor])

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.stats.requests),
                "events": dict(self.stats.events),
                "refused": dict(self.stats.refused),
                "unique": {v: len(set(k)) for v, k in self.keys.items()},
                "invalid": list(self.invalid[:50]),
                "invalid_count": len(self.invalid),
            }

    # -- used by the handler -----------------------------------------------------------------

    def fault_for(self, vendor: str, body: bytes = b"") -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.active(vendor, body):
                    if fault.times is not None:
                        fault.times -= 1
                    self.stats.refused[vendor] += 1
                    return fault
        return None

    def record(
        self, vendor: str, events: list[dict[str, Any]], keys: list[str], problems: list[str]
    ) -> None:
        with self.lock:
            self.stats.requests[vendor] += 1
            self.stats.events[vendor] += len(events)
            self.keys[vendor].extend(keys)
            if self.keep_events:
                self.received[vendor].extend(events)
            self.invalid.extend(f"{vendor}: {p}" for p in problems)


# -- validation, one function per vendor, returning (events, dedup keys, problems) ------------


def _iso(value: Any) -> bool:
    try:
        datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


class _SegmentBody(msgspec.Struct):
    batch: list[msgspec.Raw] | None = None


_segment_body = msgspec.json.Decoder(_SegmentBody).decode
_json_object = msgspec.json.Decoder(dict[str, Any]).decode


def validate_segment(
    body: bytes, auth: str | None, write_key: str
) -> tuple[int, list[dict[str, Any]], list[str]]:
    """Segment HTTP Tracking API batch: https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/#batch

    Each message is sized as the bytes it was sent as (its raw slice of the body), which is
    what the 32 KB event limit applies to.
    """
    expected = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    if auth != expected:
        return 401, [], ["missing or wrong write key"]
    if len(body) > SEGMENT_MAX_BATCH:
        return 400, [], [f"batch of {len(body)} bytes over 500 KB"]
    try:
        raws = _segment_body(body).batch
    except msgspec.ValidationError as exc:
        if "$.batch" not in str(exc):  # the body itself is not a JSON object
            raise ValueError(f"body is not a JSON object: {exc}") from exc
        return 400, [], ["batch is not a non-empty list"]
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc
    if not raws:
        return 400, [], ["batch is not a non-empty list"]
    problems = []
    if len(raws) > SEGMENT_MAX_EVENTS:
        problems.append(f"{len(raws)} events in one batch (max {SEGMENT_MAX_EVENTS})")
    batch = []
    for i, raw in enumerate(raws):
        where = f"batch[{i}]"
        try:
            msg = _json_object(raw)
        except msgspec.DecodeError as exc:
            raise ValueError(f"{where} is not an object: {exc}") from exc
        batch.append(msg)
        if len(raw) > SEGMENT_MAX_EVENT:
            problems.append(f"{where} over 32 KB")
        if msg.get("type") != "track" or not isinstance(msg.get("event"), str) or not msg["event"]:
            problems.append(f"{where} is not a track call with an event name")
        if not (msg.get("userId") or msg.get("anonymousId")):
            problems.append(f"{where} has neither userId nor anonymousId")
        if not isinstance(msg.get("messageId"), str) or not msg["messageId"]:
            problems.append(f"{where} has no messageId")
        if not _iso(msg.get("timestamp")):
            problems.append(f"{where} timestamp {msg.get('timestamp')!r} is not ISO-8601")
        if not isinstance(msg.get("properties", {}), dict) or not isinstance(
            msg.get("context", {}), dict
        ):
            problems.append(f"{where} properties/context are not objects")
    return 200, batch, problems


_mixpanel_raws = msgspec.json.Decoder(list[msgspec.Raw] | dict[str, Any]).decode


def _mixpanel_limits(raw: bytes, props: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(refused, cut): what breaks an event's limits, and what Mixpanel would silently cut.

    https://docs.mixpanel.com/reference/import-events: an event must be smaller than 1 MB of
    uncompressed JSON and have fewer than 255 properties; every object (at any depth) fewer
    than 255 keys, nested at most 3 deep; every list fewer than 255 elements. Those events are
    refused. String values over 255 bytes (in lists and objects too) and list or object
    properties over 8 KB are cut without an error
    (https://docs.mixpanel.com/docs/data-structure/property-reference/data-type).
    """
    refused: list[str] = []
    cut: list[str] = []
    if len(raw) >= MIXPANEL_MAX_EVENT_BYTES:
        refused.append(f"is {len(raw)} bytes (must be under 1 MB)")
    if len(props) >= MIXPANEL_MAX_PROPERTIES:
        refused.append(f"has {len(props)} properties (must be fewer than 255)")
    for key, value in props.items():
        _mixpanel_value(value, f"property {key!r}", 0, refused, cut)
        if isinstance(value, list | dict):
            size = len(msgspec.json.encode(value))
            if size > MIXPANEL_MAX_COLLECTION_BYTES:
                cut.append(f"property {key!r} of {size} bytes of JSON would be cut to 8 KB")
    return refused, cut


def _mixpanel_value(value: Any, where: str, depth: int, refused: list[str], cut: list[str]) -> None:
    """Check one value (and what it holds) against the per-value limits; ``depth`` counts
    the objects around it below the event's properties."""
    if isinstance(value, str):
        if len(value.encode()) > MIXPANEL_MAX_STRING_BYTES:
            cut.append(f"{where} of {len(value.encode())} bytes would be cut to 255")
    elif isinstance(value, list):
        if len(value) >= MIXPANEL_MAX_ITEMS:
            refused.append(f"{where} is a list of {len(value)} elements (must be fewer than 255)")
        for i, item in enumerate(value):
            _mixpanel_value(item, f"{where}[{i}]", depth, refused, cut)
    elif isinstance(value, dict):
        if depth + 1 > MIXPANEL_MAX_DEPTH:
            refused.append(f"{where} nests objects {depth + 1} deep (at most 3)")
            return
        if len(value) >= MIXPANEL_MAX_ITEMS:
            refused.append(f"{where} is an object of {len(value)} keys (must be fewer than 255)")
        for k, item in value.items():
            _mixpanel_value(item, f"{where}.{k}", depth + 1, refused, cut)


def validate_mixpanel(
    path: str, body: bytes, auth: str | None, token: str, secret: str, reject: set[str]
) -> tuple[int, dict[str, Any], list[dict[str, Any]], list[str]]:
    """Mixpanel /track and /import: https://developer.mixpanel.com/reference/import-events

    Events over a per-event limit are refused one by one (``failed_records``, the rest is
    imported); strings and list or object properties Mixpanel would cut are accepted, as
    Mixpanel does, and reported as problems, since the cut is silent.
    """
    form = parse_qs(body.decode())
    data = form.get("data", ["[]"])[0].encode()
    parsed = _mixpanel_raws(data)
    raws = parsed if isinstance(parsed, list) else [msgspec.Raw(data)]
    events = [json.loads(bytes(raw)) for raw in raws]
    if path == "/import" and auth != "Basic " + base64.b64encode(f"{secret}:".encode()).decode():
        return 401, {"error": "Unauthorized, invalid project secret", "status": 0}, [], []
    if len(events) > MIXPANEL_MAX_EVENTS:
        return 400, {"error": "too many events", "status": 0}, [], []
    problems, failed, accepted, flagged = [], [], [], []
    now_ms = time.time() * 1000
    for i, ev in enumerate(events):
        props = ev.get("properties") or {}
        where = f"{path}[{i}]"
        over, cut = _mixpanel_limits(bytes(raws[i]), props)
        flagged += [f"{where} {text}" for text in over + cut]
        if over:
            failed.append({"index": i, "$insert_id": props.get("$insert_id"),
                           "field": "event", "message": "; ".join(over)})  # fmt: skip
            continue
        if not isinstance(ev.get("event"), str) or not ev["event"]:
            problems.append(f"{where} has no event name")
        if props.get("token") != token:
            problems.append(f"{where} has a wrong token")
        if not isinstance(props.get("distinct_id"), str):
            problems.append(f"{where} has no distinct_id")
        t = props.get("time")
        if not isinstance(t, int | float):
            problems.append(f"{where} time {t!r} is not a number")
            continue
        t_ms = t if t > 1e11 else t * 1000
        if path == "/track" and now_ms - t_ms > MIXPANEL_LIVE_SECONDS * 1000:
            problems.append(f"{where} is older than 5 days on /track")
        insert = props.get("$insert_id")
        if not isinstance(insert, str) or not _INSERT_ID.match(insert):
            problems.append(f"{where} $insert_id {insert!r} is not 1-36 alphanumerics or -")
        elif insert in reject:
            failed.append(
                {
                    "index": i,
                    "$insert_id": insert,
                    "field": "properties",
                    "message": "rejected by the test collector",
                }
            )
            continue
        accepted.append(ev)
    if problems:
        return 200, {"error": "; ".join(problems[:3]), "status": 0}, [], problems + flagged
    if failed:
        return (
            400,
            {
                "code": 400,
                "error": "some data points in the request failed validation",
                "failed_records": failed,
                "num_records_imported": len(accepted),
                "status": "Bad Request",
            },
            accepted,
            flagged,
        )
    return 200, {"status": 1}, accepted, flagged


def validate_ga4(
    query: dict[str, list[str]], body: bytes, measurement_id: str, secret: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """GA4 Measurement Protocol: https://developers.google.com/analytics/devguides/collection/protocol/ga4/reference"""
    msgs: list[dict[str, str]] = []

    def bad(path: str, text: str, code: str = "VALUE_INVALID") -> None:
        msgs.append({"fieldPath": path, "description": text, "validationCode": code})

    if query.get("measurement_id") != [measurement_id] or query.get("api_secret") != [secret]:
        bad("measurement_id", "unknown measurement_id or api_secret", "VALUE_REQUIRED")
    if len(body) >= GA4_MAX_BODY:
        bad("", f"body of {len(body)} bytes is not under 130 kB", "EXCEEDED_MAX_ENTITIES")
    doc = json.loads(body)
    if not isinstance(doc.get("client_id"), str) or not doc["client_id"]:
        bad("client_id", "client_id is required", "VALUE_REQUIRED")
    if "user_id" in doc and (not isinstance(doc["user_id"], str) or len(doc["user_id"]) > 256):
        bad("user_id", "user_id must be a string of at most 256 characters")
    now = time.time() * 1_000_000
    events = doc.get("events") or []
    if not 1 <= len(events) <= GA4_MAX_EVENTS:
        bad("events", f"{len(events)} events (1..25 allowed)", "EXCEEDED_MAX_ENTITIES")
    stamps = [("timestamp_micros", doc.get("timestamp_micros"))] + [
        (f"events[{i}].timestamp_micros", e.get("timestamp_micros")) for i, e in enumerate(events)
    ]
    for path, ts in stamps:
        if ts is not None and (
            not isinstance(ts, int) or now - ts > GA4_MAX_AGE_MICROS or ts - now > 60_000_000
        ):
            bad(path, f"{ts!r} is not within the last 72 hours")
    for i, ev in enumerate(events):
        name = ev.get("name", "")
        if (
            not isinstance(name, str)
            or len(name) > GA4_MAX_NAME
            or not _GA4_NAME.match(name)
            or name in GA4_RESERVED
        ):
            bad(f"events[{i}].name", f"event name {name!r} is invalid or reserved", "NAME_INVALID")
        params = ev.get("params") or {}
        if len(params) > GA4_MAX_PARAMS:
            bad(f"events[{i}].params", f"{len(params)} params (max 25)", "EXCEEDED_MAX_ENTITIES")
        for key, value in params.items():
            if (
                len(key) > GA4_MAX_NAME
                or not _GA4_NAME.match(key)
                or key.startswith(("google_", "ga_", "firebase_"))
            ):
                bad(f"events[{i}].params.{key}", "parameter name invalid", "NAME_INVALID")
            if isinstance(value, str) and len(value) > GA4_MAX_VALUE:
                bad(
                    f"events[{i}].params.{key}",
                    f"value of {len(value)} chars (max 100)",
                    "VALUE_LENGTH_EXCEEDED",
                )
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                bad(f"events[{i}].params.{key}", f"value {value!r} is not a string or number")
    return [
        {**e, "_user_id": doc.get("user_id"), "_client_id": doc.get("client_id")} for e in events
    ], msgs


def _handler_for(c: Collector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes; without this, Nagle holds the body until
            # the client's delayed ACK (40 ms), which no real vendor endpoint would add.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *_: Any) -> None:  # quiet
            return

        def _reply(
            self, status: int, doc: Any = None, headers: dict[str, str] | None = None
        ) -> None:
            payload = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path == "/_stats":
                self._reply(200, c.snapshot())
            else:
                self._reply(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender was killed mid-request: no vendor ever sees a cut-off request, so
                # it is neither a payload nor a malformed one. Nothing is answered.
                with c.lock:
                    c.stats.cut_off += 1
                self.close_connection = True
                return
            url = urlsplit(self.path)
            vendor = {
                "/v1/batch": "segment",
                "/track": "mixpanel",
                "/import": "mixpanel",
                "/mp/collect": "ga4",
                "/debug/mp/collect": "ga4-debug",
            }.get(url.path)
            if url.path == "/_fail":
                doc = json.loads(body)
                if doc.get("recover"):
                    c.recover()
                else:
                    c.fail(
                        doc["status"],
                        times=doc.get("times"),
                        seconds=doc.get("seconds"),
                        retry_after=doc.get("retry_after"),
                        vendor=doc.get("vendor"),
                    )
                self._reply(200, {"ok": True})
                return
            if vendor is None:
                self._reply(404, {"error": f"no route {url.path}"})
                return
            if c.delay:
                time.sleep(c.delay)
            fault = c.fault_for(vendor, body)
            if fault is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.location is not None:
                    headers["Location"] = fault.location + self.path
                text = "injected failure"
                if fault.echo:
                    text += f" of {self.requestline} with {dict(self.headers.items())}"
                self._reply(
                    fault.status,
                    {"code": "injected", "message": text, "status": 0, "error": text},
                    headers,
                )
                return
            try:
                self._dispatch(vendor, url.path, parse_qs(url.query), body)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                c.record(vendor, [], [], [f"unparseable request: {exc!r}"])
                self._reply(
                    400,
                    {
                        "code": "invalid_request",
                        "message": str(exc),
                        "status": 0,
                        "error": str(exc),
                    },
                )

        def _dispatch(
            self, vendor: str, path: str, query: dict[str, list[str]], body: bytes
        ) -> None:
            auth = self.headers.get("Authorization")
            if vendor == "segment":
                status, batch, problems = validate_segment(body, auth, c.segment_write_key)
                poison = {m.get("messageId") for m in batch} & c.segment_reject_message_ids
                if poison:
                    status, problems = 400, [f"rejected messageId {sorted(poison)[0]}"]
                if status != 200:
                    self._reply(status, {"code": "invalid_request", "message": "; ".join(problems)})
                    return
                c.record(vendor, batch, [m.get("messageId", "") for m in batch], problems)
                self._reply(200, {"success": True})
            elif vendor == "mixpanel":
                status, answer, accepted, problems = validate_mixpanel(
                    path,
                    body,
                    auth,
                    c.mixpanel_token,
                    c.mixpanel_secret,
                    c.mixpanel_reject_insert_ids,
                )
                keys = [
                    f"{e['event']}|{e['properties'].get('distinct_id')}|{e['properties'].get('time')}|"
                    f"{e['properties'].get('$insert_id')}"
                    for e in accepted
                ]
                if accepted or problems:
                    c.record(vendor, [{**e, "_endpoint": path} for e in accepted], keys, problems)
                self._reply(status, answer)
            else:
                events, msgs = validate_ga4(query, body, c.ga4_measurement_id, c.ga4_api_secret)
                if vendor == "ga4-debug":
                    self._reply(200, {"validationMessages": msgs})
                    return
                keys = [str(e.get("params", {}).get("event_id", "")) for e in events]
                c.record(
                    vendor, events, keys, [f"{m['fieldPath']}: {m['description']}" for m in msgs]
                )
                self._reply(204)

    return Handler


def iter_events(c: Collector, vendor: str) -> Iterator[dict[str, Any]]:
    with c.lock:
        yield from list(c.received[vendor])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the chosen port here")
    parser.add_argument("--keep-events", action="store_true")
    args = parser.parse_args()
    c = Collector(port=args.port, keep_events=args.keep_events).start()
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(c.port))
        tmp.replace(args.port_file)
    print(f"collector listening on {c.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        c.stop()


if __name__ == "__main__":
    main()
