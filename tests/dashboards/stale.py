"""Stale reports made for real from the session's demo: jobs that fail, and a report left behind.

- :func:`failed_run`: the host's users export gets a bad row, and a run through
  ``Runner.from_settings`` (the runner re-renders the pages at its end, as the service's
  scheduler does) fails every job that reads the product exports; the three that read only the
  warehouse (``USER_FREE_JOBS``) still succeed. The pages keep the numbers of the demo's run.
- :func:`left_behind`: the warehouse gets three more days of events and every job runs but
  ``moderation_checks``, whose data so end three days before the warehouse's.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from analytics.demo import write_warehouse
from analytics.io import Warehouse
from analytics.jobs import JOBS
from analytics.runner import USER_FREE_JOBS, Runner
from dashboards.paths import DashboardPaths
from dashboards.render import render_all
from service.domain.events import Event, EventType, new_event
from service.settings import load_settings
from tests.analytics.conftest import SENT

FAILING = sorted(set(JOBS) - USER_FREE_JOBS)
"""The jobs a broken product export fails."""
LEFT_BEHIND = "moderation_checks"
NEW_DAYS = 3


def copy_demo(demo_dir: Path, data: Path) -> Path:
    """The demo's exports and warehouse (events, reports and the runner's records) in ``data``."""
    shutil.copytree(demo_dir / "exports", data / "exports")
    shutil.copytree(demo_dir / "warehouse", data / "warehouse")
    return data


def failed_run(demo_dir: Path, data: Path) -> Path:
    """A data dir whose last run failed every job that reads the product exports; its pages
    (``data/dashboards``) are the ones the runner rendered at the end of that run."""
    copy_demo(demo_dir, data)
    users = data / "exports" / "users.csv"
    lines = users.read_text().splitlines(keepends=True)
    head, first = lines[0].rstrip("\n").split(","), lines[1].split(",")
    first[head.index("signed_up_at")] = "last tuesday"
    users.write_text(lines[0] + ",".join(first) + "".join(lines[2:]))
    # No service answers on port 9: the pages say sink status is not available.
    settings = load_settings(environ={"SIDELINE_DATA_DIR": str(data), "SIDELINE_SERVER__PORT": "9"})
    results = Runner.from_settings(settings, progress=False).run()
    failed = sorted(r.job for r in results if r.status == "failed")
    assert failed == FAILING, [(r.job, r.status, r.error) for r in results]
    return data


def left_behind(demo_dir: Path, data: Path) -> tuple[Path, datetime]:
    """A data dir whose warehouse holds :data:`NEW_DAYS` more days than ``moderation_checks``
    was computed with, and its pages rendered the morning after (the render time returned)."""
    copy_demo(demo_dir, data)
    warehouse = data / "warehouse"
    last = Warehouse(warehouse).days()[-1]
    days = [last + timedelta(days=n) for n in range(1, NEW_DAYS + 1)]
    write_warehouse([_message(d) for d in days], warehouse, node_id="node-1")
    morning = datetime.combine(days[-1] + timedelta(days=1), time(9, 0), UTC)
    names = [n for n in JOBS if n != LEFT_BEHIND]
    results = Runner(warehouse, data / "exports", clock=lambda: morning, progress=False).run(names)
    assert all(r.status != "failed" for r in results), [(r.job, r.error) for r in results]
    render_all(paths(data), fetch_sinks=False, now=morning)
    return data, morning


def _message(day: date) -> Event:
    return new_event(EventType.MESSAGE_SENT, user_id="u000001", room_id="team:late",
                     occurred_at=datetime.combine(day, time(12, 0), UTC),
                     payload={"text": "still here", **SENT})  # fmt: skip


def paths(data: Path) -> DashboardPaths:
    return DashboardPaths(data / "warehouse" / "reports", data / "dashboards")
