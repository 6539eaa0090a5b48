"""A real DuckDB log with a real forwarder whose sinks send to a real local collector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.domain.events import Event, EventType, Metadata, new_event
from service.eventlog.duckdb_log import DuckDBLog
from service.settings import Settings, load_settings
from service.sinks.factory import build_forwarder
from service.sinks.forwarder import Forwarder
from tests.collector import Collector

ENV = {
    "SEGMENT_WRITE_KEY": "test-write-key",
    "MIXPANEL_TOKEN": "test-token",
    "MIXPANEL_API_SECRET": "test-secret",
    "GA4_API_SECRET": "test-ga4-secret",
}
FAST = {"linger_seconds": 0.05, "max_backoff_seconds": 2.0}
ERASURE_SECRET = "test-erasure-key-0123456789abcdef"
"""The erasure key of every rig (``sinks.erasure_secret``), unless a test gives another."""


def sink_config(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    """The TOML-shaped config of one sink of ``kind`` pointed at the collector."""
    base: dict[str, Any] = {"name": kind, **FAST}
    if kind == "segment":
        base["host"] = url
    elif kind == "mixpanel":
        base["base_url"] = url
    elif kind == "ga4":
        base.update(base_url=url, measurement_id="G-TEST")
    return {**base, **extra}


def message(i: int, *, user: str | None = None, text: str | None = None, **kw: Any) -> Event:
    return new_event(
        EventType.MESSAGE_SENT, user_id=user or f"u{i % 7}", room_id="match:1",
        message_id=f"m{i}",
        metadata=Metadata(device="ios", language="en", app_version="1.2", session_id="s1"),
        payload={"text": text or f"hello {i} ⚽", "client_msg_id": f"c{i}", "visibility": "public",
                 "masked": False, "reply_to": None, "role": "user"},
        **kw,
    )  # fmt: skip


class Rig:
    """A started log and forwarder for ``sinks`` (TOML-shaped dicts by kind)."""

    def __init__(
        self, data_dir: Path, sinks: dict[str, list[dict[str, Any]]], **settings: Any
    ) -> None:
        self.settings: Settings = load_settings(
            environ={}, data_dir=str(data_dir),
            sinks={"poll_interval_seconds": 0.2, "warehouse": [], "erasure_secret": ERASURE_SECRET,
                   **sinks},  # only the sinks named
            **settings,
        )  # fmt: skip
        self.log = DuckDBLog(self.settings.log_path, node_id=self.settings.node_id)
        self.forwarder: Forwarder | None = None

    async def start(self) -> Rig:
        await self.log.start()
        self.forwarder = build_forwarder(self.settings, self.log, environ=ENV)
        await self.forwarder.start()
        return self

    @property
    def fw(self) -> Forwarder:
        assert self.forwarder is not None
        return self.forwarder

    async def append(self, events: list[Event]) -> list[Event]:
        done = await self.log.append(events)
        self.fw.notify(self.log.last_seq)
        return done

    async def drained(self, timeout: float = 20.0, names: list[str] | None = None) -> None:
        """Wait until every running sink (or ``names``) processed everything committed."""
        deadline = time.monotonic() + timeout
        while True:
            rows = [s for s in self.fw.status() if names is None or s.name in names
                    if s.state != "disabled"]  # fmt: skip
            if all(s.lag == 0 for s in rows):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not drained: {rows}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.forwarder is not None:
            forwarder, self.forwarder = self.forwarder, None
            await forwarder.stop()
            await self.log.close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as c:
        yield c


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    rigs: list[Rig] = []

    async def make(sinks: dict[str, list[dict[str, Any]]], **settings: Any) -> Rig:
        rig = Rig(tmp_path / "data", sinks, **settings)
        rigs.append(rig)
        return await rig.start()

    yield make
    for rig in rigs:
        await rig.stop()
