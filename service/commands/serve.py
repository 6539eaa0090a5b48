"""``sideline serve``: run one node under uvicorn on embedded defaults."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from service.logs import configure_logging
from service.settings import ConfigError, Settings, ensure_dev_secrets, load_settings


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the service (uvicorn, embedded defaults)")
    p.add_argument("--host", help="interface to bind (server.host)")
    p.add_argument("--port", type=int, help="TCP port (server.port)")
    p.add_argument("--node-id", help="this node's id (node_id)")
    p.add_argument("--data-dir", help="where data lives (data_dir)")
    p.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from the config file, env and the flags that were given; exits on bad config."""
    overrides: dict[str, Any] = {}
    server: dict[str, Any] = {}
    if getattr(args, "host", None):
        server["host"] = args.host
    if getattr(args, "port", None):
        server["port"] = args.port
    if server:
        overrides["server"] = server
    if getattr(args, "node_id", None):
        overrides["node_id"] = args.node_id
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = args.data_dir
    try:
        return load_settings(getattr(args, "config", None), **overrides)
    except ConfigError as exc:
        print(f"sideline: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def serve(settings: Settings) -> int:
    """Run uvicorn with the app for ``settings`` until SIGINT/SIGTERM; flushes the log on exit."""
    import uvicorn

    from service.api.ws_protocol import SocketProtocol
    from service.app import create_app

    for line in ensure_dev_secrets(settings):
        print(line, flush=True)
    try:
        app = create_app(settings)
    except ConfigError as exc:  # e.g. a configured sink whose secret is not in the environment
        print(f"sideline: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        ws=SocketProtocol,
        ws_max_size=settings.realtime.max_frame_bytes,
        ws_per_message_deflate=False,  # small chat frames: compression doubles fan-out CPU
        access_log=False,  # our own access log never prints query strings or headers
        timeout_graceful_shutdown=math.ceil(settings.server.graceful_timeout_seconds),
        log_config=None,
        lifespan="on",
    )
    print(f"sideline {settings.node_id} serving on {settings.public_url}", flush=True)
    uvicorn.Server(config).run()
    return 0


def run(args: argparse.Namespace) -> int:
    configure_logging()
    return serve(settings_from_args(args))
