"""The local collector's Segment and Mixpanel validation catches what the vendor would refuse,
flag or silently cut.

Every sink test that asserts ``collector.invalid == []`` relies on these checks being able to
fail; here each one is made to."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from mixpanel import Mixpanel
from segment.analytics import Client

from tests.collector import (
    SEGMENT_MAX_EVENT,
    SEGMENT_MAX_EVENTS,
    validate_mixpanel,
    validate_segment,
)

KEY = "wk"
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def library_message(i: int, **properties: Any) -> dict[str, Any]:
    """A message exactly as segment-analytics-python builds it."""
    client = Client(KEY, send=False, sync_mode=True)
    _, msg = client.track(
        user_id=f"u{i}", event="Community Message Sent", properties=properties or {"seq": i}
    )
    result: dict[str, Any] = json.loads(json.dumps(msg, default=str))
    return result


def body(batch: Any) -> bytes:
    return json.dumps({"batch": batch, "writeKey": KEY}).encode()


def test_a_library_batch_is_accepted_as_sent():
    batch = [library_message(i) for i in range(3)]
    status, received, problems = validate_segment(body(batch), AUTH, KEY)
    assert (status, problems) == (200, [])
    assert received == batch


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"messageId": None}, "batch[1] has no messageId"),
        ({"timestamp": "yesterday"}, "batch[1] timestamp 'yesterday' is not ISO-8601"),
        ({"type": "identify"}, "batch[1] is not a track call with an event name"),
        ({"event": ""}, "batch[1] is not a track call with an event name"),
        ({"userId": None, "anonymousId": None}, "batch[1] has neither userId nor anonymousId"),
        ({"properties": [1]}, "batch[1] properties/context are not objects"),
    ],
)
def test_each_message_check_flags_its_problem(change, problem):
    batch = [library_message(i) for i in range(3)]
    batch[1].update(change)
    status, _, problems = validate_segment(body(batch), AUTH, KEY)
    assert status == 200  # Segment answers 2xx and drops the message; a test must look here
    assert problems == [problem]


def test_a_message_over_32_kb_as_sent_is_flagged():
    # Non-ASCII text is sent as \\uXXXX escapes (json.dumps' default): 6 bytes per character
    # on the wire, so 6,000 characters are ~36 KB as sent though far under 32 KB as UTF-8.
    # (The library refuses such a message itself, so it is edited in after building.)
    text = "é" * 6000
    assert len(text.encode()) < SEGMENT_MAX_EVENT
    batch = [library_message(0), library_message(1)]
    batch[1]["properties"]["text"] = text
    _, _, problems = validate_segment(body(batch), AUTH, KEY)
    assert problems == ["batch[1] over 32 KB"]


def test_batch_level_limits():
    small = {"type": "track", "event": "E", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"}
    too_many = [{**small, "messageId": f"m{i}"} for i in range(SEGMENT_MAX_EVENTS + 1)]
    compact = json.dumps({"batch": too_many}, separators=(",", ":")).encode()
    assert len(compact) < 500 * 1024
    assert validate_segment(compact, AUTH, KEY)[2] == ["2501 events in one batch (max 2500)"]
    over_500_kb = body([library_message(i, text="x" * 30_000) for i in range(20)])
    assert validate_segment(over_500_kb, AUTH, KEY)[0] == 400
    for empty in (b'{"batch": []}', b'{"batch": {"a": 1}}', b"{}"):
        assert validate_segment(empty, AUTH, KEY)[:2] == (400, [])
    assert validate_segment(body([library_message(0)]), "Basic bm9wZTo=", KEY)[0] == 401


def test_unparseable_bodies_raise_value_error():
    # The request handler turns ValueError into a 400 and an ``invalid`` entry.
    with pytest.raises(ValueError, match="not JSON"):
        validate_segment(b'{"batch": [', AUTH, KEY)
    with pytest.raises(ValueError, match="not a JSON object"):
        validate_segment(b'[{"batch": []}]', AUTH, KEY)
    with pytest.raises(ValueError, match=r"batch\[0\] is not an object"):
        validate_segment(b'{"batch": [1]}', AUTH, KEY)


class _Keep:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def send(self, _endpoint: str, message: str, *_: Any, **__: Any) -> None:
        self.messages.append(message)


def mixpanel_body(*properties: dict[str, Any]) -> bytes:
    """A /track body of one event per ``properties``, as the mixpanel library builds them."""
    keep = _Keep()
    mp = Mixpanel("tok", consumer=keep)
    for i, props in enumerate(properties):
        mp.track(f"u{i}", "community_message_sent", {"time": int(time.time() * 1000), **props})
    return urlencode({"data": "[" + ",".join(keep.messages) + "]", "verbose": 1}).encode()


def check_mixpanel(body: bytes) -> tuple[int, dict[str, Any], int, list[str]]:
    status, answer, accepted, problems = validate_mixpanel("/track", body, None, "tok", "", set())
    return status, answer, len(accepted), problems


def test_a_mixpanel_library_batch_is_accepted():
    body = mixpanel_body({"seq": 1}, {"text": "é" * 127}, {"n": 3})  # 254 bytes of text
    assert check_mixpanel(body) == (200, {"status": 1}, 3, [])


def test_mixpanel_events_over_its_per_event_limits_are_refused_one_by_one():
    many = {f"p{i}": i for i in range(255 - 6)}  # the library adds 6 of its own: 255 in all
    # Each list within every other limit (under 8 KB, fewer than 255 elements), 1 MB in all.
    big = {f"list{i}": ["x" * 250] * 30 for i in range(140)}
    status, answer, accepted, problems = check_mixpanel(mixpanel_body({"seq": 1}, many, big))
    assert (status, accepted) == (400, 1)  # the others are imported, as Mixpanel does
    assert [(r["index"], r["field"]) for r in answer["failed_records"]] == [(1, "event"),
                                                                            (2, "event")]  # fmt: skip
    assert problems[0] == "/track[1] has 255 properties (must be fewer than 255)"
    assert problems[1].startswith("/track[2] is 1") and "bytes (must be under 1 MB)" in problems[1]
    assert len(problems) == 2
    fewer = {f"p{i}": i for i in range(254 - 6)}
    assert check_mixpanel(mixpanel_body(fewer))[3] == []


def test_mixpanel_strings_it_would_cut_are_accepted_and_flagged():
    # Mixpanel keeps 255 bytes of a string value and says nothing: a test must look here.
    status, answer, accepted, problems = check_mixpanel(mixpanel_body({"text": "é" * 128}))
    assert (status, answer, accepted) == (200, {"status": 1}, 1)
    assert problems == ["/track[0] property 'text' of 256 bytes would be cut to 255"]


def test_mixpanel_lists_and_objects_over_its_limits_are_refused_one_by_one():
    ok = {"list": list(range(254)), "obj": {f"k{i}": i for i in range(254)},
          "deep": {"a": {"b": {"c": 1}}}, "objects": [{"a": {"b": {"c": 1}}}]}  # fmt: skip
    long_list = {"reasons": [{"code": "blocklist.word"}] * 255}
    wide = {"policy": {"actions": {f"code{i}": "block" for i in range(255)}}}
    deep = {"policy": {"a": {"b": {"c": {"d": 1}}}}}
    deep_in_list = {"reasons": [{"a": {"b": {"c": {"d": 1}}}}]}
    status, answer, accepted, problems = check_mixpanel(
        mixpanel_body(ok, long_list, wide, deep, deep_in_list)
    )
    assert (status, accepted) == (400, 1)
    assert [r["index"] for r in answer["failed_records"]] == [1, 2, 3, 4]
    assert problems == [
        "/track[1] property 'reasons' is a list of 255 elements (must be fewer than 255)",
        "/track[2] property 'policy'.actions is an object of 255 keys (must be fewer than 255)",
        "/track[3] property 'policy'.a.b.c nests objects 4 deep (at most 3)",
        "/track[4] property 'reasons'[0].a.b.c nests objects 4 deep (at most 3)",
    ]


def test_mixpanel_values_it_would_cut_inside_lists_and_objects_are_accepted_and_flagged():
    options = {"options": ["é" * 128, "short"]}
    reason = {"reasons": [{"detail": "é" * 128}]}
    big = {"blocklist": ["w" * 200] * 41, "policy": {"words": ["w" * 200] * 41}}
    status, answer, accepted, problems = check_mixpanel(mixpanel_body(options, reason, big))
    assert (status, answer, accepted) == (200, {"status": 1}, 3)
    assert problems == [
        "/track[0] property 'options'[0] of 256 bytes would be cut to 255",
        "/track[1] property 'reasons'[0].detail of 256 bytes would be cut to 255",
        "/track[2] property 'blocklist' of 8324 bytes of JSON would be cut to 8 KB",
        "/track[2] property 'policy' of 8334 bytes of JSON would be cut to 8 KB",
    ]
    fits = {"blocklist": ["w" * 200] * 40}  # 8,121 bytes
    assert check_mixpanel(mixpanel_body(fits))[3] == []
