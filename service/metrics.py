"""Prometheus metrics of one node, on a registry owned by the app (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

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

    def watch_log(self, log: DuckDBLog) -> None:
        self.registry.register(_LogCollector(log))


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
