"""``sideline moderate``: run the moderation pipeline offline over JSON Lines, for tuning.

Each input line is ``{"id": ..., "text": ..., "user_id": ..., "ts": ...}`` (``user_id`` and
``ts`` optional); each output line is ``{"id", "action", "score", "reasons", "masked_text",
"altered"}``. A bad line gives ``{"line": n, "error": "..."}`` and the run goes on. Lines
without ``user_id`` each get a user of their own, so rate limits only apply where the input
says who posted; lines without ``ts`` are ``--interval`` seconds apart.

The policy is the one the service applies (see :mod:`service.moderation.policy_source`): the
configured one, or its latest change through the admin API, read from the event log, or from
the running service while it holds the log. Which one, and where from, goes to stderr first;
an unknown ``--policy`` is a configuration error (exit 2), never quietly ``default``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any

import msgspec

from service.moderation.pipeline import Pipeline
from service.moderation.policy_source import PolicySourceError, resolve
from service.moderation.providers.openai_http import build_provider
from service.moderation.verdict import MessageContext, Verdict
from service.settings import ConfigError, load_settings


class DryRunLine(msgspec.Struct):
    """One input message."""

    id: str | int
    text: str
    user_id: str | None = None
    ts: float | None = None


_decoder = msgspec.json.Decoder(DryRunLine)
_encoder = msgspec.json.Encoder()


def register(subparsers: Any) -> None:
    """Add the ``moderate`` command."""
    parser = subparsers.add_parser(
        "moderate",
        help="dry-run the moderation pipeline over JSON Lines (stdin -> stdout)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--policy",
        default="default",
        help="room kind (its rooms.<kind>.moderation_policy when set) or policy name to apply",
    )
    parser.add_argument("--input", "-i", help="read this file instead of stdin")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between lines without ts"
    )
    parser.add_argument("--timings", action="store_true", help="include checks_ms per message")
    parser.add_argument(
        "--configured-only",
        action="store_true",
        help="apply the configured policies alone, not their changes made through the admin API",
    )
    parser.add_argument(
        "--url",
        help="admin URL of the running service, asked for the policy while it holds the event "
        "log (default: from settings)",
    )
    parser.add_argument(
        "--with-provider",
        action="store_true",
        help="also ask the configured AI provider (off by default: dry runs stay offline)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the dry run; 0 when every line was processed, 1 when some were bad, 2 on config."""
    try:
        settings = load_settings(getattr(args, "config", None))
    except ConfigError as exc:
        print(f"sideline moderate: {exc}", file=sys.stderr)
        return 2
    try:
        policy = resolve(settings, args.policy, url=args.url, configured_only=args.configured_only)
    except PolicySourceError as exc:
        print(f"sideline moderate: {exc}", file=sys.stderr)
        return 2
    provider = build_provider(settings.moderation.provider) if args.with_provider else None
    if args.with_provider and provider is None:
        print(
            "sideline moderate: --with-provider needs moderation.provider.enabled", file=sys.stderr
        )
        return 2
    pipeline = Pipeline(settings.moderation, provider=provider, host_domains=settings.host_domains)
    for name, changed in policy.changes.items():
        pipeline.set_policy(name, changed)
    args.policy = policy.name
    print(f"sideline moderate: {policy.source}", file=sys.stderr, flush=True)
    stream: IO[bytes] = open(args.input, "rb") if args.input else sys.stdin.buffer  # noqa: SIM115
    try:
        out = sys.stdout.buffer
        counts = asyncio.run(_process(pipeline, stream, out, args)) if provider else None
        if counts is None:
            counts = Counter()
            for chunk in _dry_run(pipeline, stream, args, counts):
                out.write(chunk)
        out.flush()
    finally:
        if args.input:
            stream.close()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"sideline moderate: {summary or 'no input'}", file=sys.stderr)
    return 1 if counts.get("error") else 0


async def _process(
    pipeline: Pipeline, stream: IO[bytes], out: IO[bytes], args: argparse.Namespace
) -> Counter[str]:
    counts: Counter[str] = Counter()
    clock = _Clock(args.interval)
    for number, raw in enumerate(stream, 1):
        item = _parse(number, raw, counts)
        if isinstance(item, bytes):
            out.write(item)
            continue
        if item is None:
            continue
        verdict = await pipeline.check(item.text, _context(item, number, args.policy, clock))
        out.write(_render(item, verdict, args.timings, counts))
    return counts


def _dry_run(
    pipeline: Pipeline, stream: Iterable[bytes], args: argparse.Namespace, counts: Counter[str]
) -> Iterator[bytes]:
    clock = _Clock(args.interval)
    for number, raw in enumerate(stream, 1):
        item = _parse(number, raw, counts)
        if item is None or isinstance(item, bytes):
            if item is not None:
                yield item
            continue
        verdict = pipeline.check_local(item.text, _context(item, number, args.policy, clock))
        yield _render(item, verdict, args.timings, counts)


class _Clock:
    """Virtual time: the line's ``ts`` when given, else ``interval`` after the previous line."""

    def __init__(self, interval: float) -> None:
        self.now = 0.0
        self.interval = interval

    def at(self, ts: float | None) -> float:
        self.now = ts if ts is not None else self.now + self.interval
        return self.now


def _parse(number: int, raw: bytes, counts: Counter[str]) -> DryRunLine | bytes | None:
    if not raw.strip():
        return None
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        problem = str(exc)
    except UnicodeDecodeError as exc:
        problem = f"not valid UTF-8 ({exc.reason})"
    counts["error"] += 1
    return _encoder.encode({"line": number, "error": f"line {number}: {problem}"}) + b"\n"


def _context(item: DryRunLine, number: int, policy: str, clock: _Clock) -> MessageContext:
    user = item.user_id or f"line-{number}"
    return MessageContext(
        user_id=user, room_id=f"{policy}:dry-run", room_kind=policy, now=clock.at(item.ts)
    )


def _render(item: DryRunLine, verdict: Verdict, timings: bool, counts: Counter[str]) -> bytes:
    counts[verdict.action.value] += 1
    row: dict[str, object] = {
        "id": item.id,
        "action": verdict.action,
        "score": verdict.score,
        "reasons": verdict.reasons,
        "masked_text": verdict.text,
        "altered": verdict.altered,
    }
    if verdict.retry_after is not None:
        row["retry_after"] = verdict.retry_after
    if timings:
        row["checks_ms"] = {name: round(ms, 4) for name, ms in verdict.checks_ms.items()}
    return _encoder.encode(row) + b"\n"
