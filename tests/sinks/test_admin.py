"""The admin API of the forwarder on a real uvicorn server, and the CLI that uses it (or the
log file when no service runs)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
import polars as pl
import pytest
import uvicorn
from litestar import Litestar
from litestar.exceptions import HTTPException

from service.api.errors import handle_http_exception, handle_sideline_error
from service.api.sinks import SinksController
from service.errors import SidelineError
from service.eventlog.duckdb_log import DuckDBLog
from service.settings import ensure_dev_secrets, load_settings
from service.sinks.factory import build_forwarder
from tests.collector import Collector
from tests.fixtures.server import free_port
from tests.sinks.conftest import ENV, message

ROOT = Path(__file__).resolve().parents[2]
KEY = "admin-key-for-tests"
BELOW_ONE = "sideline: Expected `int` >= 1 - at `$.from_seq`\n"
"""What the admin API answers for a from_seq below 1, and so what the CLI prints."""


def write_config(tmp: Path, port: int, collector_url: str, measurement_id: str = "G-TEST") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    data = tmp / "data"
    path = tmp / "sideline.toml"
    path.write_text(f"""
data_dir = "{data}"
[server]
port = {port}
[admin]
api_key = "{KEY}"
[sinks]
poll_interval_seconds = 0.2
[[sinks.warehouse]]
name = "warehouse"
linger_seconds = 0.05
[[sinks.ga4]]
name = "ga4-main"
base_url = "{collector_url}"
measurement_id = "{measurement_id}"
linger_seconds = 0.05
""")
    return path


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT), "SIDELINE_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


class Service:
    """The forwarder's controller in a Litestar app served by uvicorn on a thread."""

    def __init__(self, config: Path) -> None:
        self.settings = load_settings(config, environ={})
        ensure_dev_secrets(self.settings)  # as `sideline serve` does: the CLI's erasure key too
        self.log = DuckDBLog(self.settings.log_path, node_id=self.settings.node_id)

        @asynccontextmanager
        async def lifespan(app: Litestar) -> AsyncIterator[None]:
            await self.log.start()
            app.state.forwarder = build_forwarder(self.settings, self.log, environ=ENV)
            await app.state.forwarder.start()
            await self.log.append([message(i) for i in range(40)])
            app.state.forwarder.notify(self.log.last_seq)
            yield
            await app.state.forwarder.stop()
            await self.log.close()

        app = Litestar([SinksController], lifespan=[lifespan], exception_handlers={
            SidelineError: handle_sideline_error, HTTPException: handle_http_exception})  # fmt: skip
        app.state.admin_key = KEY
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1",
                                                    port=self.settings.server.port, log_config=None))  # fmt: skip
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.settings.server.port}"

    def __enter__(self) -> Service:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "service did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def wait_drained(svc: Service) -> None:
    """Until every running sink has processed everything committed (disabled ones never do)."""
    deadline = time.monotonic() + 20
    while not all(r["lag"] == 0 or r["state"] == "disabled" for r in httpx.get(
            f"{svc.url}/v1/admin/sinks/", headers={"X-Admin-Key": KEY}).json()):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Path, Collector]]:
    with Collector() as collector:
        yield write_config(tmp_path, free_port(), collector.url), collector


def test_admin_api_needs_the_key_and_validates_input(setup):
    config, collector = setup
    with Service(config) as svc:
        assert httpx.get(f"{svc.url}/v1/admin/sinks/").status_code == 401
        h = {"X-Admin-Key": KEY}
        deadline = time.monotonic() + 20
        while True:
            rows = httpx.get(f"{svc.url}/v1/admin/sinks/", headers=h).json()
            if {r["name"]: r["cursor"] for r in rows} == {"ga4-main": 40, "warehouse": 40}:
                break
            assert time.monotonic() < deadline, rows
            time.sleep(0.05)
        bad = httpx.post(
            f"{svc.url}/v1/admin/sinks/ga4-main/replay", json={"from_seq": 0}, headers=h
        )
        assert bad.status_code == 400 and bad.json()["error"]["at"] == "$.from_seq"
        for body, at in (({"user_id": "  ", "requested_by": "ops"}, "$.user_id"),
                         ({"user_id": "u1", "requested_by": " \n"}, "$.requested_by")):  # fmt: skip
            blank = httpx.post(f"{svc.url}/v1/admin/sinks/erasures", json=body, headers=h)
            assert blank.status_code == 400 and blank.json()["error"]["at"] == at, blank.text
        beyond = httpx.post(
            f"{svc.url}/v1/admin/sinks/ga4-main/replay", json={"from_seq": 1000}, headers=h
        )
        assert beyond.status_code == 400 and beyond.json()["error"] == {
            "code": "invalid_body", "at": "$.from_seq",
            "message": "from_seq 1000 is outside the log: its last seq is 40, so from_seq must "
                       "be between 1 and 41 (the next event)",
        }  # fmt: skip
        rows = httpx.get(f"{svc.url}/v1/admin/sinks/", headers=h).json()
        assert {r["name"]: r["cursor"] for r in rows} == {"ga4-main": 40, "warehouse": 40}
        after = httpx.post(
            f"{svc.url}/v1/admin/sinks/ga4-main/replay", json={"from_seq": 41}, headers=h
        )
        assert after.status_code == 200 and after.json()["cursor"] == 40
        missing = httpx.post(
            f"{svc.url}/v1/admin/sinks/nope/replay", json={"from_seq": 1}, headers=h
        )
        assert (
            missing.status_code == 404
            and "no sink named 'nope'" in missing.json()["error"]["message"]
        )
        ok = httpx.post(
            f"{svc.url}/v1/admin/sinks/ga4-main/replay", json={"from_seq": 31}, headers=h
        )
        assert ok.status_code == 200 and ok.json()["cursor"] == 30
        collector.wait_for("ga4", 50)
        letters = httpx.get(f"{svc.url}/v1/admin/sinks/ga4-main/dead-letters", headers=h)
        assert letters.status_code == 200 and letters.json() == []


