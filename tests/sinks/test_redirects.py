"""Redirects from a vendor's address: a 307 or 308 resends the POST with its body and is
followed; a 301, 302 or 303 would resend it as a GET without the events, so it blocks the
sink with a message naming where it leads, and is never taken for a delivery."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from service.domain.events import utcnow
from service.sinks.status import SinkStatus
from tests.collector import Collector
from tests.sinks.conftest import Rig, message, sink_config
from tests.sinks.test_mixpanel_answers import serving

TO_GET = ("following it would resend the POST as a GET without the events; set the configured "
          "host to the address it names")  # fmt: skip


async def settled(rig: Rig, state: str) -> SinkStatus:
    """The sink's status once it is ``state`` with nothing left to send (or after 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        status = rig.fw.status()[0]
        if status.state == state and (state != "idle" or status.lag == 0):
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("status", "days_old"), [(307, 0), (308, 0), (307, 6), (308, 6)])
async def test_mixpanel_follows_a_redirect_that_keeps_the_post(
    status: int, days_old: int, collector: Collector, make_rig: Any
) -> None:
    # 6 days old: /import, with the API secret as Basic credentials, which the redirect keeps.
    collector.fail(status, times=1, vendor="mixpanel", location=collector.url)
    rig: Rig = await make_rig({"mixpanel": [sink_config("mixpanel", collector.url)]})
    at = utcnow() - timedelta(days=days_old)
    sent = await rig.append([message(i, occurred_at=at) for i in range(5)])
    done = await settled(rig, "idle")
    assert (done.cursor, done.errors, done.last_error, done.dead_letters) == (5, 0, None, 0)
    assert collector.stats.refused["mixpanel"] == 1 and collector.count("mixpanel") == 5
    assert {e["properties"]["$insert_id"] for e in collector.received["mixpanel"]} == {
        e.event_id.replace("-", "") for e in sent
    }
    assert collector.invalid == []


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_mixpanel_is_blocked_by_a_redirect_that_would_drop_the_body(
    status: int, collector: Collector, make_rig: Any
) -> None:
    collector.fail(status, vendor="mixpanel", location=collector.url)
    rig: Rig = await make_rig({"mixpanel": [sink_config("mixpanel", collector.url)]})
    await rig.append([message(i) for i in range(5)])
    blocked = await settled(rig, "blocked")
    assert (blocked.cursor, blocked.dead_letters, collector.count("mixpanel")) == (0, 0, 0)
    assert blocked.last_error == f"HTTP {status} to {collector.url}/track: {TO_GET}"
    collector.recover()  # mended at the other end: the batch goes through
    assert (await settled(rig, "idle")).cursor == 5


async def test_a_redirect_without_location_blocks_mixpanel(
    collector: Collector, make_rig: Any
) -> None:
    collector.fail(302, vendor="mixpanel")
    rig: Rig = await make_rig({"mixpanel": [sink_config("mixpanel", collector.url)]})
    await rig.append([message(i) for i in range(3)])
    blocked = await settled(rig, "blocked")
    assert blocked.last_error is not None
    assert blocked.last_error.startswith("HTTP 302: ")
    assert blocked.last_error.endswith("(unexpected redirect: check the configured host)")


class _Page(BaseHTTPRequestHandler):
    """A web page answering 200 to any GET, as a site's home page would."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "7")
        self.end_headers()
        self.wfile.write(b"welcome")

    def log_message(self, *_: Any) -> None:
        return


async def test_segment_never_counts_a_post_turned_get_as_delivered(
    collector: Collector, make_rig: Any
) -> None:
    # The library follows a 302 as a GET; a page answering 200 to it was taken for Segment
    # accepting the batch: the cursor moved and the events were lost.
    with serving(_Page) as page:
        collector.fail(302, vendor="segment", location=page)
        rig: Rig = await make_rig({"segment": [sink_config("segment", collector.url)]})
        await rig.append([message(i) for i in range(5)])
        blocked = await settled(rig, "blocked")
    assert (blocked.cursor, blocked.delivered, collector.count("segment")) == (0, 0, 0)
    assert blocked.last_error == f"HTTP 302 to {page}/v1/batch: {TO_GET}"


async def test_segment_follows_a_redirect_that_keeps_the_post(
    collector: Collector, make_rig: Any
) -> None:
    collector.fail(307, times=1, vendor="segment", location=collector.url)
    rig: Rig = await make_rig({"segment": [sink_config("segment", collector.url)]})
    await rig.append([message(i) for i in range(5)])
    done = await settled(rig, "idle")
    assert (done.cursor, done.errors, collector.count("segment")) == (5, 0, 5)
    assert collector.invalid == []


async def test_ga4_does_not_follow_redirects(collector: Collector, make_rig: Any) -> None:
    # Its API secret is in the URL; a redirect would decide where it goes.
    collector.fail(307, vendor="ga4", location=collector.url)
    rig: Rig = await make_rig({"ga4": [sink_config("ga4", collector.url)]})
    await rig.append([message(i) for i in range(3)])
    blocked = await settled(rig, "blocked")
    assert blocked.last_error is not None and blocked.last_error.startswith(
        f"HTTP 307 to {collector.url}/mp/collect?measurement_id=G-TEST&api_secret=***"
    ), blocked.last_error
    assert blocked.last_error.endswith(
        "(a redirect is not followed: the API secret travels in the URL; set base_url to the "
        "address it names)"
    ), blocked.last_error
    assert collector.count("ga4") == 0
