"""Demo data for the dashboard and notebook tests, built once per test session.

The real path, minus the service: the demo generator's product exports and events, the events
written in the warehouse layout, the warehouse sink's ``warehouse.duckdb`` views, every report
job through the real runner, then the dashboards rendered from the report outputs.

The demo's history runs on to the day before :data:`RENDERED_AT`, and the pages are rendered at
that time, so the overview's "today", a day still in progress, is the render's day and the
history's last day is its last full day.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.demo import DemoConfig, default_start, generate, write_exports, write_warehouse
from analytics.runner import Runner
from dashboards.paths import DashboardPaths
from dashboards.render import render_all
from service.sinks.warehouse.views import write_views

USERS = 2000
RENDERED_AT = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
"""When the demo pages are rendered: the next full hour of the test session, after its jobs ran
(their run records take the real clock)."""


def config() -> DemoConfig:
    """The demo's size and seed, its history running on to the day before :data:`RENDERED_AT`
    (what ``generate`` does by itself for the machine's today)."""
    base = DemoConfig(users=USERS, seed=11)
    start = default_start(base, RENDERED_AT.date())
    reach = (RENDERED_AT.date() - start).days - base.days
    return dataclasses.replace(base, start=start, post_days=max(base.post_days, reach))


def build(data_dir: Path) -> Path:
    """Demo data, reports and static dashboards under ``data_dir``; reused when complete."""
    done = data_dir / ".complete"
    if done.exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    data = generate(config())
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
