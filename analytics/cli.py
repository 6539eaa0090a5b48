"""Commands: ``sideline jobs run|status``, ``sideline demo seed``, ``sideline events import``.

Exit codes: 0 done, 1 a job failed, 2 bad input (unknown job, invalid configuration, an
import file with a record the import refuses, the log or the watermarks held by another
process).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from analytics.settings import analytics_settings, check_settings, exports_path, warehouse_path

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``jobs``, ``demo`` and ``events`` command groups to ``sub``."""
    jobs = sub.add_parser("jobs", help="analytics report jobs").add_subparsers(
        dest="jobs_command", required=True
    )
    run = jobs.add_parser("run", help="run report jobs (incremental unless --full)")
    run.add_argument("names", nargs="*", metavar="NAME", help="jobs to run")
    run.add_argument("--all", action="store_true", help="run every job")
    run.add_argument("--full", action="store_true", help="forget watermarks, recompute all")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _common(run)
    run.set_defaults(handler=jobs_run)
    status = jobs.add_parser("status", help="watermarks and last run of every job")
    _common(status)
    status.set_defaults(handler=jobs_status)
    demo = sub.choices.get("demo")
    if demo is None:
        add_seed(sub.add_parser("demo", help="demo data").add_subparsers(
            dest="demo_command", required=True))  # fmt: skip
    else:
        # ``sideline demo`` (service.commands.demo) serves the demo page; ``seed`` becomes an
        # optional sub-command of it, so ``sideline demo`` alone still does what it did.
        add_seed(demo.add_subparsers(dest="demo_command", required=False, metavar="{seed}"))
    events = sub.add_parser("events", help="the event log").add_subparsers(
        dest="events_command", required=True
    )
    imp = events.add_parser("import", help="validate and append events from JSONL or Parquet")
    imp.add_argument("file", type=Path, help="a .jsonl or .parquet file of events")
    imp.add_argument("--skip-invalid", action="store_true", help="append the valid records")
    imp.add_argument("--dry-run", action="store_true", help="validate only")
    _common(imp)
    imp.set_defaults(handler=events_import)


def add_seed(demo_sub: Any) -> None:
    """Add ``seed`` to the sub-commands of ``sideline demo``."""
    seed = demo_sub.add_parser("seed", help="generate product exports and community history")
    seed.add_argument("--users", type=int, default=5000)
    seed.add_argument("--days", type=int, default=30)
    seed.add_argument("--seed", type=int, default=7)
    seed.add_argument("--holdout-share", type=float, help="default: holdout.share, else 0.1")
    seed.add_argument("--format", choices=("csv", "parquet"), default="csv",
                      help="file format of the product exports")  # fmt: skip
    seed.add_argument("--target", choices=("log", "warehouse"), default="log",
                      help="append events through the log writer (default) or write the "
                      "warehouse Parquet layout directly (no service or exporter needed)")  # fmt: skip
    _common(seed)
    seed.set_defaults(handler=demo_seed)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data_dir (overrides the settings)")


def _settings(args: argparse.Namespace) -> Any:
    from service.settings import ConfigError, load_settings

    overrides = {"data_dir": args.data_dir} if getattr(args, "data_dir", None) else {}
    try:
        settings = load_settings(getattr(args, "config", None), **overrides)
    except ConfigError as exc:
        _fail(str(exc))
    problems = check_settings(analytics_settings(settings))
    if problems:
        _fail("invalid configuration: " + "; ".join(problems))
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return settings


def _fail(message: str, code: int = 2) -> Any:
    print(f"sideline: {message}", file=sys.stderr)
    raise SystemExit(code)


def jobs_run(args: argparse.Namespace) -> int:
    from analytics.runner import Runner, UnknownJob
    from analytics.state import StateBusy

    if not args.names and not args.all:
        _fail("name the jobs to run, or pass --all")
    runner = Runner.from_settings(_settings(args), progress=False if args.no_progress else None)
    try:
        results = runner.run(None if args.all else args.names, full=args.full)
    except (UnknownJob, StateBusy) as exc:
        _fail(str(exc))
    print(f"{'job':<18} {'status':<8} {'windows':>7} {'rows':>9} {'seconds':>8}")
    for r in results:
        print(f"{r.job:<18} {r.status:<8} {r.windows:>7} {r.rows:>9} {r.seconds:>8.2f}")
        if r.error:
            print(f"    error: {r.error}")
        for note in r.notes:
            print(f"    note: {note}")
    print(f"reports in {runner.reports_root}, views in {runner.views_path}")
    return 1 if any(r.status == "failed" for r in results) else 0


