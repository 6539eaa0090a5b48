"""Prometheus view of the hub: fan-out volume, slow consumers, remote events, rooms."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.realtime.brokers.redis import PubSubBackend
from service.realtime.outbox import Outbox
from service.realtime.reaction_claims import RedisReactions
from service.realtime.report_claims import RedisReports
from service.realtime.send_claims import RedisClaims
from service.realtime.slow_claims import RedisSlowMode
from service.realtime.vote_claims import RedisVotes

if TYPE_CHECKING:
    from service.realtime.hub import Hub


class HubCollector(Collector):
    """Reads the hub's counters at scrape time (no work on the fan-out path)."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        hub, stats = self._hub, self._hub.stats
        yield CounterMetricFamily(
            "sideline_ws_deliveries", "Frames handed to local sockets by fan-out",
            value=stats.deliveries,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_envelopes", "Broker envelopes received", value=stats.envelopes
        )
        yield CounterMetricFamily(
            "sideline_ws_slow_consumers", "Sockets closed because they fell behind (4303)",
            value=stats.slow_consumers,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_remote_events", "Events of other nodes applied to this node's state",
            value=stats.remote_events,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_delivery_gaps",
            "Times envelopes were lost on their way to this node (a number skipped, a "
            "heartbeat naming a number not received, or the broker's subscription made "
            "again); each made the rooms' sockets resync",
            value=stats.delivery_gaps,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_delivery_gaps_unrecovered",
            "Gaps whose lost events the Redis recent stream may no longer have held (trimmed, "
            "or off): the rooms reloaded without them",
            value=stats.unrecovered_gaps,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_redis_publish_failures",
            "Envelopes Redis did not take (down, or no answer in realtime.redis_timeout_seconds)",
            value=PubSubBackend.lost,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_redis_silent_subscriptions",
            "Subscriptions that stopped bringing this node's own publishes back without closing,"
            " dropped and made again",
            value=PubSubBackend.silent,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_send_claims_skipped",
            "Sends written without a cross-node claim of their client_msg_id because Redis did "
            "not answer (a retry through another node may write a second message meanwhile)",
            value=RedisClaims.outage.skipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_vote_claims_skipped",
            "Votes written without a cross-node claim of the user's place in the poll because "
            "Redis did not answer (a vote through another node may be written as a second one)",
            value=RedisVotes.outage.skipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_slow_mode_claims_skipped",
            "Posts in slow mode judged without a cross-node slot because Redis did not answer "
            "(a user may post once per node per interval meanwhile)",
            value=RedisSlowMode.outage.skipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_reaction_claims_skipped",
            "Reaction changes judged without a cross-node claim because Redis did not answer "
            "(the same reaction through another node may be written twice, or pass the cap)",
            value=RedisReactions.outage.skipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_report_claims_skipped",
            "Reports judged without a cross-node claim because Redis did not answer (a user's "
            "report through another node may be written again, or the hiding threshold missed)",
            value=RedisReports.outage.skipped,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_suspended_sends", "Sends that waited for a full transport buffer",
            value=Outbox.suspended,
        )  # fmt: skip
        yield CounterMetricFamily(
            "sideline_ws_direct_writes", "Fan-out frames written straight to a socket's transport",
            value=Outbox.direct,
        )  # fmt: skip
        yield GaugeMetricFamily("sideline_ws_rooms", "Rooms with local sockets", value=len(hub.rooms))
        pending = max((c.outbox.pending for c in hub.connections), default=0)
        yield GaugeMetricFamily(
            "sideline_ws_outbox_max_pending", "Longest socket send queue right now", value=pending
        )
