"""The GA4 API secret travels in the request URL; it never reaches a log line or an error."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from service.settings import load_settings
from service.sinks.base import TransientError
from service.sinks.ga4 import GA4Sink
from tests.collector import Collector
from tests.sinks.conftest import ENV, Rig, message, sink_config

SECRET = ENV["GA4_API_SECRET"]


async def test_no_log_line_holds_the_secret_whatever_the_httpx_level(
    collector: Collector, make_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Importing ``mixpanel`` sets the httpx logger to ERROR; the redaction must not rely on it.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    rig: Rig = await make_rig({"ga4": [sink_config("ga4", collector.url)]})
    await rig.append([message(i) for i in range(3)])
    await rig.drained()
    collector.wait_for("ga4", 3)
    requests = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests and all("api_secret=***" in line for line in requests), requests
    assert SECRET not in caplog.text


def _refusing(request: httpx.Request) -> httpx.Response:
    # Like a proxy refusing the connection, the error quotes the URL it could not reach.
    raise httpx.ConnectError(f"cannot reach {request.url}", request=request)


async def test_sinks_check_redacts_a_transport_error(collector: Collector) -> None:
    settings = load_settings(environ={}, sinks={"ga4": [sink_config("ga4", collector.url)]})
    sink = GA4Sink(settings.sinks.ga4[0], api_secret=SECRET)
    await sink.start()
    sink._client = httpx.Client(base_url=collector.url, transport=httpx.MockTransport(_refusing))
    try:
        with pytest.raises(TransientError) as refused:
            await sink.validate([message(1)])
    finally:
        await sink.close()
    assert str(refused.value) == (
        f"ga4 debug endpoint: ConnectError: cannot reach {collector.url}/debug/mp/collect"
        "?measurement_id=G-TEST&api_secret=***"
    )
