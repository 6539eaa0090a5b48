"""Prometheus metrics of one node, on a registry owned by the app (no global state)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service.domain.state import CommunityState
from service.eventlog.duckdb_log import DuckDBLog


class Metrics:
    """The service's own metrics; sinks and realtime register theirs on ``registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sideline_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "sideline_http_request_seconds", "HTTP request latency", ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )  # fmt: skip
        self.sockets = Gauge("sideline_ws_connections", "Open WebSockets", registry=self.registry)
        self.verdicts = Counter(
            "sideline_moderation_verdicts", "Messages judged by moderation, by action", ["action"],
            registry=self.registry,
        )  # fmt: skip
        self.reasons = Counter(
            "sideline_moderation_reasons",
            "Reasons moderation gave (several per message at times), by check and reason code",
            ["check", "code"], registry=self.registry,
        )  # fmt: skip
        self.check_seconds = Histogram(
            "sideline_moderation_check_seconds", "Time one moderation check took on one message",
            ["check"], buckets=(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.05, 0.5, 2.0),
            registry=self.registry,
        )  # fmt: skip

    def watch_log(self, log: DuckDBLog) -> None:
        self.registry.register(_LogCollector(log))

    def watch_review_queue(self, state: CommunityState) -> None:
        self.registry.register(_ReviewCollector(state))

    def observe_verdict(self, action: str, payload: Mapping[str, Any]) -> None:
        """Count one moderation verdict (its action, reasons and check timings)."""
        self.verdicts.labels(action).inc()
        for reason in payload.get("reasons", ()):
            self.reasons.labels(reason["check"], reason["code"]).inc()
        for check, ms in payload.get("checks_ms", {}).items():
            self.check_seconds.labels(check).observe(ms / 1000.0)


class _LogCollector(Collector):
    def __init__(self, log: DuckDBLog) -> None:
        self._log = log

    def collect(self):  # type: ignore[no-untyped-def]
        stats = self._log.stats
        yield GaugeMetricFamily("sideline_log_last_seq", "Highest committed seq", value=self._log.last_seq)
        yield GaugeMetricFamily("sideline_log_batches", "Committed batches", value=stats.batches)
        yield GaugeMetricFamily("sideline_log_events", "Committed events", value=stats.events)
        yield GaugeMetricFamily("sideline_log_failed_batches", "Failed commits", value=stats.failed_batches)
        recent = sorted(stats.commit_seconds[-1000:])
        if recent:
            yield GaugeMetricFamily(
                "sideline_log_commit_p99_seconds", "p99 commit time of recent batches",
                value=recent[int(len(recent) * 0.99) - 1 if len(recent) > 1 else 0],
            )  # fmt: skip


class _ReviewCollector(Collector):
    def __init__(self, state: CommunityState) -> None:
        self._state = state

    def collect(self):  # type: ignore[no-untyped-def]
        state = self._state
        reported = sum(1 for m, users in state.reporters.items() if users and m not in state.held)
        family = GaugeMetricFamily(
            "sideline_review_queue_messages",
            "Messages awaiting a moderator's decision, by source (held by moderation or reported)",
            labels=["source"],
        )
        family.add_metric(["hold"], len(state.held))
        family.add_metric(["report"], reported)
        yield family
