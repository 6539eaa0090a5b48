"""Dashboards for product managers, rendered from the analytics report outputs.

The entry points (importing this package loads no chart library):

- :func:`render_all` (``dashboards.render``): write every page as static HTML;
- :func:`dashboard_urls` / :func:`demo_lines`: where the running service serves them;
- ``dashboards.api.DashboardController``: ``/dashboards`` behind the access key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboards.paths import PAGES, DashboardPaths, dashboard_urls, paths_for

__all__ = ["PAGES", "DashboardPaths", "dashboard_urls", "demo_lines", "paths_for", "render_all"]


def render_all(source: Any, **kwargs: Any) -> list[Path]:
    """Render every dashboard; see :func:`dashboards.render.render_all`."""
    from dashboards.render import render_all as render

    return render(source, **kwargs)


def demo_lines(settings: Any) -> list[str]:
    """What ``sideline demo`` prints about the dashboards: URLs, the key, the static copies."""
    urls = dashboard_urls(settings)
    key = ("dashboard_access_key in " + str(Path(settings.data_dir) / "dev-secrets.toml")
           if settings.env != "production" else "dashboards.access_key")  # fmt: skip
    lines = [f"dashboards (sign in with the {key}):"]
    lines += [f"  {slug:<11} {urls[slug]}" for slug in PAGES]
    lines.append(f"  static copies, open from disk: {paths_for(settings).page('index')}")
    return lines
