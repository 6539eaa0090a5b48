"""``sideline demo``: a live match page with the chat panel beside it, zero configuration.

Runs two servers in one process: the Sideline service (as ``sideline serve`` would) and a
demo host product on the next port, whose page embeds the panel in an iframe from the
service's origin, the way a real host does. The host's backend mints tokens for demo users
with the service's development secret, so this command refuses to run in production.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from service.commands.serve import settings_from_args
from service.logs import configure_logging
from service.settings import Settings, ensure_dev_secrets

ROOM = "match:demo"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="serve a demo match page with the chat panel (development)")
    p.add_argument("--port", type=int, default=8000, help="service port; the page uses the next one")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind")
    p.add_argument("--data-dir", help="keep the demo's data here (default: a new temporary dir)")
    p.add_argument("--seconds-per-minute", type=float, default=2.0, help="match clock speed")
    p.set_defaults(handler=run)


def _free(host: str, preferred: int) -> int:
    """``preferred`` when it can be bound, else any free port (zero configuration)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError(f"no free port on {host}")


def demo_settings(args: argparse.Namespace) -> tuple[Settings, int]:
    """Settings for the service, and the port of the demo page (allowed to frame the panel)."""
    args.data_dir = args.data_dir or tempfile.mkdtemp(prefix="sideline-demo-")
    settings = settings_from_args(args)
    if settings.env == "production":
        print("sideline demo mints tokens with a development secret; refusing in production", file=sys.stderr)
        raise SystemExit(2)
    host = settings.server.host
    settings.server.port = _free(host, args.port)
    page_port = _free(host, settings.server.port + 1)
    page_origin = f"http://{host}:{page_port}"
    settings.server.allowed_origins = [*settings.server.allowed_origins, page_origin]
    return settings, page_port


def _quiet_server(config: Any) -> Any:
    """A uvicorn server that leaves signals to the demo (two servers share one process)."""
    import uvicorn

    class Quiet(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Quiet(config)


async def _run(settings: Settings, page_port: int, seconds_per_minute: float) -> None:
    import uvicorn

    from service.api.ws_protocol import SocketProtocol
    from service.app import create_app
    from service.embed.demo_host import Crowd, Match, host_app
    from service.identity import mint_token

    app = create_app(settings)
    host = settings.server.host
    service_url = f"http://{host}:{settings.server.port}"
    page_url = f"http://{host}:{page_port}"
    match = Match()

    def mint(user_id: str, name: str, role: str) -> str:
        return mint_token(
            settings.auth.hs256_secret, user_id=user_id, context_id=ROOM, role=role, name=name,
            ttl_seconds=settings.auth.dev_token_ttl_seconds, audience=settings.auth.audience,
            issuer=settings.auth.issuer,
        )  # fmt: skip

    page = host_app(f"{service_url}/embed?room={ROOM}", match, mint)
    common: dict[str, Any] = dict(host=host, log_config=None, access_log=False, lifespan="on")
    service = _quiet_server(uvicorn.Config(
        app, port=settings.server.port, ws=SocketProtocol, ws_max_size=settings.realtime.max_frame_bytes,
        ws_per_message_deflate=False, **common,
    ))  # fmt: skip
    site = _quiet_server(uvicorn.Config(page, port=page_port, **common))
    servers = [service, site]
    loop = asyncio.get_running_loop()
    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_all)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    while not getattr(app.state, "ready", False):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    bots: asyncio.Task[None] | None = None
    if app.state.ready:
        crowd = Crowd(app.state.community, ROOM, match, seconds_per_minute=seconds_per_minute,
                      tap=app.state.hub.crowd_tap)  # fmt: skip
        bots = asyncio.create_task(crowd.run())
        print(f"Sideline demo: open {page_url}/  (chat service on {service_url})", flush=True)
        reports = asyncio.create_task(_report(app, settings))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for s in servers:
        s.should_exit = True
    if bots is not None:
        reports.cancel()
        bots.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bots
    await asyncio.gather(*tasks, return_exceptions=True)


async def _report(app: Any, settings: Settings) -> None:
    """Once the seeded history is exported: run the jobs and print the dashboards' URLs."""
    from service.commands.demo_data import export_and_report

    for line in await export_and_report(app, settings):
        print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    from service.commands.demo_data import seed_if_empty

    configure_logging()
    settings, page_port = demo_settings(args)
    for line in ensure_dev_secrets(settings):
        print(line, flush=True)
    print(f"demo data in {settings.data_dir}", flush=True)
    if (seeded := seed_if_empty(settings)) is not None:
        print(seeded, flush=True)
    asyncio.run(_run(settings, page_port, args.seconds_per_minute))
    return 0
