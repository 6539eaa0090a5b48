"""``sideline dashboards render|urls``: write the static pages now, or print where they are."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``dashboards`` command group to ``sub``."""
    group = sub.add_parser("dashboards", help="dashboards for product managers").add_subparsers(
        dest="dashboards_command", required=True
    )
    render = group.add_parser("render", help="render every dashboard from the report outputs")
    render.add_argument("--data-dir", help="data_dir (overrides the settings)")
    render.set_defaults(handler=run_render)
    urls = group.add_parser("urls", help="print the dashboard URLs and static files")
    urls.add_argument("--data-dir", help="data_dir (overrides the settings)")
    urls.set_defaults(handler=run_urls)


def _settings(args: argparse.Namespace) -> Any:
    from service.settings import ConfigError, load_settings

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    try:
        return load_settings(getattr(args, "config", None), **overrides)
    except ConfigError as exc:
        print(f"sideline: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def run_render(args: argparse.Namespace) -> int:
    from dashboards import demo_lines, render_all

    settings = _settings(args)
    written = render_all(settings)
    print(f"rendered {len(written)} pages into {written[0].parent}")
    for line in demo_lines(settings):
        print(line)
    return 0


def run_urls(args: argparse.Namespace) -> int:
    from dashboards import demo_lines

    for line in demo_lines(_settings(args)):
        print(line)
    return 0
