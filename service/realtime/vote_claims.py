"""Who has voted in a poll, across nodes: one vote per user with many nodes too.

On one node the state's votes and the reserved keys (``Community.reserved``) refuse a second
vote. With many nodes both are per node: a vote through node B at the instant the same user's
vote through node A is committed, and a vote through a node that does not hold the first one
(it restarted after the recent stream lost it, or its envelope was lost and could not be read
back), were each written, and the nodes then counted different votes for the user. So before a
vote is written its node claims the user's place in the poll, in one Redis hash per poll::

    <prefix>:votes:<poll id>   user id -> "<node>|pending|<deadline ms>", then the option

(a script: a pending claim of another node past its deadline, one that died half-way, is
taken over, as is a pending claim of this node, which the reserved keys know is not in
flight here: a leftover). A vote that is refused after its claim (the log failed) releases
it. A node that finds the user's place held refuses the vote as a second one (409
``conflict``), as one node does. The hash expires ``vote_claim_seconds`` (30 days by default)
after the poll's last vote.

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
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from service.realtime.redis_client import ClaimOutage, Unanswered, as_text, connect

log = logging.getLogger(__name__)

_PENDING = "|pending|"

# Take the user's place (ARGV[1]) for this node (ARGV[2] = "<node>|pending|") until ARGV[3] ms
# from now, keeping the hash ARGV[4] ms: nil when taken, else what holds it.
_TAKE = """
if redis.call('HEXISTS', KEYS[1], '#closed') == 1 then
    return '#closed'
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) ~= ARGV[2] then
    local deadline = string.match(held, '|pending|(%d+)$')
    if not deadline or tonumber(deadline) > now then
        return held
    end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return false
"""

# Replace this node's pending claim of the place by the option; nothing if it is not ours.
_SEAL = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    return 1
end
return 0
"""

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

CLOSED = "#closed"
"""What holds every place of a closed poll."""

# Give up this node's pending claim of the place; nothing if it is not ours.
_RELEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class VoteClaim:
    """What claiming a user's place in a poll found: this node took it, the claim was skipped
    (no Redis), or another holds it (``holder``)."""

    taken: bool = False
    holder: str | None = None
    """Another's hold: ``<node>|pending|<deadline>`` while its vote is written, then the option."""

    @property
    def pending_on(self) -> str | None:
        """The node whose vote is being written, or None when ``holder`` is a recorded option."""
        if self.holder is None or _PENDING not in self.holder:
            return None
        return self.holder.split(_PENDING, 1)[0]


class RedisVotes:
    """Votes as fields of ``<prefix>:votes:<poll id>`` in the Redis the nodes share."""

    outage = ClaimOutage(
        log, "voting without a cross-node claim (a vote through another node may be written "
        "as a second one meanwhile; counted in sideline_vote_claims_skipped_total)",
        "votes are claimed across nodes again: Redis answers",
    )  # fmt: skip
    """Votes written unclaimed because Redis did not answer (``outage.skipped``)."""

    def __init__(
        self, url: str, node_id: str, *, prefix: str = "sideline", pending_seconds: float = 10.0,
        kept_seconds: float = 2_592_000.0, timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._prefix = prefix
        self._mine = node_id + _PENDING
        self._pending_ms = int(pending_seconds * 1000)
        self._kept_ms = int(kept_seconds * 1000)
        self._take = self._redis.register_script(_TAKE)
        self._seal = self._redis.register_script(_SEAL)
        self._release = self._redis.register_script(_RELEASE)
        self._close = self._redis.register_script(_CLOSE)
        self._shut = self._redis.register_script(_SHUT)
        self._node = node_id
        self.pending_seconds = pending_seconds
        self._background: set[asyncio.Task[None]] = set()

    def _key(self, poll_id: str) -> str:
        return f"{self._prefix}:votes:{poll_id}"

    async def take(self, poll_id: str, user_id: str) -> VoteClaim:
        """Claim ``user_id``'s place in the poll for this node (taken, or skipped when Redis
        does not answer), or say what holds it."""
        try:
            held = await self.outage.ask(self._take(
                keys=[self._key(poll_id)], args=[user_id, self._mine, self._pending_ms, self._kept_ms]
            ))  # fmt: skip
        except Unanswered:
            return VoteClaim()
        if held is None:
            return VoteClaim(taken=True)
        return VoteClaim(holder=as_text(held))

    async def release(self, poll_id: str, user_id: str, claim: VoteClaim) -> None:
        """Give up a taken claim: the vote was not written."""
        if not claim.taken:
            return
        try:
            await self._release(keys=[self._key(poll_id)], args=[user_id, self._mine])
        except (RedisError, OSError) as exc:  # it runs out; a retry here takes it over
            log.warning("could not release the claim of a vote that was not written: %s", exc)

    def seal(self, poll_id: str, user_id: str, claim: VoteClaim, option: int) -> None:
        """Record that the user voted ``option`` (the place stays taken); returns at once."""
        if claim.taken:
            self._later(self._sealed(poll_id, user_id, option))

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
                if not any(_PENDING in v for v in held.values()) or time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
        except (RedisError, OSError) as exc:
            log.warning("closing poll %s without the votes other nodes are writing: %s", poll_id, exc)
            return None
        return {user: int(v) for user, v in held.items() if user != CLOSED and v.isdigit()}

    def forget(self, poll_id: str) -> None:
        """Keep only the poll's closed mark: its places are no longer needed. Returns at once."""
        self._later(self._forgotten(poll_id))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _sealed(self, poll_id: str, user_id: str, option: int) -> None:
        try:
            await self._seal(keys=[self._key(poll_id)], args=[user_id, self._mine, str(option)])
        except (RedisError, OSError) as exc:  # the pending claim holds until its deadline
            log.warning("could not record a vote in poll %s as written: %s", poll_id, exc)

    async def _forgotten(self, poll_id: str) -> None:
        try:
            await self._shut(keys=[self._key(poll_id)], args=[self._node, self._kept_ms])
        except (RedisError, OSError) as exc:  # it expires
            log.warning("could not drop the vote claims of closed poll %s: %s", poll_id, exc)

    async def close(self) -> None:
        if self._background:
            await asyncio.wait(self._background, timeout=5)
        await self._redis.aclose()