def test_cli_uses_the_running_service_then_the_file(setup):
    config, collector = setup
    with Service(config) as svc:
        wait_drained(svc)
        out = cli(config, "sinks", "status")
        assert out.returncode == 0, out.stderr
        assert "source: service at" in out.stdout and "ga4-main" in out.stdout
        rows = msgspec.json.decode(cli(config, "sinks", "status", "--json").stdout)
        assert {r["name"]: r["state"] for r in rows} == {"ga4-main": "idle", "warehouse": "idle"}
        # The API's line, with where (docs/forwarding.md): the same with the file below.
        out = cli(config, "sinks", "replay", "ga4-main", "--from-seq", "42")
        assert out.returncode == 1 and out.stdout == "", out.stdout
        assert out.stderr == (
            "sideline: from_seq 42 is outside the log: its last seq is 40, so from_seq must "
            "be between 1 and 41 (the next event) - at `$.from_seq`\n"
        )
        out = cli(config, "sinks", "replay", "ga4-main", "--from-seq", "0")
        assert (out.returncode, out.stderr) == (1, BELOW_ONE), out.stderr
        out = cli(config, "sinks", "replay", "ga4-main", "--from-seq", "21")
        assert out.returncode == 0 and "via service" in out.stdout, out.stderr
        collector.wait_for("ga4", 60)
        # The service holds the file: a wrong URL cannot fall back to it, and says so.
        wrong = f"http://127.0.0.1:{free_port()}"
        for args in (("sinks", "--url", wrong, "status"), ("sinks", "status", "--url", wrong),
                     ("sinks", "replay", "ga4-main", "--from-seq", "1", "--url", wrong)):  # fmt: skip
            busy = cli(config, *args)
            assert busy.returncode == 1 and "held by another process" in busy.stderr, args
        out = cli(config, "erase", "--user", "u3", "--by", "ops")
        assert out.returncode == 0 and "via service" in out.stdout, out.stderr

    out = cli(config, "sinks", "status")
    assert out.returncode == 0 and "source: log file" in out.stdout and "offline" in out.stdout
    out = cli(config, "erase", "--user", "u4", "--by", "ops")
    assert out.returncode == 0 and "via log file" in out.stdout, out.stderr
    export = config.parent / "data" / "warehouse" / "events"
    users = pl.read_parquet(str(export / "**" / "*.parquet"))["user_id"].to_list()
    assert len(users) == 40 and "u3" not in users and "u4" not in users
    out = cli(config, "sinks", "replay", "warehouse", "--from-seq", "1000")
    assert out.returncode == 1 and out.stderr == (
        "sideline: from_seq 1000 is outside the log: its last seq is 40, so from_seq must "
        "be between 1 and 41 (the next event) - at `$.from_seq`\n"
    )
    out = cli(config, "sinks", "replay", "warehouse", "--from-seq", "0")
    assert (out.returncode, out.stderr) == (1, BELOW_ONE), out.stderr
    assert len(list(export.rglob("*.parquet"))) > 0  # refused before anything was touched
    rows = msgspec.json.decode(cli(config, "sinks", "status", "--json").stdout)
    assert {r["name"]: r["cursor"] for r in rows} == {"ga4-main": 40, "warehouse": 40}
    out = cli(config, "sinks", "replay", "warehouse", "--from-seq", "1")
    assert out.returncode == 0 and "cursor 0" in out.stdout, out.stderr
    assert not list(export.rglob("*.parquet"))  # rewritten from the log at the next start
    assert cli(config, "sinks", "replay", "nope", "--from-seq", "1").returncode == 1


