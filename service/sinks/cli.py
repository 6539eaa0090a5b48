"""``sideline sinks status|replay|check`` and ``sideline erase --user U``.

``status``, ``replay`` and ``erase`` go through the running service's admin API (only the
service may open the log file) and fall back to the file when no service answers.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from service.commands.serve import settings_from_args
from service.domain.events import EventType, Metadata, new_event
from service.settings import Settings, ensure_dev_secrets
from service.sinks import offline
from service.sinks.admin_client import AdminClient, AdminError, ServiceUnreachable
from service.sinks.erasure import ErasureKeyError
from service.sinks.factory import warehouse_root
from service.sinks.ga4 import GA4Sink
from service.sinks.settings import check_sinks, required_secrets
from service.sinks.status import SinkStatus
from service.sinks.store import ReplayOutOfRange
from service.sinks.warehouse.ducklake import ducklake_status

T = TypeVar("T")
_FROM_SEQ = "$.from_seq"
_SKIPPED = "disabled, skipped (its secret and endpoint are not checked)"


class CliError(Exception):
    """A failure to report on stderr with exit code 1."""


def register(sub: Any) -> None:
    sinks = sub.add_parser("sinks", help="event forwarding: status, replay, check")
    _url_option(sinks, default=None)  # before the command too, as it always was
    cmds = sinks.add_subparsers(dest="sinks_command", required=True)
    st = cmds.add_parser("status", help="cursor, lag, throughput and dead letters per sink")
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _url_option(st)
    st.set_defaults(handler=_guard(run_status))
    rp = cmds.add_parser("replay", help="forward again to one sink from a seq")
    rp.add_argument("name", help="sink name")
    rp.add_argument("--from-seq", type=int, required=True, help="first seq to forward again")
    _url_option(rp)
    rp.set_defaults(handler=_guard(run_replay))
    ck = cmds.add_parser(
        "check", help="validate sink config; GA4 events against its debug endpoint"
    )
    ck.add_argument("--offline", action="store_true", help="no network calls")
    ck.set_defaults(handler=_guard(run_check))
    er = sub.add_parser("erase", help="erase a user from the warehouse export (audited)")
    er.add_argument("--user", required=True, help="user id to erase")
    er.add_argument("--by", default=None, help="who requested it (default: the OS user)")
    _url_option(er, default=None)
    er.set_defaults(handler=_guard(run_erase))


def _url_option(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    """``--url`` after the command (``sinks status --url X``, as ``erase --url X``). A
    command's own option is left out of the result when not given, so it never hides one
    given before the command (``sinks --url X status``)."""
    parser.add_argument(
        "--url", default=default, help="admin URL of the running service (default: from settings)"
    )


def _guard(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except (CliError, AdminError, FileNotFoundError, ErasureKeyError) as exc:
            print(f"sideline: {exc}", file=sys.stderr)
            return 1

    return run


def _settings(args: argparse.Namespace) -> Settings:
    settings = settings_from_args(args)
    if settings.env != "production":
        ensure_dev_secrets(settings)
    return settings


def _service_url(settings: Settings, args: argparse.Namespace) -> str:
    if getattr(args, "url", None):
        return str(args.url)
    host = settings.server.host
    host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host
    return f"http://{host}:{settings.server.port}"


def _online_or_file(
    settings: Settings,
    args: argparse.Namespace,
    online: Callable[[AdminClient], T],
    on_file: Callable[[], T],
) -> tuple[T, str]:
    url = _service_url(settings, args)
    try:
        return online(AdminClient(url, settings.admin.api_key)), f"service at {url}"
    except ServiceUnreachable:
        pass
    try:
        return on_file(), f"log file {settings.log_path} (no service at {url})"
    except offline.LogBusy as exc:
        raise CliError(f"{exc}, but no service answered at {url}; pass --url") from exc


def run_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    rows, source = _online_or_file(
        settings, args, lambda c: c.status(), lambda: offline.status(settings)
    )
    if args.json:
        print(msgspec.json.encode(rows).decode())
        return 0
    print(f"source: {source}")
    print(format_table(rows))
    if not settings.sinks.enabled:
        print("forwarding is off (sinks.enabled = false): no sink runs; each shows its stored "
              "cursor")  # fmt: skip
    elif not rows:
        print("no sink is configured ([[sinks.segment]], [[sinks.warehouse]] ...)")
    pending = max((r.pending_erasures for r in rows), default=0)
    if pending:
        print(
            f"pending erasures: {pending} recorded but not yet applied to the warehouse files "
            "(interrupted or failing); the service completes them at start and at the next "
            "'sideline erase'"
        )
    return 0


def format_table(rows: list[SinkStatus]) -> str:
    """The status rows as an aligned text table."""
    head = (
        "SINK",
        "KIND",
        "STATE",
        "CURSOR",
        "LAST SEQ",
        "LAG",
        "EV/S",
        "ERRORS",
        "DEAD",
        "LAST ERROR",
    )
    body = [
        (r.name, r.kind, r.state, str(r.cursor), str(r.last_seq), str(r.lag),
         f"{r.events_per_second:g}", str(r.errors), str(r.dead_letters), (r.last_error or "")[:60])
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                     for row in [head, *body])  # fmt: skip


def run_replay(args: argparse.Namespace) -> int:
    # The admin API's lines, so a refusal reads the same with or without a service.
    if args.from_seq < 1:
        raise CliError(f"Expected `int` >= 1 - at `{_FROM_SEQ}`")
    settings = _settings(args)

    def on_file() -> SinkStatus:
        try:
            return offline.replay(settings, args.name, args.from_seq)
        except ReplayOutOfRange as exc:
            raise CliError(f"{exc} - at `{_FROM_SEQ}`") from None
        except KeyError:
            raise CliError(f"no sink named {args.name!r} in the configuration") from None

    row, source = _online_or_file(
        settings, args, lambda c: c.replay(args.name, args.from_seq), on_file
    )
    print(f"{row.name}: cursor {row.cursor}, lag {row.lag} (via {source})")
    if row.state == "disabled":
        print(f"{row.name} is disabled: it forwards from there once it is enabled")
    return 0


def run_erase(args: argparse.Namespace) -> int:
    settings = _settings(args)
    who = args.by or os.environ.get("SUDO_USER") or getpass.getuser()
    record, source = _online_or_file(
        settings,
        args,
        lambda c: c.erase(args.user, who),
        lambda: offline.erase(settings, args.user, who),
    )
    print(
        f"erased as {record.pseudonym}: {record.rows_rewritten} rows in {len(record.files)} "
        f"files, events up to seq {record.up_to_seq} (erasure {record.erasure_id}, via {source})"
    )
    if record.warnings:  # done as far as it goes, but not complete: never exit 0 for it
        raise CliError("erasure incomplete: " + "; ".join(record.warnings))
    return 0


def run_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    cfg = settings.sinks
    if not cfg.enabled:  # the service then builds no sink, so nothing here could stop it
        print("forwarding is off (sinks.enabled = false): no sink runs, nothing to check")
        print("ok")
        return 0
    problems = check_sinks(cfg)
    problems += [
        f"environment variable {var} is not set - at `{at}`"
        for var, at in required_secrets(cfg)
        if not os.environ.get(var)
    ]
    for sink in cfg.all():
        state = "enabled" if sink.enabled else _SKIPPED
        print(f"{sink.name} ({sink.KIND}): {state}")
    for wh in (w for w in cfg.warehouse if w.enabled):
        print(f"{wh.name}: export folder {warehouse_root(settings, wh)}")
        if wh.ducklake:  # the advice to set ducklake = false is for those who set it true
            lake = ducklake_status(wh.ducklake_extension_path)
            if lake.startswith("DuckLake loads"):
                print(f"{wh.name}: {lake}")
            else:
                problems.append(f"{wh.name}: ducklake = true but {lake}")
    if not args.offline and not problems:
        problems += asyncio.run(_check_ga4(settings))
    for problem in problems:
        print(f"problem: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


async def _check_ga4(settings: Settings) -> list[str]:
    samples = [
        new_event(EventType.MESSAGE_SENT, user_id="sideline-check", room_id="match:check",
                  metadata=Metadata(device="web", language="en"),
                  payload={"text": "check", "visibility": "public", "masked": False}),
        new_event(EventType.REACTION_ADDED, user_id="sideline-check", room_id="match:check",
                  message_id="m-check", payload={"emoji": "👍"}),
        new_event(EventType.POLL_VOTED, user_id="sideline-check", room_id="match:check",
                  payload={"poll_id": "p-check", "option": 1}),
    ]  # fmt: skip
    problems = []
    for ga in (g for g in settings.sinks.ga4 if g.enabled):
        sink = GA4Sink(ga, api_secret=os.environ.get(ga.api_secret_env, ""))
        await sink.start()
        try:
            messages = await sink.validate(samples)
        except Exception as exc:  # report, never crash the check
            problems.append(f"{ga.name}: debug endpoint unreachable: {exc}")
            continue
        finally:
            await sink.close()
        print(f"{ga.name}: GA4 debug endpoint returned {len(messages)} validation message(s)")
        problems += [f"{ga.name}: {m.get('fieldPath')}: {m.get('description')}" for m in messages]
    return problems
