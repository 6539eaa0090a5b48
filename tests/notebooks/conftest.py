"""The notebooks run against the same session demo data as the dashboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboards import demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo.build(tmp_path_factory.getbasetemp() / "sideline-demo")
