"""The sinks commands' options: ``--url`` after the command as before it, and ``sinks check``
speaking of DuckLake only where it is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import build_parser
from tests.fixtures.server import free_port
from tests.sinks.conftest import ENV, Rig, message

ROOT = Path(__file__).resolve().parents[2]


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT), "SIDELINE_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "url"),
    [
        (["sinks", "status", "--url", "http://a"], "http://a"),
        (["sinks", "--url", "http://a", "status"], "http://a"),
        (["sinks", "status", "--json", "--url", "http://a"], "http://a"),
        (["sinks", "replay", "w", "--from-seq", "1", "--url", "http://a"], "http://a"),
        (["sinks", "--url", "http://a", "replay", "w", "--from-seq", "1"], "http://a"),
        (["sinks", "--url", "http://a", "status", "--url", "http://b"], "http://b"),
        (["erase", "--user", "u", "--url", "http://a"], "http://a"),
        (["sinks", "status"], None),
    ],
)  # fmt: skip
def test_url_goes_after_the_command_or_before_it(argv: list[str], url: str | None) -> None:
    assert build_parser().parse_args(argv).url == url


async def test_the_cli_reads_url_after_status_and_replay(tmp_path: Path) -> None:
    # It was "unrecognized arguments: --url ..." (exit 2) after status and replay.
    data = tmp_path / "data"
    rig = await Rig(data, {"warehouse": [{"name": "warehouse", "linger_seconds": 0.05}]}).start()
    await rig.append([message(i) for i in range(3)])
    await rig.drained()
    await rig.stop()
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{data}"\n[server]\nport = {free_port()}\n'
                      '[[sinks.warehouse]]\nname = "warehouse"\n')  # fmt: skip
    nobody = f"http://127.0.0.1:{free_port()}"
    out = cli(config, "sinks", "status", "--url", nobody)
    assert out.returncode == 0, out.stderr
    assert f"(no service at {nobody})" in out.stdout.splitlines()[0]
    out = cli(config, "sinks", "replay", "warehouse", "--from-seq", "1", "--url", nobody)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("warehouse: cursor 0, lag 3 (via log file") and nobody in out.stdout


def _check(tmp_path: Path, warehouse: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "sideline.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[server]\nport = {free_port()}\n'
                      f'[[sinks.warehouse]]\nname = "warehouse"\n{warehouse}')  # fmt: skip
    return cli(config, "sinks", "check", "--offline")


def test_check_leaves_ducklake_out_when_it_is_off(tmp_path: Path) -> None:
    # It printed "DuckLake is not available ... set ducklake = false" with ducklake = false.
    out = _check(tmp_path, "ducklake = false\n")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "DuckLake" not in out.stdout
    assert out.stdout.splitlines()[-1] == "ok"


def test_check_reports_ducklake_once_when_it_is_on_and_missing(tmp_path: Path) -> None:
    import duckdb

    out = _check(tmp_path, "ducklake = true\n")
    if out.returncode == 0:  # a DuckDB that loads DuckLake (1.5 with the extension installed)
        assert f"warehouse: DuckLake loads with DuckDB {duckdb.__version__}" in out.stdout
        return
    lines = out.stdout.splitlines()
    assert [line for line in lines if "DuckLake" in line] == [
        line for line in lines if line.startswith(
            f"problem: warehouse: ducklake = true but DuckLake is not available with DuckDB "
            f"{duckdb.__version__}: ")
    ]  # fmt: skip
    assert len([line for line in lines if "DuckLake" in line]) == 1
    assert "set ducklake = false" in out.stdout and lines[-1] == "1 problem(s)"
