"""Fixtures of the dashboard tests: one demo data directory per session, its reports, and
copies of it with stale reports (:mod:`tests.dashboards.stale`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from tests.dashboards import demo, stale


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo data, every report and the rendered dashboards (shared with the notebook tests)."""
    return demo.build(tmp_path_factory.getbasetemp() / "sideline-demo")


@pytest.fixture(scope="session")
def report(demo_dir: Path):
    """``report(name)``: a report's Parquet rows, read independently of the dashboards code."""

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(demo_dir / "warehouse" / "reports" / name / "*.parquet")

    return read


@pytest.fixture(scope="session")
def failed_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo after a run that failed every job reading the product exports (its pages
    rendered by that run)."""
    return stale.failed_run(demo_dir, tmp_path_factory.mktemp("failed-run") / "data")


@pytest.fixture(scope="session")
def behind_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, datetime]:
    """The demo three warehouse days later, ``moderation_checks`` left behind; with the render
    time of its pages."""
    return stale.left_behind(demo_dir, tmp_path_factory.mktemp("left-behind") / "data")
