"""Who has voted in a poll, across nodes: one vote per user with many nodes too.

On one node the state's votes and the reserved keys (``Community.reserved``) refuse a second
vote. With many nodes both are per node: a vote through node B at the instant the same user's
vote through node A is committed, and a vote through a node that does not hold the first one
(it restarted after the recent stream lost it, or its envelope was lost and could not be read
back), were each written, and the nodes then counted different votes for the user. So before a
vote is written its node claims the user's place in the poll, in one Redis hash per poll
(``service.realtime.place_claims``)::

    <prefix>:votes:<poll id>   user id -> "<node>|pending|<deadline ms>", then the option

A vote that is refused after its claim (the log failed) releases it. A node that finds the
user's place held refuses the vote as a second one (409 ``conflict``), as one node does. The
hash expires ``vote_claim_seconds`` (30 days by default) after the poll's last vote.

A close marks the hash ``#closed``: no node takes a place in it from then on, also before the
close's envelope reached that node. The closing node waits for the places other nodes hold
pending (their votes being written), counts every written vote in the results it records
(:meth:`RedisVotes.closing`), and then keeps only the mark. The logic is in
``service.actions.polls``; this module is the claim's storage.

Redis down must not stop voting: a claim Redis does not answer is skipped (the vote is written
unclaimed, as on one node), logged when it starts and stops happening, and counted in
``sideline_vote_claims_skipped_total``.

One node (memory broker) has nothing to share: ``Community.votes`` is None.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from service.realtime.place_claims import CLOSED, PENDING, PlaceClaim, RedisPlaces
from service.realtime.redis_client import ClaimOutage, as_text

log = logging.getLogger(__name__)

__all__ = ["CLOSED", "RedisVotes", "VoteClaim"]

VoteClaim = PlaceClaim
"""What claiming a user's place in a poll found; ``holder`` is the option once written."""

# Mark the poll closed: no place is taken from now on.
_CLOSE = """
redis.call('HSET', KEYS[1], '#closed', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# The poll is closed: keep only the mark, which refuses every later vote.
_SHUT = """
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '#closed', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisVotes(RedisPlaces):
    """Votes as fields of ``<prefix>:votes:<poll id>`` in the Redis the nodes share."""

    kind = "votes"
    outage = ClaimOutage(
        log, "voting without a cross-node claim (a vote through another node may be written "
        "as a second one meanwhile; counted in sideline_vote_claims_skipped_total)",
        "votes are claimed across nodes again: Redis answers",
    )  # fmt: skip

    @functools.cached_property
    def _close(self) -> AsyncScript:
        return self._redis.register_script(_CLOSE)

    @functools.cached_property
    def _shut(self) -> AsyncScript:
        return self._redis.register_script(_SHUT)

    async def closing(self, poll_id: str) -> dict[str, int] | None:
        """Close the poll to new votes through any node, wait for the votes other nodes are
        writing (at most ``pending_seconds``), and return every vote written with a claim:
        user -> option. None when Redis does not answer (the state's votes are all there is)."""
        deadline = time.monotonic() + self.pending_seconds
        try:
            await self._close(keys=[self._key(poll_id)], args=[self._node, self._kept_ms])
            while True:
                places = await self._redis.hgetall(self._key(poll_id))
                held = {as_text(k): as_text(v) for k, v in places.items()}
                if not any(PENDING in v for v in held.values()) or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
        except (RedisError, OSError) as exc:
            log.warning("closing poll %s without the votes other nodes are writing: %s", poll_id, exc)
            return None
        return {user: int(v) for user, v in held.items() if user != CLOSED and v.isdigit()}

    def forget(self, poll_id: str) -> None:
        """Keep only the poll's closed mark: its places are no longer needed. Returns at once."""
        self._background.start(self._forgotten(poll_id))

    async def _forgotten(self, poll_id: str) -> None:
        try:
            await self._shut(keys=[self._key(poll_id)], args=[self._node, self._kept_ms])
        except (RedisError, OSError) as exc:  # it expires
            log.warning("could not drop the vote claims of closed poll %s: %s", poll_id, exc)
