"""Sink health for the overview: the forwarder's status turned into a table and one sentence.

The status lives in the running service (its forwarder), never in a report. The service passes
it live when it serves the overview; a static render asks the running service's admin API and,
when none answers, says plainly that the status is not available in that copy.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboards import fmt

log = logging.getLogger(__name__)

HEALTHY_STATES = frozenset({"idle", "sending"})
NOT_AVAILABLE = ("Sink health is not available in this copy: no running service reported its "
                 "forwarder when it was rendered. The dashboards served by the service at "
                 "/dashboards show it live.")  # fmt: skip


def summary(statuses: Sequence[Any] | None, as_of: datetime, source: str) -> dict[str, Any]:
    """The block the overview page shows: rows, a sentence and where the status came from.

    Args:
        statuses: ``service.sinks.status.SinkStatus`` objects, or None when not available.
        as_of: when the status was read.
        source: where it was read (``live``, ``admin API``).
    """
    if statuses is None:
        return {"available": False, "rows": [], "sentence": NOT_AVAILABLE,
                "note": "Status source: none reachable at render time."}  # fmt: skip
    rows = [_row(s) for s in statuses]
    return {
        "available": True, "rows": rows, "sentence": sentence(rows),
        "note": f"Status read from the {source} at {as_of.strftime('%d %b %Y %H:%M:%S')} UTC; "
                "lag counts committed events a sink has not processed yet.",
    }  # fmt: skip


def _row(s: Any) -> dict[str, Any]:
    state = str(s.state)
    return {
        "name": s.name, "kind": s.kind, "state": state, "lag": int(s.lag),
        "dead_letters": int(s.dead_letters), "errors": int(s.errors),
        "last_error": s.last_error, "disabled": state == "disabled",
        "healthy": state in HEALTHY_STATES and int(s.dead_letters) == 0,
    }  # fmt: skip


def sentence(rows: list[dict[str, Any]]) -> str:
    """One sentence on the sinks, e.g. "All 3 sinks are delivering; the largest lag is ..."."""
    active = [r for r in rows if not r["disabled"]]
    if not active:
        return "No sink is enabled on this node: events stay in the log and nothing is forwarded."
    laggard = max(active, key=lambda r: r["lag"])
    bad = [r for r in active if not r["healthy"]]
    if not bad and len(active) == 1:
        return (f"The {laggard['name']} sink is delivering; {fmt.count(laggard['lag'])} events "
                "are waiting for it.")  # fmt: skip
    if not bad:
        return (f"All {len(active)} sinks are delivering; the largest lag is "
                f"{fmt.count(laggard['lag'])} events ({laggard['name']}).")  # fmt: skip
    worst = max(bad, key=lambda r: (r["lag"], r["dead_letters"]))
    detail = f"{worst['name']} is {worst['state'].replace('_', ' ')} with {fmt.count(worst['lag'])} events waiting"
    if worst["dead_letters"]:
        detail += f" and {fmt.count(worst['dead_letters'])} dead letters"
    if worst["last_error"]:
        detail += f" (last error: {str(worst['last_error'])[:120]})"
    return f"{len(bad)} of {len(active)} sinks need attention: {detail}."


def fetch(settings: Any, timeout: float = 1.0) -> list[Any] | None:
    """The forwarder status from the running service's admin API, or None if none answers."""
    key = settings.admin.api_key or _dev_admin_key(Path(settings.data_dir))
    if not key:
        return None
    try:
        from service.sinks.admin_client import AdminClient

        return AdminClient(settings.public_url, key, timeout=timeout).status()
    except Exception as exc:  # any failure means "not available", never a failed render
        log.info("sink status not available for the dashboards: %s", exc)
        return None


def _dev_admin_key(data_dir: Path) -> str:
    path = data_dir / "dev-secrets.toml"
    try:
        return str(tomllib.loads(path.read_text()).get("admin_api_key", ""))
    except (OSError, tomllib.TOMLDecodeError):
        return ""
