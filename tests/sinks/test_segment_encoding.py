"""The Segment sink's request bodies: the library's ``request.post`` encodes them with our
:class:`BatchSerializer`, to the same JSON value ``json.dumps`` gives, and within Segment's
limits as the collector measures them (the bytes sent)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest
from segment.analytics import request as segment_request
from segment.analytics.consumer import MAX_MSG_SIZE
from segment.analytics.request import DatetimeSerializer

from service.sinks.segment import (
    BatchSerializer,
    EncodedBatch,
    SegmentSink,
    ascii_json,
    ascii_message,
    over_message_limit,
    sent_size,
)
from service.sinks.settings import SegmentSinkSettings
from tests.collector import Collector
from tests.sinks.conftest import message, sink_config

TRICKY = "héllo ⚽ 😀 \u2028\x00\x1f \"quoted\" \\ / </script> \ud7ff \ue000 \U0010ffff"


def batch_of(*messages: dict) -> EncodedBatch:
    """As the sink builds one: each message's compact JSON, escaped to ASCII."""
    return EncodedBatch(json.dumps(m, separators=(",", ":")).encode() for m in messages)


def test_a_batch_body_is_the_json_value_json_dumps_gives_in_ascii():
    msgs = [{"text": TRICKY, "n": 1.5, "big": 2**60, "neg": -3, "none": None, "t": True,
             "nested": [1, {"ü": [TRICKY]}]}, {"empty": {}, "list": []}]  # fmt: skip
    ours = json.dumps({"batch": batch_of(*msgs), "sentAt": "2026", "writeKey": "k"}, cls=BatchSerializer)
    theirs = json.dumps({"batch": msgs, "sentAt": "2026", "writeKey": "k"}, cls=DatetimeSerializer)
    assert ours.isascii()  # requests sends a str body as Latin-1: it must stay ASCII
    assert json.loads(ours) == json.loads(theirs)
    # byte for byte what json.dumps writes, escapes and all, but for the separators' spaces
    assert ours == json.dumps({"batch": msgs, "sentAt": "2026", "writeKey": "k"}, separators=(",", ":"))
    assert ascii_json(msgs[0]) == json.dumps(msgs[0], separators=(",", ":"))


def test_each_message_is_escaped_as_json_dumps_escapes_it():
    for text in ["⚽ goal", "é", "😀", "\u2028 ⚽\u0100\uffff", "a\\xb ⚽", "\\U0001 ⚽", "\x00 ⚽", TRICKY]:
        msg = {"text": text, "n": [1, None, 2.5]}
        raw = msgspec.json.encode(msg)  # as the sink encodes it
        assert ascii_message(msg, raw) == json.dumps(msg, separators=(",", ":")).encode(), text
    # DEL is ASCII and may stand in JSON as it is; json.dumps escapes it, msgspec does not
    msg = {"text": "\x7f ⚽"}
    raw = msgspec.json.encode(msg)  # as the sink encodes it
    assert ascii_message(msg, raw) == b'{"text":"\x7f \\u26bd"}' and json.loads(ascii_message(msg, raw)) == msg


def test_any_other_body_is_encoded_by_the_library_as_before():
    at = datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)
    for body in ({"batch": [{"at": at, "text": TRICKY}], "writeKey": "k"}, [TRICKY], {"at": at}):
        assert json.dumps(body, cls=BatchSerializer) == json.dumps(body, cls=DatetimeSerializer)
    # the library's own encoder, were it used, fails loudly rather than send a wrong body
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        json.dumps({"batch": batch_of({"a": 1})}, cls=DatetimeSerializer)


def test_the_sink_makes_the_library_post_use_it():
    SegmentSink(SegmentSinkSettings(name="s"), write_key="k")
    assert segment_request.DatetimeSerializer is BatchSerializer


def test_sizes_bound_the_bytes_sent_and_the_32_kb_test_is_the_librarys():
    for text in ["plain", TRICKY, "⚽" * 1000, "😀" * 1000, "é" * 1000]:
        m = {"text": text, "n": [1, 2, {"a": None}]}
        raw = json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode()
        assert sent_size(raw) >= len(ascii_json(m))
    # compact under 32 KB, but over it with json.dumps' spaces: refused, as the library refuses
    m = {"k": [1] * 11_000}
    compact = len(ascii_json(m))
    assert compact < MAX_MSG_SIZE < len(json.dumps(m))
    assert over_message_limit(m, compact)
    assert not over_message_limit({"k": [1] * 100}, len(ascii_json({"k": [1] * 100})))


async def test_non_ascii_text_and_full_batches_arrive_intact(collector: Collector, make_rig):
    """Through the real library and collector: text with escapes of every kind arrives as
    written, and batches of large messages are cut under Segment's 500 KB."""
    rig = await make_rig({"segment": [sink_config("segment", collector.url, include_text=True)]})
    long = "⚽ " + "x" * 20_000  # thirty of them: 600 KB
    sent = await rig.append([message(i, text=TRICKY if i % 4 == 3 else long) for i in range(40)])
    await rig.drained()
    assert collector.invalid == []
    got = {r["messageId"]: r["properties"]["text"] for r in collector.received["segment"]}
    assert got == {e.event_id: e.payload["text"] for e in sent}
    assert collector.stats.requests["segment"] >= 2
