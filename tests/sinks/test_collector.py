"""The local collector's Segment validation catches what Segment would refuse or flag.

Every sink test that asserts ``collector.invalid == []`` relies on these checks being able to
fail; here each one is made to."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from segment.analytics import Client

from tests.collector import SEGMENT_MAX_EVENT, SEGMENT_MAX_EVENTS, validate_segment

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
