"""Prometheus metrics of the forwarder, registered on a registry the caller passes in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class SinkMetrics:
    """Counters and gauges per sink (label ``sink``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry when none is given, so tests and CLIs never touch the global one.
        reg = registry if registry is not None else CollectorRegistry()
        self.registry = reg
        self.delivered = Counter(
            "sideline_sink_events_delivered_total",
            "Events accepted by the sink",
            ["sink"],
            registry=reg,
        )
        self.dead_letters = Counter(
            "sideline_sink_dead_letters_total",
            "Events dead-lettered by the sink",
            ["sink"],
            registry=reg,
        )
        self.errors = Counter(
            "sideline_sink_errors_total",
            "Failed send attempts by kind",
            ["sink", "kind"],
            registry=reg,
        )
        self.adjustments = Counter(
            "sideline_sink_adjustments_total",
            "Changes made to fit vendor limits (truncations, dropped params), by reason",
            ["sink", "reason"], registry=reg,
        )  # fmt: skip
        self.cursor = Gauge(
            "sideline_sink_cursor_seq", "Last seq the sink has processed", ["sink"], registry=reg
        )
        self.lag = Gauge(
            "sideline_sink_lag_events", "Committed events not yet processed by the sink",
            ["sink"], registry=reg,
        )  # fmt: skip
        self.send_seconds = Histogram(
            "sideline_sink_send_seconds", "Duration of one successful send", ["sink"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=reg,
        )  # fmt: skip
