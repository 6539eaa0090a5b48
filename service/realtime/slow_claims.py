"""Slow mode across nodes: one message per user per interval in a room, whichever node posts it.

On one node the state's time of the user's last post and the reserved keys
(``Community.reserved``) refuse a second post inside the room's slow-mode interval. With many
nodes both are per node: posts of one user through two nodes at the same instant were both
written (each node's state had not heard of the other's yet), so a user with two connections,
or a client spreading requests over the nodes, could post once per node per interval. So a
post in slow mode also claims the user's slot in the room in Redis, for the interval::

    SET <prefix>:slow:<sha256 of room, user> <token> NX PX <interval>

A node that finds the slot held refuses the post with ``slow_mode`` (429) and the time the
slot has left as ``retry_after``. A post refused after its claim (moderation blocked it, the
log failed) frees the slot, as one node counts only messages it wrote. The logic is in
``service.actions.messages``; this module is the slot's storage.

Redis down must not stop chat: a claim Redis does not answer is skipped (the post is judged by
this node's state alone), logged when it starts and stops happening, and counted in
``sideline_slow_mode_claims_skipped_total``.

One node (memory broker) has nothing to share: ``Community.slow`` is None.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from redis.exceptions import RedisError

from service.realtime.redis_client import DELETE_IF_HELD, ClaimOutage, Unanswered, connect

log = logging.getLogger(__name__)

# Take the slot for ARGV[2] ms: -1 when taken, else the ms the holder's slot has left.
_TAKE = """
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
    return -1
end
return redis.call('PTTL', KEYS[1])
"""


@dataclass(frozen=True, slots=True)
class SlowSlot:
    """What claiming a slot found: taken by this post (``token``), skipped (no Redis), or held
    by another post for ``wait`` more seconds."""

    token: str | None = None
    wait: float | None = None


class RedisSlowMode:
    """Slots as keys ``<prefix>:slow:<sha256>`` in the Redis the nodes share."""

    outage = ClaimOutage(
        log, "slow mode without a cross-node slot (a user may post once per node per interval "
        "meanwhile; counted in sideline_slow_mode_claims_skipped_total)",
        "slow mode slots are claimed across nodes again: Redis answers",
    )  # fmt: skip
    """Posts judged without a cross-node slot because Redis did not answer (``outage.skipped``)."""

    def __init__(
        self, url: str, node_id: str, *, prefix: str = "sideline", timeout_seconds: float = 5.0
    ) -> None:
        self._redis = connect(url, timeout_seconds)
        self._prefix = prefix
        self._node = node_id
        self._take = self._redis.register_script(_TAKE)
        self._release = self._redis.register_script(DELETE_IF_HELD)

    def _key(self, room_id: str, user_id: str) -> str:
        digest = hashlib.sha256(f"{room_id}\x1f{user_id}".encode()).hexdigest()
        return f"{self._prefix}:slow:{digest}"

    async def take(self, room_id: str, user_id: str, seconds: float) -> SlowSlot:
        """Claim the user's slot in the room for ``seconds``, or say how long another post
        holds it."""
        token = f"{self._node}|{uuid.uuid4().hex}"
        try:
            left = await self.outage.ask(self._take(
                keys=[self._key(room_id, user_id)], args=[token, max(1, int(seconds * 1000))]
            ))  # fmt: skip
        except Unanswered:
            return SlowSlot()
        if int(left) == -1:
            return SlowSlot(token=token)
        return SlowSlot(wait=max(int(left), 0) / 1000)

    async def release(self, room_id: str, user_id: str, slot: SlowSlot) -> None:
        """Free a taken slot: the post was not written."""
        if slot.token is None:
            return
        try:
            await self._release(keys=[self._key(room_id, user_id)], args=[slot.token])
        except (RedisError, OSError) as exc:  # it runs out with the interval
            log.warning("could not free the slow-mode slot of a post that was not written: %s", exc)

    async def close(self) -> None:
        await self._redis.aclose()
