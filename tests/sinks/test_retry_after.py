"""A batch whose requests fail in different ways waits at least the longest Retry-After any
of them was given, and keeps the most severe error class."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from service.sinks.base import BlockedError, PermanentError, SinkError, TransientError
from service.sinks.uploads import Uploads
from tests.collector import Collector
from tests.sinks.conftest import Rig, message, sink_config


def failing(error: SinkError) -> Any:
    def upload() -> list[None]:
        raise error

    return upload


@pytest.mark.parametrize(
    ("errors", "kind", "reason", "retry_after"),
    [
        ([TransientError("a"), TransientError("b", retry_after=10.0)], TransientError, "a", 10.0),
        ([TransientError("a", retry_after=3.0), TransientError("b", retry_after=1.0)],
         TransientError, "a", 3.0),
        ([TransientError("a", retry_after=30.0), BlockedError("b")], BlockedError, "b", 30.0),
        ([TransientError("a"), PermanentError("b"), BlockedError("c", retry_after=5.0)],
         PermanentError, "b", 5.0),
        ([TransientError("a"), TransientError("b")], TransientError, "a", None),
    ],
)  # fmt: skip
def test_the_most_severe_error_waits_for_the_longest_retry_after(
    errors: list[SinkError], kind: type[SinkError], reason: str, retry_after: float | None
) -> None:
    with ThreadPoolExecutor(2) as pool:
        uploads: Uploads[None] = Uploads(pool)
        for error in errors:
            uploads.start(failing(error))
        with pytest.raises(SinkError) as raised:
            uploads.wait()
    assert type(raised.value) is kind
    assert (raised.value.reason, raised.value.retry_after) == (reason, retry_after)


async def test_a_ga4_batch_waits_for_the_retry_after_of_any_of_its_users(
    collector: Collector, make_rig: Any
) -> None:
    # alpha's request (the first) fails without a header, bravo's is rate-limited for 10 s: the
    # forwarder must not come back before bravo's 10 s (max_backoff_seconds is 2 here).
    collector.fail(503, times=1, vendor="ga4", match='"user_id":"alpha"')
    collector.fail(429, times=1, vendor="ga4", match='"user_id":"bravo"', retry_after="10")
    rig: Rig = await make_rig({"ga4": [sink_config("ga4", collector.url, concurrency=1)]})
    await rig.append([message(i, user="bravo" if i % 2 else "alpha") for i in range(6)])
    deadline = time.monotonic() + 10
    while (status := rig.fw.status()[0]).state != "backing_off":
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.01)
    assert status.retry_in_seconds is not None and status.retry_in_seconds > 9, status
    assert status.last_error is not None and status.last_error.startswith("HTTP 503")
    assert collector.stats.refused["ga4"] == 2
