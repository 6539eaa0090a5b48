"""The Segment write key travels in each request body; it never reaches a log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.collector import Collector
from tests.sinks.conftest import ENV, Rig, message, sink_config

WRITE_KEY = ENV["SEGMENT_WRITE_KEY"]


async def test_no_log_line_holds_the_write_key_at_debug(
    collector: Collector, make_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The library logs every request body ("making request: ...", writeKey included) at
    # DEBUG on the ``segment`` logger: an operator debugging delivery would print the key.
    caplog.set_level(logging.DEBUG)
    rig: Rig = await make_rig({"segment": [sink_config("segment", collector.url)]})
    await rig.append([message(i) for i in range(3)])
    await rig.drained()
    collector.wait_for("segment", 3)
    bodies = [r.getMessage() for r in caplog.records if r.name == "segment"]
    requests = [line for line in bodies if line.startswith("making request")]
    # (the body is compact JSON: the sink's BatchSerializer encodes it)
    assert requests and all('"writeKey":"***"' in line for line in requests), bodies
    assert WRITE_KEY not in caplog.text
