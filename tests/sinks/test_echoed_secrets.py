"""A destination that quotes the request in its refusal (an error page, a proxy) quotes the
sink's secret with it: the GA4 API secret in the URL, the Segment write key and the Mixpanel
API secret as HTTP Basic credentials. No form of a secret reaches a log line, the sink's
status or a stored dead letter."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

import pytest

from service.domain.events import utcnow
from service.sinks.base import secret_forms
from tests.collector import Collector
from tests.sinks.conftest import ENV, Rig, message, sink_config

SECRETS = {
    "segment": ENV["SEGMENT_WRITE_KEY"],
    "mixpanel": ENV["MIXPANEL_API_SECRET"],
    "ga4": ENV["GA4_API_SECRET"],
}


def assert_no_secret(kind: str, *texts: str) -> None:
    forms = secret_forms(SECRETS[kind])
    assert len(forms) >= 3
    for text in texts:
        assert not [f for f in forms if f in text], text


def sent_to(kind: str) -> dict[str, Any]:
    # Mixpanel sends its API secret only to /import, for events older than its live window.
    return {"occurred_at": utcnow() - timedelta(days=6)} if kind == "mixpanel" else {}


async def one_event_through_an_echo(
    kind: str, collector: Collector, make_rig: Any, caplog: pytest.LogCaptureFixture,
    status: int, **fault: Any,
) -> Rig:  # fmt: skip
    """A sink of ``kind`` sending one event to a collector that answers ``status`` quoting the
    request, with every log record captured."""
    caplog.set_level(logging.DEBUG)
    collector.fail(status, echo=True, vendor=kind, **fault)
    rig: Rig = await make_rig({kind: [sink_config(kind, collector.url)]})
    await rig.append([message(1, **sent_to(kind))])
    return rig


@pytest.mark.parametrize("kind", SECRETS)
async def test_a_refusal_quoting_the_request_is_dead_lettered_without_the_secret(
    kind: str, collector: Collector, make_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await one_event_through_an_echo(kind, collector, make_rig, caplog, 400, times=1)
    await rig.drained()
    (status,) = rig.fw.status()
    [letter] = await rig.fw.dead_letters(kind)
    assert "injected failure of POST" in letter.reason, letter.reason  # the echo is kept
    assert_no_secret(kind, letter.reason, status.last_error or "", caplog.text)


@pytest.mark.parametrize("kind", SECRETS)
async def test_a_blocked_sink_shows_the_echoed_refusal_without_the_secret(
    kind: str, collector: Collector, make_rig: Any, caplog: pytest.LogCaptureFixture
) -> None:
    rig = await one_event_through_an_echo(kind, collector, make_rig, caplog, 401, seconds=30)
    deadline = time.monotonic() + 10
    while rig.fw.status()[0].state != "blocked" and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    (status,) = rig.fw.status()
    assert status.state == "blocked" and "injected failure of POST" in (status.last_error or "")
    assert_no_secret(kind, status.last_error or "", caplog.text)
    collector.recover()
    await rig.drained()