def jobs_status(args: argparse.Namespace) -> int:
    from analytics.runner import Runner
    from analytics.state import StateBusy

    runner = Runner.from_settings(_settings(args))
    try:
        rows = runner.status()
    except StateBusy as exc:
        _fail(str(exc))
    print(f"{'job':<18} {'final':>5} {'open':>5} {'started':>7} {'rows':>9} {'last window':<11} "
          f"{'last run (UTC)':<19} {'status':<7} {'seconds':>7}")  # fmt: skip
    for r in rows:
        at = r.get("last_run_at")
        print(f"{r['job']:<18} {r.get('final_windows') or 0:>5} {r.get('open_windows') or 0:>5} "
              f"{r.get('started_windows') or 0:>7} {r.get('rows') or 0:>9} "
              f"{r.get('last_window') or '-':<11} {at.strftime('%Y-%m-%d %H:%M:%S') if at else '-':<19} "
              f"{r.get('last_status') or 'never':<7} {r.get('last_seconds') or 0:>7.2f}")  # fmt: skip
        if r.get("error"):
            print(f"    error: {r['error']}")
        for note in r.get("notes") or []:  # the last run's, as `jobs run` printed them
            print(f"    note: {note}")
    return 0


def demo_seed(args: argparse.Namespace) -> int:
    from analytics.demo import DemoConfig, append_to_log, generate, write_exports, write_warehouse
    from service.eventlog.base import LogUnreadable

    settings = _settings(args)
    share = args.holdout_share
    if share is None:
        share = settings.holdout.share or 0.1
    data = generate(DemoConfig(users=args.users, days=args.days, seed=args.seed,
                               holdout_share=share, holdout_salt=settings.holdout.salt))  # fmt: skip
    folder = exports_path(settings)
    if args.target == "warehouse":
        write_exports(data, folder, args.format)
        _seeded_exports(data, folder)
        files = write_warehouse(data.events, warehouse_path(settings), node_id=settings.node_id)
        print(f"{len(data.events)} events in {len(files)} warehouse files under "
              f"{warehouse_path(settings)}")  # fmt: skip
        return 0

    # The history first: a log the running service holds refuses it, and then the exports its
    # reports read must stay those of the history it has.
    try:
        last = append_to_log(data.events, settings.log_path, settings.node_id)
    except LogUnreadable as exc:
        _fail(f"{exc} (is the service running? stop it, or use --target warehouse)")
    write_exports(data, folder, args.format)
    _seeded_exports(data, folder)
    print(f"{len(data.events)} events appended to {settings.log_path} (last seq {last})")
    return 0


def _seeded_exports(data: Any, folder: Path) -> None:
    print(f"product exports ({data.users.height} users, {data.activity.height} activity rows, "
          f"{data.contexts.height} contexts) in {folder}")  # fmt: skip


def events_import(args: argparse.Namespace) -> int:
    from analytics.importer import ImportFailed, import_file
    from service.eventlog.base import LogUnreadable

    settings = _settings(args)
    if not args.file.is_file():
        _fail(f"{args.file} does not exist")
    try:
        report = asyncio.run(import_file(args.file, settings.log_path, settings.node_id,
                                         rooms=settings.rooms, skip_invalid=args.skip_invalid,
                                         dry_run=args.dry_run))  # fmt: skip
    except ImportFailed as exc:
        _fail(str(exc))
    except LogUnreadable as exc:
        _fail(f"{exc} (is the service running? stop it first)")
    for error in report.errors:
        print(f"skipped: {error}")
    print(f"{report.read} records read, {report.valid} valid, {report.duplicates} already "
          f"imported, {report.appended} appended" + (" (dry run)" if args.dry_run else ""))  # fmt: skip
    return 0
