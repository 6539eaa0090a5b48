"""Prometheus metrics of one node, on a registry owned by the app (no global state)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Tally
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from service.domain.state import CommunityState
from service.eventlog.duckdb_log import DuckDBLog
from service.eventlog.running_checkpoints import RunningCheckpoints


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
        self.moderation = ModerationStats()
        self.registry.register(self.moderation)

    def watch_log(self, log: DuckDBLog) -> None:
        self.registry.register(_LogCollector(log))

    def watch_checkpoints(self, checkpoints: RunningCheckpoints) -> None:
        self.registry.register(_CheckpointCollector(checkpoints))

    def watch_state(self, state: CommunityState) -> None:
        """The review queue, and how much recent history the node's memory holds."""
        self.registry.register(_ReviewCollector(state))
        self.registry.register(_HistoryCollector(state))


class _LogCollector(Collector):
    def __init__(self, log: DuckDBLog) -> None:
        self._log = log

    def collect(self):  # type: ignore[no-untyped-def]
        stats = self._log.stats
        yield GaugeMetricFamily("sideline_log_last_seq", "Highest committed seq", value=self._log.last_seq)
        # Counts since start only grow: counters (``..._total``), so rate() reads them right.
        yield CounterMetricFamily("sideline_log_batches", "Committed batches", value=stats.batches)
        yield CounterMetricFamily("sideline_log_events", "Committed events", value=stats.events)
        yield CounterMetricFamily(
            "sideline_log_failed_batches", "Failed commits", value=stats.failed_batches
        )
        recent = sorted(stats.commit_seconds[-1000:])
        if recent:
            yield GaugeMetricFamily(
                "sideline_log_commit_p99_seconds", "p99 commit time of recent batches",
                value=recent[int(len(recent) * 0.99) - 1 if len(recent) > 1 else 0],
            )  # fmt: skip


class _CheckpointCollector(Collector):
    def __init__(self, checkpoints: RunningCheckpoints) -> None:
        self._checkpoints = checkpoints

    def collect(self):  # type: ignore[no-untyped-def]
        c = self._checkpoints
        yield GaugeMetricFamily(
            "sideline_state_checkpoint_seq",
            "Seq of the newest state checkpoint a start would use (a node killed now folds the "
            "log's events after it: sideline_log_last_seq minus this)",
            value=c.checkpoint_seq,
        )
        yield CounterMetricFamily(
            "sideline_state_checkpoints_written", "State checkpoints written while running",
            value=c.written,
        )  # fmt: skip


class _ReviewCollector(Collector):
    def __init__(self, state: CommunityState) -> None:
        self._state = state

    def collect(self):  # type: ignore[no-untyped-def]
        state = self._state
        reported = sum(1 for _ in state.reported_awaiting())  # the queue's report entries
        family = GaugeMetricFamily(
            "sideline_review_queue_messages",
            "Messages awaiting a moderator's decision, by source (held by moderation or reported)",
            labels=["source"],
        )
        family.add_metric(["hold"], len(state.held))
        family.add_metric(["report"], reported)
        yield family


class _HistoryCollector(Collector):
    def __init__(self, state: CommunityState) -> None:
        self._state = state

    def collect(self):  # type: ignore[no-untyped-def]
        state = self._state
        yield GaugeMetricFamily(
            "sideline_history_messages",
            "Recent messages held in memory, all rooms (bounded by memory.history_messages)",
            value=state.history_held,
        )
        yield GaugeMetricFamily(
            "sideline_history_rooms", "Rooms whose recent messages are held in memory",
            value=len(state.history),
        )  # fmt: skip


_PIPELINE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0)


class ModerationStats(Collector):
    """What moderation did on this node, kept in plain dicts and turned into metrics only when
    scraped: counting a verdict costs a few dictionary updates (prometheus_client's labelled
    children, with their locks and per-bucket loops, cost ~20-40 µs per message here)."""

    def __init__(self) -> None:
        self.verdicts: Tally[str] = Tally()
        self.reasons: Tally[tuple[str, str]] = Tally()
        self.check_runs: Tally[str] = Tally()
        self.check_ms: dict[str, float] = {}
        self._buckets = [0] * (len(_PIPELINE_BUCKETS) + 1)
        self._total_ms = 0.0

    def observe(self, action: str, payload: Mapping[str, Any]) -> None:
        """Count one verdict: its action, its reasons and its checks' times."""
        self.verdicts[action] += 1
        for reason in payload.get("reasons", ()):
            self.reasons[(reason["check"], reason["code"])] += 1
        timings: Mapping[str, float] = payload.get("checks_ms", {})
        self.check_runs.update(timings.keys())
        check_ms = self.check_ms
        for check, ms in timings.items():
            check_ms[check] = check_ms.get(check, 0.0) + ms
        total = sum(timings.values())
        self._total_ms += total
        self._buckets[bisect_left(_PIPELINE_BUCKETS, total / 1000.0)] += 1

    def collect(self):  # type: ignore[no-untyped-def]
        verdicts = CounterMetricFamily(
            "sideline_moderation_verdicts", "Messages judged by moderation, by action",
            labels=["action"],
        )  # fmt: skip
        for action, n in sorted(self.verdicts.items()):
            verdicts.add_metric([action], n)
        yield verdicts
        reasons = CounterMetricFamily(
            "sideline_moderation_reasons",
            "Reasons moderation gave (several per message at times), by check and reason code",
            labels=["check", "code"],
        )
        for (check, code), n in sorted(self.reasons.items()):
            reasons.add_metric([check, code], n)
        yield reasons
        checks = SummaryMetricFamily(
            "sideline_moderation_check_seconds",
            "Time the moderation checks took: messages each check ran on, and their total time",
            labels=["check"],
        )
        for check, runs in sorted(self.check_runs.items()):
            checks.add_metric([check], count_value=runs, sum_value=self.check_ms[check] / 1000.0)
        yield checks
        cumulative, buckets = 0, []
        for bound, n in zip((*_PIPELINE_BUCKETS, float("inf")), self._buckets, strict=True):
            cumulative += n
            buckets.append((str(bound) if bound != float("inf") else "+Inf", cumulative))
        yield HistogramMetricFamily(
            "sideline_moderation_seconds", "Time the whole moderation pipeline took per message",
            buckets=buckets, sum_value=self._total_ms / 1000.0,
        )  # fmt: skip
