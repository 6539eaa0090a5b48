"""The one composition root: ``create_app(settings)`` picks every concrete backend.

Nothing happens at import time. The lifespan opens the log, rebuilds the projections from it,
starts the background parts (real-time hub, forwarder, scheduler), and on shutdown stops
taking work, flushes the writer and closes the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from dashboards.api import DashboardController
from service import __version__
from service.actions.context import Community
from service.actions.policies import restore_policies
from service.api.admin import AdminController
from service.api.body import StrictRequest
from service.api.chat import ChatController
from service.api.cors import preflight_refusal_middleware
from service.api.errors import handle_http_exception, handle_sideline_error, handle_unexpected
from service.api.moderation import ModeratorController
from service.api.openapi import StrictStructSchemaPlugin, describe_answers, name_served_kinds
from service.api.ops import health, metrics, ready
from service.api.options import options_allow_middleware
from service.api.schema_page import RENDER_PLUGINS, SECURITY, schema_router
from service.api.sinks import SinksController
from service.api.websocket import expose_raw_send, realtime_socket
from service.domain.state import CommunityState
from service.embed import embed_routes
from service.errors import SidelineError
from service.eventlog import checkpoint
from service.eventlog.duckdb_log import DuckDBLog
from service.eventlog.running_checkpoints import RunningCheckpoints
from service.identity import TokenVerifier
from service.logs import printable
from service.metrics import Metrics
from service.realtime.brokers.base import Broker
from service.realtime.brokers.memory import MemoryBroker
from service.realtime.brokers.redis import RedisBroker
from service.realtime.hub import Hub
from service.realtime.metrics import HubCollector
from service.realtime.place_claims import RedisPlaces
from service.realtime.presence.base import PresenceStore
from service.realtime.presence.memory import MemoryPresence
from service.realtime.presence.redis import RedisPresence
from service.realtime.reaction_claims import RedisReactions
from service.realtime.report_claims import RedisReports
from service.realtime.send_claims import WAIT_MARGIN_SECONDS, RedisClaims, wait_seconds
from service.realtime.slow_claims import RedisSlowMode
from service.realtime.standing import LocalStanding, RedisStanding, Standing
from service.realtime.vote_claims import RedisVotes
from service.settings import Settings
from service.sinks.factory import build_forwarder

log = logging.getLogger(__name__)


def build_community(settings: Settings) -> Community:
    """The log, the projections and the moderation pipeline for ``settings``."""
    event_log = DuckDBLog(settings.log_path, node_id=settings.node_id, batch_max=settings.log.batch_max)
    policies = {kind: _room_settings(p) for kind, p in settings.rooms.items()}
    history = {kind: p.history_size for kind, p in settings.rooms.items()}
    state = CommunityState(
        policies, history_size=history, history_budget=settings.memory.history_messages,
        message_index_size=settings.memory.message_index_size,
    )  # fmt: skip
    pipeline = None
    if settings.moderation.enabled:
        from service.moderation import Pipeline, build_provider

        pipeline = Pipeline(
            settings.moderation,
            provider=build_provider(settings.moderation.provider),
            host_domains=settings.host_domains,
        )
    return Community(settings=settings, log=event_log, state=state, moderation=pipeline)


def _room_settings(policy: Any) -> Any:
    from service.domain.rooms import RoomSettings

    return RoomSettings(
        mode=policy.mode,
        slow_mode_seconds=policy.slow_mode_seconds,
        max_message_length=policy.max_message_length,
    )


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    """One line per request: method, path (escaped: :func:`printable`), status, milliseconds.
    Never the query string or headers, so tokens and keys cannot reach the logs.

    It wraps the whole app (:func:`create_app`), not the routes, so requests no route answers
    (404, 405) are logged and counted too, under the route label ``unmatched``."""
    access = logging.getLogger("service.access")

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            elapsed = time.perf_counter() - started
            path = printable(scope["path"])
            access.info("%s %s %d %.1fms", printable(method), path, status, elapsed * 1000)
            metrics_obj: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics_obj is not None:
                route = scope.get("path_template") or "unmatched"
                metrics_obj.requests.labels(method, route, str(status)).inc()
                metrics_obj.request_seconds.labels(route).observe(elapsed)

    return middleware


def create_app(settings: Settings, *, community: Community | None = None) -> Litestar:
    """Build the ASGI app for ``settings`` (secrets must already be filled in)."""
    community = community or build_community(settings)
    verifier = TokenVerifier(settings.auth)
    metrics_obj = Metrics()
    metrics_obj.watch_log(community.log)
    metrics_obj.watch_state(community.state)
    community.verdicts = metrics_obj.moderation.observe

    checkpoint_path = checkpoint.path_for(settings.log_path) if settings.log.checkpoint else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await community.log.start()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        how = await loop.run_in_executor(
            None, checkpoint.rebuild, community.state, community.log, checkpoint_path
        )
        restore_policies(community)
        log.info(
            "projections rebuilt to seq %d in %.2fs from %s",
            community.log.last_seq, time.perf_counter() - started, how,
        )  # fmt: skip
        parts = [p for p in getattr(app.state, "background", [])]
        for part in parts:
            await part.start()
        # The hub's start applied what other nodes decided: this node's own deletes, votes ...
        # of their messages and polls, folded before those existed here, apply now.
        if placed := community.state.place_unplaced():
            log.info("%d events of this log about other nodes' messages or polls applied after theirs", placed)
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            for part in reversed(parts):
                await part.stop()
            for claims in (
                community.claims, community.votes, community.slow, community.reaction_claims,
                community.reports,
            ):
                if claims is not None:
                    await claims.close()
            provider = getattr(community.moderation, "provider", None)
            if provider is not None:
                await provider.aclose()
            await community.log.close()
            log.info("event log flushed and closed at seq %d", community.log.last_seq)
            if checkpoint_path is not None:
                try:
                    done = await loop.run_in_executor(
                        None, checkpoint.write, checkpoint_path, community.state, community.log
                    )
                except OSError as exc:  # the log is whole: the next start folds all of it
                    log.error("state checkpoint not written to %s: %s", checkpoint_path, exc)
                else:
                    log.info("%s", done)

    cors = CORSConfig(allow_origins=settings.server.allowed_origins, allow_headers=["*"])
    app = Litestar(
        route_handlers=[
            ChatController,
            ModeratorController,
            AdminController,
            SinksController,
            DashboardController,
            realtime_socket,
            *embed_routes(),
            health,
            ready,
            metrics,
        ],
        lifespan=[lifespan],
        exception_handlers={
            SidelineError: handle_sideline_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        middleware=[options_allow_middleware],
        request_class=StrictRequest,  # JSON bodies decode strictly (service/api/body.py)
        cors_config=cors,
        openapi_config=OpenAPIConfig(
            title="Sideline",
            version=__version__,
            path="/schema",
            openapi_router=schema_router(),  # a policy on every page, which loads nothing
            render_plugins=RENDER_PLUGINS,  # from elsewhere (service/api/schema_page.py)
            components=SECURITY,
            description="Chat rooms, reactions, polls and moderation for a host product.",
        ),
        plugins=[StrictStructSchemaPlugin()],  # before Litestar's own reading of structs
        request_max_body_size=settings.server.max_body_bytes,
        logging_config=None,  # libraries never configure logging; `sideline serve` does
        debug=False,
    )
    name_served_kinds(app.openapi_schema, settings.rooms)  # builds the document once, now
    describe_answers(app.openapi_schema)
    app.asgi_handler = preflight_refusal_middleware(app.asgi_handler, cors)  # the error body, not text
    # Around routing, CORS and the error handlers: app middleware only sees matched routes.
    app.asgi_handler = access_log_middleware(app.asgi_handler)
    app.state.community = community
    app.state.verifier = verifier
    app.state.admin_key = settings.admin.api_key
    app.state.settings = settings
    app.state.metrics = metrics_obj
    app.state.metrics_registry = metrics_obj.registry
    app.state.ready = False
    app.state.background = []
    if settings.crowd_control.enabled:
        from service.actions.crowd import CrowdControl

        crowd = CrowdControl(community, settings.crowd_control)
        community.notifiers.append(crowd)
        app.state.background.append(crowd)
    forwarder = build_forwarder(settings, community.log, registry=metrics_obj.registry)
    app.state.forwarder = forwarder
    community.commit_listeners.append(forwarder.notify)
    app.state.background.append(forwarder)
    if settings.analytics.schedule_enabled:
        from analytics.schedule import JobQueue, ScheduledJobs, build_scheduler

        queue = JobQueue(settings)
        jobs = ScheduledJobs(build_scheduler(settings, queue), queue)
        app.state.jobs = jobs
        app.state.background.append(jobs)
    if checkpoint_path is not None and settings.log.checkpoint_every_events and hasattr(os, "fork"):
        running = RunningCheckpoints(
            checkpoint_path, community.state, community.log, every=settings.log.checkpoint_every_events
        )
        community.commit_listeners.append(running.notify)
        app.state.background.append(running)
        app.state.checkpoints = running
        metrics_obj.watch_checkpoints(running)
    build_claims(settings, community)
    hub = build_hub(settings, community)
    community.notifiers.append(hub)
    app.state.background.append(hub)
    app.state.hub = hub
    metrics_obj.registry.register(HubCollector(hub))
    expose_raw_send(app)
    return app


P = TypeVar("P", bound=RedisPlaces)


def build_claims(settings: Settings, community: Community) -> None:
    """The cross-node claims of sends, votes, slow mode, reactions and reports: in Redis with
    the Redis broker; one node claims nothing (``community.claims``, ``votes``, ``slow``,
    ``reaction_claims`` and ``reports`` stay None).

    A vote's claim is pending while it is written (the log's commit: within a Redis timeout
    and a margin, twice over), then kept with the poll. A reaction change first waits up to a
    Redis timeout and a margin for this node to have the user's last change through another
    node (its envelope, read back after a loss is noticed), then is written as a vote is. A
    report's claim is a vote's, kept as long."""
    rt = settings.realtime
    if rt.broker != "redis":
        return
    url, node, prefix, timeout = rt.redis_url, settings.node_id, rt.redis_prefix, rt.redis_timeout_seconds
    community.claims = RedisClaims(
        url, node, prefix=prefix, wait_seconds=wait_seconds(settings),
        sent_seconds=rt.send_claim_seconds, timeout_seconds=timeout,
    )  # fmt: skip

    def places(kind: type[P]) -> P:  # a user's place in a poll or among a message's reporters
        return kind(
            url, node, prefix=prefix, pending_seconds=2 * (timeout + WAIT_MARGIN_SECONDS),
            kept_seconds=rt.vote_claim_seconds, timeout_seconds=timeout,
        )  # fmt: skip

    community.votes = places(RedisVotes)
    community.slow = RedisSlowMode(url, node, prefix=prefix, timeout_seconds=timeout)
    community.reaction_claims = RedisReactions(
        url, node, prefix=prefix, wait_seconds=timeout + WAIT_MARGIN_SECONDS,
        kept_seconds=rt.reaction_claim_seconds, timeout_seconds=timeout,
    )  # fmt: skip
    community.reports = places(RedisReports)


def build_hub(settings: Settings, community: Community) -> Hub:
    """The real-time hub with the broker and presence store that ``settings.realtime`` names."""
    rt = settings.realtime
    broker: Broker
    presence: PresenceStore
    standing: Standing
    if rt.broker == "redis":
        timeout = rt.redis_timeout_seconds
        broker = RedisBroker(rt.redis_url, prefix=rt.redis_prefix, timeout_seconds=timeout)
        presence = RedisPresence(
            rt.redis_url, settings.node_id, rt.presence_ttl_seconds, prefix=rt.redis_prefix,
            timeout_seconds=timeout,
        )  # fmt: skip
        standing = RedisStanding(
            rt.redis_url, prefix=rt.redis_prefix, recent_events=rt.redis_recent_events,
            timeout_seconds=timeout, log=community.log,
        )  # fmt: skip
    else:
        broker = MemoryBroker()
        presence = MemoryPresence(settings.node_id, rt.presence_ttl_seconds)
        standing = LocalStanding()
    return Hub(community, rt, broker, presence, standing)