def test_sinks_check_validates_ga4_against_the_debug_endpoint(setup, tmp_path: Path):
    config, collector = setup
    out = cli(config, "sinks", "check")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 validation message(s)" in out.stdout
    assert "DuckLake" not in out.stdout  # ducklake = false: its advice is not for this config
    wrong = write_config(tmp_path / "other", free_port(), collector.url, measurement_id="G-WRONG")
    out = cli(wrong, "sinks", "check")
    assert out.returncode == 1 and "unknown measurement_id" in out.stdout


async def test_erase_with_ducklake_configured_says_the_catalog_is_not_erased(tmp_path: Path):
    from tests.sinks.conftest import Rig

    data = tmp_path / "data"
    rig = await Rig(data, {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]}).start()
    await rig.append([message(i, user="alice" if i % 2 else "bob") for i in range(10)])
    await rig.drained()
    await rig.stop()
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nport = {free_port()}\n'
                      '[[sinks.warehouse]]\nname = "warehouse"\nducklake = true\n')  # fmt: skip
    out = cli(config, "erase", "--user", "alice", "--by", "ops")
    # The Parquet export is erased (and the erasure recorded and in force for forwarding) ...
    assert "erased as erased-" in out.stdout and "5 rows" in out.stdout, out.stderr
    users = pl.read_parquet(str(data / "warehouse" / "events" / "**" / "*.parquet"))["user_id"]
    assert "alice" not in users.to_list()
    # ... but the command does not claim a complete erasure: DuckLake is not reached.
    assert out.returncode == 1
    assert out.stderr == (
        "sideline: erasure incomplete: not erased from the DuckLake catalog of warehouse sink "
        f"'warehouse' ({data / 'warehouse' / 'lake.ducklake'}), which keeps this user's rows; "
        "remove them there (see 'DuckLake' in docs/forwarding.md)\n"
    )
    audit = (data / "warehouse" / "erasures.jsonl").read_text()
    assert "not erased from the DuckLake catalog" in audit


async def test_sinks_check_skips_disabled_sinks_as_the_service_does(tmp_path: Path):
    # A disabled sink needs no secret to start the service; the check says it is skipped
    # instead of failing on its missing variable (or reaching its endpoint).
    data = tmp_path / "data"
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nport = {free_port()}\n'
                      '[[sinks.segment]]\nname = "seg-off"\nenabled = false\n'
                      'write_key_env = "SIDELINE_TEST_UNSET_KEY"\n'
                      '[[sinks.ga4]]\nname = "ga4-off"\nenabled = false\nmeasurement_id = "G-X"\n'
                      'base_url = "http://127.0.0.1:9"\napi_secret_env = "SIDELINE_TEST_UNSET_GA4"\n'
                      '[[sinks.warehouse]]\nname = "warehouse"\n')  # fmt: skip
    settings = load_settings(config, environ={})
    log = DuckDBLog(settings.log_path, node_id=settings.node_id)
    await log.start()
    try:
        forwarder = build_forwarder(settings, log, environ={})  # the service starts
        states = {s.name: s.state for s in forwarder.status()}
        assert states == {"warehouse": "stopped", "seg-off": "disabled", "ga4-off": "disabled"}
    finally:
        await log.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDELINE_TEST_UNSET")}
    out = subprocess.run([sys.executable, "-m", "service.cli", "sinks", "check"], cwd=ROOT,
                         env={**env, "PYTHONPATH": str(ROOT), "SIDELINE_CONFIG": str(config)},
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "seg-off (segment): disabled, skipped (its secret and endpoint are not checked)" in lines
    assert "ga4-off (ga4): disabled, skipped (its secret and endpoint are not checked)" in lines
    assert "warehouse (warehouse): enabled" in lines and lines[-1] == "ok"
    assert "problem" not in out.stdout and "validation message" not in out.stdout
    # Forwarding off: the service builds no sink at all, and the check says so.
    off = config.read_text().replace(
        "[[sinks.segment]]", "[sinks]\nenabled = false\n[[sinks.segment]]", 1
    )
    config.write_text(off)
    out = subprocess.run([sys.executable, "-m", "service.cli", "sinks", "check"], cwd=ROOT,
                         env={**env, "PYTHONPATH": str(ROOT), "SIDELINE_CONFIG": str(config)},
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    off_line = "forwarding is off (sinks.enabled = false): no sink runs, nothing to check\nok\n"
    assert (out.returncode, out.stdout) == (0, off_line), out.stderr
