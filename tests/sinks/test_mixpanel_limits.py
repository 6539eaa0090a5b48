"""Mixpanel's limits on what one event may carry: values it would cut without a word are cut
by the mapping instead, what it would refuse is brought within its limits, and each change is
counted with a reason as GA4's are. Events go through the real ``mixpanel`` library to the
local collector, which checks the same limits."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from service.domain.events import Event, EventType, new_event
from service.moderation import MessageContext, Pipeline
from service.moderation.settings import Policy
from service.settings import load_settings
from tests.collector import Collector
from tests.sinks.conftest import Rig, message, sink_config


async def test_long_strings_are_cut_to_255_bytes_and_counted(
    make_rig: Any, collector: Collector
) -> None:
    rig: Rig = await make_rig(
        {"mixpanel": [sink_config("mixpanel", collector.url, include_text=True)]}
    )
    texts = ["⚽" * 100, "a" * 300, "é" * 127 + "a", "short"]  # 300 bytes, 300, 255, 5
    await rig.append([message(i, text=t) for i, t in enumerate(texts)])
    await rig.drained()
    collector.wait_for("mixpanel", 4)
    assert collector.invalid == []  # nothing Mixpanel would cut silently
    got = {e["properties"]["seq"]: e["properties"]["text"] for e in collector.received["mixpanel"]}
    assert [got[seq] for seq in (1, 2, 3, 4)] == ["⚽" * 85, "a" * 255, "é" * 127 + "a", "short"]
    (status,) = rig.fw.status()
    assert status.adjustments == {"property_value_truncated": 2}
    assert status.dead_letters == 0


async def _sent(rig: Rig, collector: Collector, events: list[Event]) -> list[dict[str, Any]]:
    """The properties of ``events`` as the collector received them, in seq order."""
    await rig.append(events)
    await rig.drained()  # an event the collector refused is a dead letter by now
    props = [e["properties"] for e in collector.received["mixpanel"]]
    assert len(props) == len(events), collector.invalid
    return sorted(props, key=lambda p: int(p["seq"]))


async def test_poll_options_over_255_bytes_are_cut_and_counted(
    make_rig: Any, collector: Collector
) -> None:
    # An option may be 80 characters: 320 bytes of 🏆, which Mixpanel would cut without a word.
    rig: Rig = await make_rig(
        {"mixpanel": [sink_config("mixpanel", collector.url, include_text=True)]}
    )
    options = ["🏆" * 80, "é" * 80, "draw"]
    poll = new_event(EventType.POLL_CREATED, user_id="u1", room_id="match:1",
                     payload={"poll_id": "p1", "question": "Who wins?", "options": options})  # fmt: skip
    (props,) = await _sent(rig, collector, [poll])
    assert collector.invalid == []
    assert props["options"] == ["🏆" * 63, "é" * 80, "draw"]
    (status,) = rig.fw.status()
    assert status.adjustments == {"property_value_truncated": 1}
    assert status.dead_letters == 0


async def test_moderation_reasons_past_254_or_8_kb_are_cut_and_counted(
    make_rig: Any, collector: Collector
) -> None:
    # One reason per blocked word: 300 of them, 25 KB of JSON. Mixpanel refuses a list of 255
    # or more elements (the whole event), and cuts a list property over 8 KB.
    rig: Rig = await make_rig(
        {"mixpanel": [sink_config("mixpanel", collector.url, include_text=True)]}
    )
    verdict = Pipeline(load_settings(environ={}).moderation).check_local(
        "shit " * 300, MessageContext(user_id="u1", room_id="match:1", room_kind="match", now=0)
    )
    assert len(verdict.reasons) == 300
    moderated = new_event(EventType.MESSAGE_MODERATED, user_id="u1", room_id="match:1",
                          message_id="m1", payload=verdict.payload())  # fmt: skip
    (props,) = await _sent(rig, collector, [moderated])
    assert collector.invalid == []
    reasons = props["reasons"]
    assert 0 < len(reasons) < 255 and len(msgspec.json.encode(reasons)) <= 8 * 1024
    assert reasons == [msgspec.structs.asdict(r) for r in verdict.reasons[: len(reasons)]]
    assert props["action"] == "block" and set(props["checks_ms"]) == set(verdict.checks_ms)
    (status,) = rig.fw.status()
    assert status.adjustments == {"list_truncated": 1, "property_over_8kb": 1}
    assert status.dead_letters == 0


async def test_a_policy_change_with_a_long_blocklist_is_cut_and_counted(
    make_rig: Any, collector: Collector
) -> None:
    # A policy's blocklist has no length limit of its own (the admin API takes 64 KB bodies).
    rig: Rig = await make_rig({"mixpanel": [sink_config("mixpanel", collector.url)]})
    words = [f"badword{i:03}" for i in range(300)]  # 300 elements, 4.5 KB
    phrases = [f"a very long blocked phrase number {i:03} " + "x" * 30 for i in range(200)]

    def changed(policy: Policy) -> Event:
        return new_event(EventType.MODERATION_POLICY_CHANGED, user_id="admin", room_id="match:*",
                         payload={"kind": "match", "policy": msgspec.to_builtins(policy)})  # fmt: skip

    short, long = await _sent(
        rig, collector, [changed(Policy(blocklist=words)), changed(Policy(blocklist=phrases))]
    )
    assert collector.invalid == []
    assert short["policy"]["blocklist"] == words[:254]
    # Over 8 KB (13 KB): the member that does not fit is dropped, the rest of the policy kept.
    assert "blocklist" not in long["policy"]
    assert long["policy"] == {k: v for k, v in msgspec.to_builtins(Policy()).items()
                              if k != "blocklist"}  # fmt: skip
    (status,) = rig.fw.status()
    assert status.adjustments == {"list_truncated": 1, "property_over_8kb": 1}
    assert status.dead_letters == 0


async def test_limits_no_event_reaches_today_are_held_too(
    make_rig: Any, collector: Collector
) -> None:
    # Payloads are open objects: no event the service writes today nests objects four deep,
    # has an object of 255 keys, 255 properties or 1 MB of JSON, but one that did must not be
    # refused by Mixpanel (or cut without a word).
    rig: Rig = await make_rig({"mixpanel": [sink_config("mixpanel", collector.url)]})
    deep = {"a": {"b": {"c": {"d": 1}}, "keep": 2}}
    wide = {f"k{i:03}": i for i in range(300)}
    many = {f"p{i:03}": i for i in range(300)}
    huge = {f"list{i:03}": ["x" * 250] * 30 for i in range(140)}  # every list < 8 KB; 1 MB
    events = [message(1), message(2), message(3)]
    extras: list[dict[str, Any]] = [{"deep": deep, "wide": wide}, many, huge]
    for event, extra in zip(events, extras, strict=True):
        event.payload.update(extra)
    first, second = await _sent(rig, collector, events[:2])
    await rig.append(events[2:])
    await rig.drained()
    assert collector.invalid == []
    assert first["deep"] == {"a": {"b": {}, "keep": 2}}
    assert list(first["wide"]) == [f"k{i:03}" for i in range(254)]
    assert len(second) == 254 and {"time", "$insert_id", "token", "distinct_id"} <= set(second)
    assert [k for k in many if k in second] == list(many)[: 254 - 19]  # 19 are not the payload's
    assert {"seq", "room_id", "node_id", "device"} <= set(second)
    (status,) = rig.fw.status()
    assert status.adjustments == {
        "object_too_deep": 1, "object_keys_dropped": 1, "properties_dropped": 300 + 19 - 254,
    }  # fmt: skip
    assert status.dead_letters == 1
    assert collector.count("mixpanel") == 2


@pytest.mark.parametrize(
    "value",
    [
        "".join(chr(c) for c in range(256)),  # every byte's character, the unsafe ones escaped
        '[{"event":"community_message_sent","properties":{"text":"what a goal ⚽ 100% & more = +1"}}]',
        "spaces and / slashes ? and # hashes",
        "",
    ],
)
def test_the_form_body_is_what_requests_would_send(value: str) -> None:
    """The Mixpanel library posts its batch as a form; the sink encodes it itself (in C, not a
    Python step per byte): byte for byte what requests' own encoding gives."""
    from urllib.parse import urlencode

    from service.sinks.mixpanel import form_encode

    fields = {"data": value, "verbose": 1, "ip": 0, "api_key": "k y"}
    assert form_encode(fields) == urlencode(fields, doseq=True).encode("ascii")
