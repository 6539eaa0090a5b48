"""The one way this service connects to Redis: with timeouts from its settings.

A command on a connection that stopped carrying packets without being closed waits until its
socket timeout; without one it waits for TCP to give up, which takes many minutes, and a
publish stuck that way holds up every envelope behind it, this node's own sockets included.
redis-py 8 defaults to 5 s, earlier versions to none; this sets it from
``realtime.redis_timeout_seconds``, the same time after which a subscription that does not bring
back this node's own heartbeat is taken as silent (brokers/redis.py). A command that times out
fails like any Redis outage: each caller logs it and carries on (lost envelopes are noticed by
their numbers), and redis-py connects again for the next.
"""

from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str, timeout_seconds: float) -> Redis:
    return Redis.from_url(
        url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
    )
