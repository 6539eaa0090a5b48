"""An endpoint no request can be made to blocks its sink: retrying it as a transient failure
would never end, and `backing_off` hid that the configuration is wrong."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.collector import Collector
from tests.sinks.conftest import Rig, message, sink_config

URL_KEY = {"segment": "host", "mixpanel": "base_url", "ga4": "base_url"}


@pytest.mark.parametrize("kind", ["segment", "mixpanel", "ga4"])
@pytest.mark.parametrize("url", ["ftp//127.0.0.1:{port}", "ftp://127.0.0.1:{port}"])
async def test_a_url_without_http_blocks_the_sink(
    kind: str, url: str, collector: Collector, tmp_path: Path
) -> None:
    rig = Rig(tmp_path / "data", {kind: [sink_config(kind, collector.url)]})
    # The settings refuse such a URL at load; one set past them (a configuration built in
    # code, or one an older version accepted) must still not look like a passing outage.
    sink = getattr(rig.settings.sinks, kind)[0]
    setattr(sink, URL_KEY[kind], url.format(port=collector.port))
    await rig.start()
    try:
        await rig.append([message(i) for i in range(5)])
        deadline = time.monotonic() + 10
        while (status := rig.fw.status()[0]).state != "blocked":
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.02)
        errors = rig.fw.metrics.registry.get_sample_value(
            "sideline_sink_errors_total", {"sink": kind, "kind": "blocked"}
        )
    finally:
        await rig.stop()
    assert (status.cursor, status.dead_letters) == (0, 0)
    assert status.last_error is not None and status.last_error.startswith(f"{kind}: ")
    check = "base_url / api_host" if kind == "mixpanel" else URL_KEY[kind]
    assert status.last_error.endswith(f"(check the configured {check})"), status.last_error
    assert errors is not None and errors >= 1
    assert collector.count(kind) == 0
