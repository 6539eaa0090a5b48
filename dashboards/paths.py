"""Where dashboards read reports from and write pages to, and the URLs they are served at."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAGES = ("overview", "churn", "events", "journey", "moderation")
"""Slugs of the dashboards, in navigation order; each is written as ``<slug>.html``."""

MOUNT = "/dashboards"
"""Path the service serves the dashboards under."""


@dataclass(frozen=True, slots=True)
class DashboardPaths:
    """The report outputs a render reads and the folder it writes."""

    reports_root: Path
    """``<warehouse>/reports``: one folder of Parquet files per report."""
    out_dir: Path
    """Folder of the static pages (``index.html`` and one ``<slug>.html`` per dashboard)."""

    def page(self, slug: str) -> Path:
        """The static file of dashboard ``slug`` (``index`` for the list of dashboards)."""
        return self.out_dir / f"{slug}.html"


def paths_for(source: Any) -> DashboardPaths:
    """Paths for service settings (``data_dir``, ``analytics``, ``dashboards`` sections), or
    ``source`` itself when it already is a :class:`DashboardPaths`."""
    if isinstance(source, DashboardPaths):
        return source
    from analytics.settings import warehouse_path

    return DashboardPaths(warehouse_path(source) / "reports", output_dir(source))


def output_dir(settings: Any) -> Path:
    """``dashboards.output_dir``, else ``<data_dir>/dashboards``."""
    section = getattr(settings, "dashboards", None)
    configured = getattr(section, "output_dir", "") if section is not None else ""
    return Path(configured) if configured else Path(settings.data_dir) / "dashboards"


def dashboard_urls(settings: Any) -> dict[str, str]:
    """Slug -> URL of each dashboard as the running service serves it (behind the key)."""
    base = settings.public_url.rstrip("/") + MOUNT
    return {"index": f"{base}/", **{slug: f"{base}/{slug}.html" for slug in PAGES}}
