"""Disabled sinks read the same through the service and from the file: listed as
``disabled`` with their stored cursor and lag, replayed by moving that cursor (which takes
effect once the sink is enabled), and with forwarding off the status says why nothing runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec
import polars as pl
import pytest

from tests.collector import Collector
from tests.fixtures.server import free_port
from tests.sinks.test_admin import KEY, Service, cli, wait_drained

STORED = ("name", "kind", "state", "cursor", "last_seq", "lag", "dead_letters", "last_error")


def write_config(tmp: Path, collector: Collector, *, forwarding: bool = True) -> Path:
    """A warehouse that runs, a GA4 sink and a second warehouse that are disabled."""
    config = tmp / "sideline.toml"
    config.write_text(f"""
data_dir = "{tmp / "data"}"
[server]
port = {free_port()}
[admin]
api_key = "admin-key-for-tests"
[sinks]
enabled = {"true" if forwarding else "false"}
poll_interval_seconds = 0.2
[[sinks.warehouse]]
name = "warehouse"
linger_seconds = 0.05
[[sinks.warehouse]]
name = "archive"
enabled = false
path = "{tmp / "archive"}"
[[sinks.ga4]]
name = "ga4-off"
enabled = false
base_url = "{collector.url}"
measurement_id = "G-TEST"
""")
    return config


def rows(config: Path) -> dict[str, dict[str, Any]]:
    out = cli(config, "sinks", "status", "--json")
    assert out.returncode == 0, out.stderr
    return {r["name"]: {k: r[k] for k in STORED} for r in msgspec.json.decode(out.stdout)}


def disabled(name: str, kind: str, cursor: int) -> dict[str, Any]:
    return {"name": name, "kind": kind, "state": "disabled", "cursor": cursor, "last_seq": 40,
            "lag": 40 - cursor, "dead_letters": 0, "last_error": None}  # fmt: skip


@pytest.fixture
def collector() -> Any:
    with Collector() as c:
        yield c


def test_disabled_sinks_are_listed_and_replayed_alike_online_and_offline(
    tmp_path: Path, collector: Collector
) -> None:
    config = write_config(tmp_path, collector)
    with Service(config) as svc:
        # They were left out of the service's table (only the file showed them).
        online = rows(config)
        assert online["ga4-off"] == disabled("ga4-off", "ga4", 0)
        assert online["archive"] == disabled("archive", "warehouse", 0)
        # It was 404 "no sink named 'ga4-off'" through the service, accepted from the file.
        out = cli(config, "sinks", "replay", "ga4-off", "--from-seq", "31")
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0].startswith("ga4-off: cursor 30, lag 10 (via service")
        assert out.stdout.splitlines()[1] == (
            "ga4-off is disabled: it forwards from there once it is enabled"
        )
        out = cli(config, "sinks", "replay", "ga4-off", "--from-seq", "42")
        assert (out.returncode, out.stdout) == (1, ""), out.stdout
        assert "must be between 1 and 41" in out.stderr
        online = rows(config)
        assert online["ga4-off"] == disabled("ga4-off", "ga4", 30)
        assert collector.count("ga4") == 0  # a disabled sink sends nothing, replayed or not
        letters = httpx.get(f"{svc.url}/v1/admin/sinks/ga4-off/dead-letters",
                            headers={"X-Admin-Key": KEY})  # fmt: skip
        assert (letters.status_code, letters.json()) == (200, [])

    offline = rows(config)
    assert offline["ga4-off"] == online["ga4-off"] and offline["archive"] == online["archive"]
    assert offline["warehouse"]["state"] == "offline"
    out = cli(config, "sinks", "replay", "archive", "--from-seq", "21")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1] == "archive is disabled: it forwards from there once it is enabled"
    assert rows(config)["archive"] == disabled("archive", "warehouse", 20)


def test_a_replay_leaves_a_disabled_warehouse_s_files_to_its_next_start(
    tmp_path: Path, collector: Collector
) -> None:
    config = write_config(tmp_path, collector)
    with Service(config):
        pass
    # The archive ran once, then was disabled: its files stay until it is enabled again.
    enabled = config.read_text().replace('name = "archive"\nenabled = false', 'name = "archive"')
    config.write_text(enabled)
    with Service(config) as svc:
        wait_drained(svc)
    config.write_text(enabled.replace('name = "archive"', 'name = "archive"\nenabled = false'))
    archive = tmp_path / "archive" / "events"
    before = sorted(p.name for p in archive.rglob("*.parquet"))
    assert before
    out = cli(config, "sinks", "replay", "archive", "--from-seq", "1")
    assert out.returncode == 0 and "cursor 0, lag 80" in out.stdout, out.stdout + out.stderr
    assert sorted(p.name for p in archive.rglob("*.parquet")) == before
    # Enabled, it starts from the replayed cursor: its files past it are replaced, not doubled.
    config.write_text(enabled)
    with Service(config) as svc:
        wait_drained(svc)
    seqs = pl.read_parquet(str(archive / "**" / "*.parquet"))["seq"].to_list()
    assert sorted(seqs) == list(range(1, 121))


def test_with_forwarding_off_every_sink_is_disabled_and_the_status_says_why(
    tmp_path: Path, collector: Collector
) -> None:
    config = write_config(tmp_path, collector, forwarding=False)
    note = "forwarding is off (sinks.enabled = false): no sink runs; each shows its stored cursor"
    with Service(config):
        out = cli(config, "sinks", "status")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith("source: service at") and lines[-1] == note
        online = rows(config)
    assert online == {
        "warehouse": disabled("warehouse", "warehouse", 0),
        "archive": disabled("archive", "warehouse", 0),
        "ga4-off": disabled("ga4-off", "ga4", 0),
    }
    assert rows(config) == online
    out = cli(config, "sinks", "status")
    assert out.stdout.splitlines()[-1] == note and "source: log file" in out.stdout
