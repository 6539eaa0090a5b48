"""The one command line: ``sideline serve | token | demo | moderate | sinks | jobs | erase ...``.

Each command group lives next to the code it drives and registers itself here through a
``register(subparsers)`` function, so this module stays a table of contents.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands via ``register(subparsers)``.
COMMAND_MODULES = (
    "service.commands.serve",
    "service.commands.token",
    "service.commands.config",
    "service.commands.demo",
    "service.moderation.cli",
    "service.sinks.cli",
    "analytics.cli",
    "dashboards.cli",
)

DESCRIPTION = (
    "Sideline: chat rooms, reactions, polls and moderation for a host product, with every "
    "community event in an append-only log, forwarded and reported on. "
    "`sideline COMMAND --help` describes one command."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sideline", description=DESCRIPTION)
    parser.add_argument("--config", help="TOML settings file (also SIDELINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of a pipe stopped early (``sideline jobs status | head``): what it did not
        # read is not wanted. Point stdout at nothing so the exit's flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


if __name__ == "__main__":
    sys.exit(main())
