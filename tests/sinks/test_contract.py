"""One contract for every HTTP sink, run against the real vendor library (Segment, Mixpanel)
or client (GA4) and a real local collector that validates the vendor's documented shape."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from service.domain.events import utcnow
from tests.collector import Collector
from tests.sinks.conftest import message, sink_config

KINDS = ["segment", "mixpanel", "ga4"]


def dedup_key(kind: str, received: dict[str, Any]) -> str:
    """The event id each vendor's dedup key carries."""
    if kind == "segment":
        return str(received["messageId"])
    if kind == "mixpanel":
        raw = received["properties"]["$insert_id"]
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return str(received["params"]["event_id"])


def props(kind: str, received: dict[str, Any]) -> dict[str, Any]:
    return received["params"] if kind == "ga4" else received["properties"]


@pytest.mark.parametrize("kind", KINDS)
async def test_delivers_every_event_once_with_its_dedup_key(kind, collector: Collector, make_rig):
    rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    sent = []
    for i in range(0, 300, 30):
        sent += await rig.append([message(j) for j in range(i, i + 30)])
    await rig.drained()
    got = collector.received[kind]
    assert sorted(dedup_key(kind, r) for r in got) == sorted(e.event_id for e in sent)
    assert collector.invalid == []
    (status,) = rig.fw.status()
    assert (status.cursor, status.lag, status.delivered, status.dead_letters) == (300, 0, 300, 0)


@pytest.mark.parametrize("kind", KINDS)
async def test_text_is_not_sent_unless_configured(kind, collector: Collector, make_rig):
    rig = await make_rig({kind: [sink_config(kind, collector.url, name="plain"),
                                 sink_config(kind, collector.url, name="texty", include_text=True)]})  # fmt: skip
    await rig.append([message(1, text="secret words")])
    await rig.drained()
    texts = [props(kind, r).get("text") for r in collector.received[kind]]
    assert sorted(texts, key=str) == [None, "secret words"]


@pytest.mark.parametrize("kind", KINDS)
async def test_property_allow_list(kind, collector: Collector, make_rig):
    rig = await make_rig(
        {kind: [sink_config(kind, collector.url, properties=["room_id", "device"])]}
    )
    await rig.append([message(1)])
    await rig.drained()
    (got,) = collector.received[kind]
    sent = set(props(kind, got))
    assert (
        "room_id" in sent and "device" in sent
    ) or kind == "segment"  # Segment: device in context
    assert not sent & {"seq", "node_id", "visibility", "client_msg_id", "context_id", "message_id"}
    if kind == "segment":  # the client fields go in context, under the same allow-list
        assert got["context"]["device"] == {"type": "ios"}
        assert not {"locale", "app"} & set(got["context"]), got["context"]


@pytest.mark.parametrize("kind", KINDS)
async def test_5xx_is_retried_until_accepted(kind, collector: Collector, make_rig):
    collector.fail(500, times=3)
    rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    sent = await rig.append([message(i) for i in range(20)])
    await rig.drained()
    (status,) = rig.fw.status()
    assert collector.stats.refused[kind] == 3 and status.errors >= 1 and status.dead_letters == 0
    assert {dedup_key(kind, r) for r in collector.received[kind]} == {e.event_id for e in sent}
    if kind == "ga4":  # no dedup key at GA4: requests accepted before the failure are not resent
        assert len(collector.received[kind]) == len(sent)


@pytest.mark.parametrize("kind", KINDS)
async def test_429_retry_after_is_honoured(kind, collector: Collector, make_rig):
    collector.fail(429, times=1, retry_after="1")
    rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    started = time.monotonic()
    await rig.append([message(1)])
    await rig.drained()
    assert time.monotonic() - started >= 1.0  # the server asked for one second
    (status,) = rig.fw.status()
    assert status.errors == 1 and "429" in (status.last_error or "")


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_credentials_block_without_dead_letters(kind, collector: Collector, make_rig):
    # Segment and Mixpanel /import refuse a wrong key for real; GA4 never says 401, so inject it.
    collector.segment_write_key = collector.mixpanel_secret = "rotated"
    if kind == "ga4":
        collector.fail(401, seconds=30)
    rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    old = kind == "mixpanel"  # older than 5 days: goes to /import, which needs the secret
    await rig.append([message(1, occurred_at=utcnow() - timedelta(days=6) if old else None)])
    deadline = time.monotonic() + 5
    while rig.fw.status()[0].state != "blocked" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    (status,) = rig.fw.status()
    assert (status.state, status.cursor, status.dead_letters) == ("blocked", 0, 0)
    assert "401" in (status.last_error or "")
    collector.segment_write_key, collector.mixpanel_secret = "test-write-key", "test-secret"
    collector.recover()
    await rig.drained()
    assert rig.fw.status()[0].dead_letters == 0 and len(collector.received[kind]) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_a_refused_event_is_dead_lettered_alone(kind, collector: Collector, make_rig):
    events = [message(i) for i in range(40)]
    poison = events[17]
    if kind == "segment":
        collector.segment_reject_message_ids.add(poison.event_id)
    elif kind == "mixpanel":
        collector.mixpanel_reject_insert_ids.add(poison.event_id.replace("-", ""))
    else:  # GA4 refuses nothing in production: the mapping refuses what GA4 would drop
        events[17] = poison = message(17, occurred_at=utcnow() - timedelta(hours=80))
    rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    await rig.append(events)
    await rig.drained()
    (status,) = rig.fw.status()
    assert status.dead_letters == 1 and status.cursor == 40
    (letter,) = await rig.fw.dead_letters(kind)
    assert (letter.seq, letter.event_id) == (poison.seq, poison.event_id)
    assert letter.reason
    assert {dedup_key(kind, r) for r in collector.received[kind]} == {
        e.event_id for e in events if e is not poison
    }


def test_collector_ignores_a_request_cut_off_by_a_dying_sender(collector: Collector):
    """A sender killed mid-upload leaves a body shorter than its Content-Length: the collector
    (like a vendor) counts it as cut off, neither as a payload nor as a malformed one."""
    import socket

    with socket.create_connection(("127.0.0.1", collector.port)) as s:
        s.sendall(b"POST /mp/collect?measurement_id=G-TEST&api_secret=test-ga4-secret HTTP/1.1\r\n"
                  b"Host: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                  b'{"client_id": "c1", "even')  # fmt: skip
    deadline = time.monotonic() + 5
    while collector.stats.cut_off == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert collector.stats.cut_off == 1
    assert collector.invalid == [] and collector.received["ga4"] == []
