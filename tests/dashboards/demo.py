"""Demo data for the dashboard and notebook tests, built once per test session.

The real path, minus the service: the demo generator's product exports and events, the events
written in the warehouse layout, the warehouse sink's ``warehouse.duckdb`` views, every report
job through the real runner, then the dashboards rendered from the report outputs.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from analytics.demo import DemoConfig, generate, write_exports, write_warehouse
from analytics.runner import Runner
from dashboards.paths import DashboardPaths
from dashboards.render import render_all
from service.sinks.warehouse.views import write_views

USERS = 2000
RENDERED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def build(data_dir: Path) -> Path:
    """Demo data, reports and static dashboards under ``data_dir``; reused when complete."""
    done = data_dir / ".complete"
    if done.exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    data = generate(DemoConfig(users=USERS, seed=11))
    write_exports(data, data_dir / "exports")
    warehouse = data_dir / "warehouse"
    write_warehouse(data.events, warehouse, node_id="node-1")
    write_views(warehouse)
    results = Runner(warehouse, data_dir / "exports", progress=False).run()
    failed = [f"{r.job}: {r.error}" for r in results if r.status == "failed"]
    assert not failed, failed
    render_all(paths(data_dir), now=RENDERED_AT)
    done.touch()
    return data_dir


def paths(data_dir: Path) -> DashboardPaths:
    return DashboardPaths(data_dir / "warehouse" / "reports", data_dir / "dashboards")
