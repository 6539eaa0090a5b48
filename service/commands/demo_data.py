"""Demo data for ``sideline demo``: seed a community history, export it, run the jobs.

The seeded history takes the path real traffic takes: events go through the log writer, the
service's warehouse sink exports them, and the analytics runner reads only that export, then
renders the dashboards.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from service.settings import Settings

log = logging.getLogger(__name__)


def seed_if_empty(settings: Settings, *, users: int = 5000, days: int = 30) -> str | None:
    """Write product exports and append a generated history, unless the log already has one.

    Runs before the service opens the log (DuckDB allows one process, one opener).
    """
    from analytics.demo import DemoConfig, append_to_log, generate, write_exports
    from analytics.settings import exports_path

    if settings.log_path.exists():
        return None
    data = generate(DemoConfig(users=users, days=days, holdout_share=settings.holdout.share or 0.1,
                               holdout_salt=settings.holdout.salt))  # fmt: skip
    write_exports(data, exports_path(settings))

    last = append_to_log(data.events, settings.log_path, settings.node_id)
    return f"seeded {data.users.height} users, {data.contexts.height} contexts, {last} events"


async def export_and_report(app: Any, settings: Settings, *, timeout: float = 120.0) -> list[str]:
    """Wait until the warehouse export has caught up, run every job, return the lines to print."""
    from analytics.child import ChildFailed, run_in_child
    from dashboards import demo_lines

    forwarder = app.state.forwarder
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        warehouse = [  # a disabled one is listed with its stored cursor and never catches up
            s for s in forwarder.status() if s.kind == "warehouse" and s.state != "disabled"
        ]
        if warehouse and all(s.lag == 0 for s in warehouse):
            break
        await asyncio.sleep(0.5)
    try:  # in a child process, so the demo page stays responsive meanwhile
        _, results = await run_in_child(settings, None)
    except ChildFailed as exc:
        log.error("demo jobs could not run: %s", exc)
        return [f"reports: none ({exc})", *demo_lines(settings)]
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        log.error("demo job %s failed: %s", r.job, r.error)
    return [f"reports: {len(results) - len(failed)} of {len(results)} jobs ran", *demo_lines(settings)]
