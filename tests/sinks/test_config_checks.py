"""Sink settings that would fail at run time (or silently drop data) stop the start, and
``sideline sinks check``, with the key path of the bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from service.eventlog.duckdb_log import DuckDBLog
from service.settings import ConfigError, load_settings
from service.sinks.factory import build_forwarder
from service.sinks.privacy import PropertyPolicy
from service.sinks.properties import CLIENT_FIELDS, known_properties
from service.sinks.settings import check_sinks
from tests.fixtures.server import free_port
from tests.sinks.conftest import ENV, message

ROOT = Path(__file__).resolve().parents[2]
CODECS = "'zstd', 'snappy', 'gzip', 'brotli', 'lz4', 'lz4_raw', 'none'"


def check(tmp_path: Path, sinks_toml: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sideline sinks check --offline`` with the given sink tables."""
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[server]\nport = {free_port()}\n'
                      + sinks_toml)  # fmt: skip
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT), "SIDELINE_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "sinks", "check", "--offline", *args], cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


NO_CREDENTIALS = (
    "Expected an http(s) URL without credentials (a key is set through the destination's secret "
    "setting, from the environment),"
)


@pytest.mark.parametrize(
    ("sinks", "expected"),
    [
        ({"warehouse": [{"name": "w", "compression": "bogus"}]},
         f"Expected one of {CODECS}, got 'bogus' - at `$.sinks.warehouse[0].compression`"),
        ({"segment": [{"name": "s", "host": "ftp//127.0.0.1:18111"}]},
         "Expected an http(s) URL, got 'ftp//127.0.0.1:18111' - at `$.sinks.segment[0].host`"),
        ({"segment": [{"name": "s", "host": "ftp://127.0.0.1:18111"}]},
         "Expected an http(s) URL, got 'ftp://127.0.0.1:18111' - at `$.sinks.segment[0].host`"),
        ({"segment": [{"name": "a"}, {"name": "b", "host": "http://:80"}]},
         "Expected an http(s) URL, got 'http://:80' - at `$.sinks.segment[1].host`"),
        ({"mixpanel": [{"name": "m", "base_url": "127.0.0.1:9000"}]},
         "Expected an http(s) URL, got '127.0.0.1:9000' - at `$.sinks.mixpanel[0].base_url`"),
        ({"mixpanel": [{"name": "m", "api_host": "https://api-eu.mixpanel.com"}]},
         "Expected a host name (no scheme or path), got 'https://api-eu.mixpanel.com' - at "
         "`$.sinks.mixpanel[0].api_host`"),
        ({"ga4": [{"name": "g", "base_url": "http://127.0.0.1:99999"}]},
         "Expected an http(s) URL, got 'http://127.0.0.1:99999' - at `$.sinks.ga4[0].base_url`"),
        # credentials in a URL: refused, and not repeated in the error (it reaches logs)
        ({"segment": [{"name": "s", "host": "https://key:hunter2@proxy.example:8443/v1"}]},
         f"{NO_CREDENTIALS} got 'https://***@proxy.example:8443/v1' - at `$.sinks.segment[0].host`"),
        ({"ga4": [{"name": "g", "base_url": "http://hunter2@127.0.0.1:9000"}]},
         f"{NO_CREDENTIALS} got 'http://***@127.0.0.1:9000' - at `$.sinks.ga4[0].base_url`"),
    ],
)  # fmt: skip
def test_a_value_that_fails_every_send_stops_the_settings_load(
    sinks: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={}, sinks=sinks)
    assert str(refused.value) == f"invalid configuration: {expected}"


def test_the_check_refuses_a_bogus_compression_with_the_allowed_values(tmp_path: Path) -> None:
    # It said ok, and the service then retried 'ArrowException: Unsupported compression' forever.
    out = check(tmp_path, '[[sinks.warehouse]]\nname = "warehouse"\ncompression = "bogus"\n')
    assert out.returncode == 2 and out.stdout == "", out.stdout
    assert out.stderr.endswith(
        f"Expected one of {CODECS}, got 'bogus' - at `$.sinks.warehouse[0].compression`\n"
    ), out.stderr


def test_a_codec_in_capitals_is_the_codec(tmp_path: Path) -> None:
    settings = load_settings(environ={}, sinks={"warehouse": [{"name": "w", "compression": "ZSTD"}]})
    assert settings.sinks.warehouse[0].compression == "ZSTD"  # pyarrow reads any case


def test_a_property_typo_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    # The allow-list kept only what it named: 'roomid' dropped room_id from every event.
    out = check(tmp_path, '[[sinks.segment]]\nname = "s"\nproperties = ["room_id", "roomid"]\n'
                          '[[sinks.warehouse]]\nname = "w"\nproperties = ["emoji", "xyzzy"]\n')  # fmt: skip
    assert out.returncode == 1, out.stdout + out.stderr
    problems = [line for line in out.stdout.splitlines() if line.startswith("problem: ")]
    assert problems == [
        "problem: Expected a known property, got 'roomid' (did you mean 'room_id'?) - at "
        "`$.sinks.segment[0].properties[1]`",
        "problem: Expected a known property, got 'xyzzy' - at `$.sinks.warehouse[0].properties[1]`",
    ]


async def test_the_service_does_not_start_with_a_property_typo(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path),
                             sinks={"ga4": [{"name": "g", "measurement_id": "G-1",
                                             "properties": ["pol_id"]}]})  # fmt: skip
    log = DuckDBLog(settings.log_path, node_id="n")
    await log.start()
    try:
        with pytest.raises(ConfigError) as refused:
            build_forwarder(settings, log, environ=ENV)
    finally:
        await log.close()
    assert str(refused.value) == (
        "invalid sink configuration: Expected a known property, got 'pol_id' (did you mean "
        "'poll_id'?) - at `$.sinks.ga4[0].properties[0]`"
    )


def test_every_property_a_sink_sends_can_be_named() -> None:
    event = message(1)
    sent = PropertyPolicy(include_text=True).properties(event).keys() | set(CLIENT_FIELDS)
    assert sent <= known_properties()
    settings = load_settings(environ={}, sinks={"mixpanel": [
        {"name": "m", "properties": sorted(known_properties())}]})  # fmt: skip
    assert check_sinks(settings.sinks) == []
