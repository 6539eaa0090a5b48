"""Mixpanel's limits on what one event may carry: string values it would cut without a word
are cut by the mapping instead, and counted with a reason as GA4's are."""

from __future__ import annotations

from typing import Any

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
