"""A failure anywhere in a worker's cycle (reading the log, saving the cursor) is counted,
shown, retried with backoff and survived; the worker task never ends on an error."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from service.sinks import store
from service.sinks.worker import SinkWorker
from tests.collector import Collector
from tests.sinks.conftest import ENV, Rig, message, sink_config

KEY = ENV["SEGMENT_WRITE_KEY"]


class Outage:
    """Makes a function fail (an IOException quoting the sink's secret) until lifted."""

    def __init__(self) -> None:
        self.failing = threading.Event()
        self.failing.set()
        self.failures = 0

    def check(self) -> None:
        if self.failing.is_set():
            self.failures += 1
            raise duckdb.IOException(f"injected: could not write (key {KEY})")

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def flaky(*args: Any, **kwargs: Any) -> Any:
            self.check()
            return fn(*args, **kwargs)

        return flaky

    def wrap_async(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def flaky(*args: Any, **kwargs: Any) -> Any:
            self.check()
            return await fn(*args, **kwargs)

        return flaky


async def backing_off(rig: Rig, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while rig.fw.status()[0].state != "backing_off":
        assert time.monotonic() < deadline, rig.fw.status()
        await asyncio.sleep(0.01)


def worker(rig: Rig) -> SinkWorker:
    return next(iter(rig.fw._workers.values()))


def errors_metric(rig: Rig, sink: str) -> float | None:
    return rig.fw.metrics.registry.get_sample_value(
        "sideline_sink_errors_total", {"sink": sink, "kind": "unexpected"}
    )


@pytest.mark.parametrize("where", ["cursor", "read"])
async def test_a_failed_cycle_is_shown_retried_and_survived(
    where: str, collector: Collector, make_rig: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    rig: Rig = await make_rig({"segment": [sink_config("segment", collector.url)]})
    outage = Outage()
    if where == "cursor":
        monkeypatch.setattr(store, "advance", outage.wrap(store.advance))
    else:
        w = worker(rig)
        monkeypatch.setattr(w, "_read", outage.wrap_async(w._read))
    sent = await rig.append([message(i) for i in range(20)])
    await backing_off(rig)
    status = rig.fw.status()[0]
    assert status.errors >= 1 and status.lag == 20 and status.cursor == 0
    assert status.last_error == "IOException: injected: could not write (key ***)"
    assert errors_metric(rig, "segment") == status.errors
    assert not worker(rig)._task.done()  # type: ignore[union-attr]
    while outage.failures < 3:  # a persisting failure backs off: it is not a success
        await asyncio.sleep(0.05)
    assert worker(rig)._backoff.failures >= 3

    outage.failing.clear()
    await rig.drained()
    status = rig.fw.status()[0]
    assert (status.cursor, status.lag, status.state) == (20, 0, "idle")
    assert collector.unique_keys("segment") == {e.event_id for e in sent}
    if where == "cursor":  # accepted before the cursor failed: sent again (at least once)
        assert collector.count("segment") == 20 * (outage.failures + 1)
    else:
        assert collector.count("segment") == 20
    assert KEY not in caplog.text
    traces = [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert len(traces) == 1 and "IOException" in traces[0].getMessage()  # the bug's trace, once


async def test_a_resend_after_a_failed_cursor_save_never_duplicates_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await Rig(tmp_path / "data", {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]}).start()
    try:
        outage = Outage()
        monkeypatch.setattr(store, "advance", outage.wrap(store.advance))
        await rig.append([message(i) for i in range(5)])
        await backing_off(rig)
        await rig.append([message(i) for i in range(5, 12)])  # the retry reads a longer range
        outage.failing.clear()
        await rig.drained()
        root = rig.settings.data_path / "warehouse" / "events"
        seqs = sorted(pl.read_parquet(str(root / "**" / "*.parquet"))["seq"].to_list())
        assert seqs == list(range(1, 13))
        assert rig.fw.status()[0].errors == outage.failures >= 1
    finally:
        await rig.stop()
