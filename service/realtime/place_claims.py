"""A user's place in a poll's votes or a message's reporters, claimed across nodes: the storage.

With many nodes each node judges "has this user done it already?" from its own state, which
holds another node's events only once their envelopes arrived (and after a restart only what
the recent stream still holds). For what a user does once per object (a vote in a poll, a
report of a message) the node first claims the user's place in one Redis hash per object::

    <prefix>:<kind>:<object id>   user id -> "<node>|pending|<deadline ms>", then a value

(a script: a pending claim of another node past its deadline, one that died half-way, is
taken over, as is a pending claim of this node, which the caller's reserved keys know is not
in flight here: a leftover). An action refused after its claim (the log failed) releases it;
one that is written seals it with its value (the option voted; ``reported``). A node that
finds the user's place held refuses the action as a second one. A hash marked ``#closed``
takes no place any more (a closed poll). The hash expires ``kept_seconds`` after its last
claim.

Redis down must not stop chat: a claim Redis does not answer is skipped (the action is judged
by the node's state alone, as on one node), logged when it starts and stops happening, and
counted per kind (the subclass's ``outage``): :class:`service.realtime.vote_claims.RedisVotes`
and :class:`service.realtime.report_claims.RedisReports`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from redis.exceptions import RedisError

from service.realtime.background import Background
from service.realtime.redis_client import ClaimOutage, Unanswered, as_text, connect

log = logging.getLogger(__name__)

PENDING = "|pending|"

CLOSED = "#closed"
"""What holds every place of an object closed to new ones (a closed poll)."""

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

# Replace this node's pending claim of the place by the value; nothing if it is not ours.
_SEAL = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    return 1
end
return 0
"""

# Give up this node's pending claim of the place; nothing if it is not ours.
_RELEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class PlaceClaim:
    """What claiming a user's place found: this node took it, the claim was skipped (no
    Redis), or another holds it (``holder``)."""

    taken: bool = False
    holder: str | None = None
    """Another's hold: ``<node>|pending|<deadline>`` while its action is written, then its
    value (or :data:`CLOSED`)."""

    @property
    def pending_on(self) -> str | None:
        """The node whose action is being written, or None when ``holder`` is a value."""
        if self.holder is None or PENDING not in self.holder:
            return None
        return self.holder.split(PENDING, 1)[0]


class RedisPlaces:
    """Places as fields of ``<prefix>:<kind>:<object id>`` in the Redis the nodes share."""

    kind: ClassVar[str]
    """The objects' name in the key (``votes``, ``reports``)."""
    outage: ClassVar[ClaimOutage]
    """Actions judged unclaimed because Redis did not answer (``outage.skipped``)."""

    def __init__(
        self, url: str, node_id: str, *, prefix: str = "sideline", pending_seconds: float = 10.0,
        kept_seconds: float = 2_592_000.0, timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._prefix = prefix
        self._node = node_id
        self._mine = node_id + PENDING
        self._pending_ms = int(pending_seconds * 1000)
        self._kept_ms = int(kept_seconds * 1000)
        self._take = self._redis.register_script(_TAKE)
        self._seal = self._redis.register_script(_SEAL)
        self._release = self._redis.register_script(_RELEASE)
        self.pending_seconds = pending_seconds
        self._background = Background()

    def _key(self, object_id: str) -> str:
        return f"{self._prefix}:{self.kind}:{object_id}"

    async def take(self, object_id: str, user_id: str) -> PlaceClaim:
        """Claim ``user_id``'s place for this node (taken, or skipped when Redis does not
        answer), or say what holds it."""
        try:
            held = await self.outage.ask(self._take(
                keys=[self._key(object_id)], args=[user_id, self._mine, self._pending_ms, self._kept_ms]
            ))  # fmt: skip
        except Unanswered:
            return PlaceClaim()
        if held is None:
            return PlaceClaim(taken=True)
        return PlaceClaim(holder=as_text(held))

    async def release(self, object_id: str, user_id: str, claim: PlaceClaim) -> None:
        """Give up a taken claim: the action was not written."""
        if not claim.taken:
            return
        try:
            await self._release(keys=[self._key(object_id)], args=[user_id, self._mine])
        except (RedisError, OSError) as exc:  # it runs out; a retry here takes it over
            log.warning("could not release the %s claim of an action not written: %s", self.kind, exc)

    def seal(self, object_id: str, user_id: str, claim: PlaceClaim, value: str | int) -> None:
        """Record the written action's ``value`` (the place stays taken); returns at once."""
        if claim.taken:
            self._background.start(self._sealed(object_id, user_id, str(value)))

    async def _sealed(self, object_id: str, user_id: str, value: str) -> None:
        try:
            await self._seal(keys=[self._key(object_id)], args=[user_id, self._mine, value])
        except (RedisError, OSError) as exc:  # the pending claim holds until its deadline
            log.warning("could not record a claim of %s %s as written: %s", self.kind, object_id, exc)

    async def places(self, object_id: str) -> dict[str, str] | None:
        """Every place held: user -> value or pending claim (without the closed mark); None
        when Redis does not answer."""
        try:
            found = await self.outage.ask(self._redis.hgetall(self._key(object_id)))
        except Unanswered:
            return None
        held = {as_text(k): as_text(v) for k, v in found.items()}
        held.pop(CLOSED, None)
        return held

    def drop(self, object_id: str) -> None:
        """Forget every place of the object (its count starts again); returns at once."""
        self._background.start(self._dropped(object_id))

    async def _dropped(self, object_id: str) -> None:
        try:
            await self._redis.delete(self._key(object_id))
        except (RedisError, OSError) as exc:  # it expires
            log.warning("could not drop the %s claims of %s: %s", self.kind, object_id, exc)

    async def close(self) -> None:
        await self._background.drain()
        await self._redis.aclose()
