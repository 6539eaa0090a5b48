"""Fixtures of the dashboard tests: one demo data directory per session, and its reports."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tests.dashboards import demo


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
