"""A user's reactions on a message, across nodes: each emoji once, and the cap, with many nodes too.

On one node the changes of one user on one message run one at a time against the node's
state (``Community.serially``), so a second add of an emoji writes nothing and concurrent adds
count each other against ``reactions.max_per_user_per_message``. With many nodes both are per
node: the same add through node A and node B at the same instant was written twice (analytics
counted two reactions where the room showed one), adds of different emoji through two nodes
passed the cap by one per extra node, and a change through a node that had not heard of the
user's last one yet (its envelope on its way, or lost) was applied before it there and after
it everywhere else, so the nodes went on showing different reactions. So before a reaction
change is judged its node claims the emoji in one Redis hash per user and message::

    <prefix>:reactions:<sha256 of message, user>   emoji -> "<node>|<claim>|pending|<deadline ms>",
                                                   then "on" or "off" once written

One hash per (message, user), not per message: the cap is per user and message, so the take
script reads that user's few fields and nothing else (a hash per message would have every
change of a popular message count through every reactor's fields, on one hot key), and each
hash lives as long as its user's changes on the message (``kept_seconds``,
``realtime.reaction_claim_seconds``, after the last one).

The take script, atomically: a pending claim of another node that is not past its deadline
means a change of that emoji is being written: the caller waits and claims again; a field
that already says what is asked ("on" for an add) is a change written through some node, and
nothing is taken; an add that would pass the cap is refused, counting the fields "on" and
those other nodes hold pending, and the emoji the caller's state has that Redis has no word
on; otherwise the field becomes this node's pending claim and the script answers what it said
before ("on", "off", or nothing known). A pending claim of this node is a leftover (a release
that failed, a previous process: a node runs one change of a user's message at a time) and is
taken over, as is another node's past its deadline (it died half-way); whether that change was
written is not known, so the caller's state decides it. A change that is written seals its
claim as "on"/"off"; one that is refused (the log failed) gives the field back what it said.
The logic (waiting until this node's state has the change Redis recorded before writing, so
every node applies the changes of an emoji in one order) is in ``service.actions.reactions``;
this module is the claim's storage.

Redis down must not stop reactions: a claim Redis does not answer is skipped (the change is
judged by this node's state alone, as on one node), logged when it starts and stops
happening, and counted in ``sideline_reaction_claims_skipped_total``.

One node (memory broker) has nothing to share: ``Community.reaction_claims`` is None.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from service.realtime.background import Background
from service.realtime.redis_client import ClaimOutage, Unanswered, as_text, connect

log = logging.getLogger(__name__)

ON = "on"
OFF = "off"

# Claim the emoji (ARGV[1]) for this node (ARGV[2] = "<node>|", ARGV[3] = "<node>|<claim>|")
# for ARGV[4] ms, keeping the hash ARGV[5] ms. ARGV[6] is "1" for an add, ARGV[7] the cap,
# ARGV[8..] the emoji the caller's state has. Answers {outcome, detail}: {'busy', holder},
# {'same', 'on'|'off'}, {'full', emoji joined by US}, {'taken', 'on'|'off'|''}.
_TAKE = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local function live(value)
    if string.sub(value, 1, string.len(ARGV[2])) == ARGV[2] then
        return false
    end
    local deadline = string.match(value, '|pending|(%d+)$')
    return deadline ~= nil and tonumber(deadline) > now
end
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and live(held) then
    return {'busy', held}
end
local add = ARGV[6] == '1'
if (add and held == 'on') or (not add and held == 'off') then
    return {'same', held}
end
if add then
    local has, known = {}, {}
    local fields = redis.call('HGETALL', KEYS[1])
    for i = 1, #fields, 2 do
        local emoji, value = fields[i], fields[i + 1]
        if emoji ~= ARGV[1] then
            if value == 'on' or live(value) then
                table.insert(has, emoji)
            end
            if value == 'on' or value == 'off' or live(value) then
                known[emoji] = true
            end
        end
    end
    for i = 8, #ARGV do
        if ARGV[i] ~= ARGV[1] and not known[ARGV[i]] then
            table.insert(has, ARGV[i])
            known[ARGV[i]] = true
        end
    end
    if #has >= tonumber(ARGV[7]) then
        return {'full', table.concat(has, '\\31')}
    end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3] .. 'pending|' .. (now + tonumber(ARGV[4])))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if held == 'on' or held == 'off' then
    return {'taken', held}
end
return {'taken', ''}
"""

# Record this claim's (ARGV[2]) change as ARGV[3] ("on"/"off"); nothing if it is not ours.
_SEAL = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[4])
    return 1
end
return 0
"""

# Give up this claim (ARGV[2]), giving the field back what it said (ARGV[3], '' for nothing);
# nothing if it is not ours.
_RELEASE = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held and string.sub(held, 1, string.len(ARGV[2])) == ARGV[2] then
    if ARGV[3] == '' then
        return redis.call('HDEL', KEYS[1], ARGV[1])
    end
    return redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 0
"""


@dataclass(frozen=True, slots=True)
class ReactionClaim:
    """What claiming a user's emoji on a message found. Taken by this node (``token``); or
    already as asked (``recorded`` only: nothing to write); or being changed through another
    node (``pending_on``); or past the cap (``full``); or skipped (nothing set: no Redis)."""

    token: str | None = None
    """``<node>|<claim>|``: this node holds the emoji; seal or release it."""
    recorded: bool | None = None
    """Whether the user has the emoji as Redis recorded it (the last change written through
    any node), or None when Redis has no word on it (never claimed, expired, taken over)."""
    pending_on: str | None = None
    """The node writing a change of the emoji: claim again once it is written."""
    full: tuple[str, ...] | None = None
    """The user's reactions on the message across nodes, when adding would pass the cap."""

    @property
    def taken(self) -> bool:
        return self.token is not None

    @property
    def skipped(self) -> bool:
        """Redis did not answer: the change is judged by this node's state alone."""
        return self == _SKIPPED


_SKIPPED = ReactionClaim()


class RedisReactions:
    """Reactions as fields of ``<prefix>:reactions:<sha256>`` in the Redis the nodes share."""

    outage = ClaimOutage(
        log, "reacting without a cross-node claim (the same reaction through another node may "
        "be written twice, or pass the cap, meanwhile; counted in "
        "sideline_reaction_claims_skipped_total)",
        "reactions are claimed across nodes again: Redis answers",
    )  # fmt: skip
    """Reaction changes judged without a claim because Redis did not answer (``outage.skipped``)."""

    def __init__(
        self, url: str, node_id: str, *, prefix: str = "sideline", wait_seconds: float = 7.0,
        kept_seconds: float = 86_400.0, timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._prefix = prefix
        self._node = node_id + "|"
        self.wait_seconds = wait_seconds
        """How long a change waits for this node's state to have the change Redis recorded
        (another node's envelope, read back after a loss is noticed) before going on without."""
        self.pending_seconds = 3 * wait_seconds
        """How long a claim stays pending: that wait, then the log's commit (twice it over)."""
        self._pending_ms = int(self.pending_seconds * 1000)
        self._kept_ms = int(kept_seconds * 1000)
        self._take = self._redis.register_script(_TAKE)
        self._seal = self._redis.register_script(_SEAL)
        self._release = self._redis.register_script(_RELEASE)
        self._background = Background()

    def _key(self, message_id: str, user_id: str) -> str:
        digest = hashlib.sha256(f"{message_id}\x1f{user_id}".encode()).hexdigest()
        return f"{self._prefix}:reactions:{digest}"

    async def take(
        self, message_id: str, user_id: str, emoji: str, *, add: bool, cap: int,
        mine: Sequence[str] = (),
    ) -> ReactionClaim:  # fmt: skip
        """Claim ``user_id``'s ``emoji`` on the message for this node, or say why not.

        ``mine`` is the emoji this node's state has for the user on the message: an add counts
        those Redis has no word on against ``cap`` with the ones it has."""
        token = f"{self._node}{uuid.uuid4().hex[:16]}|"
        args: list[str | int] = [emoji, self._node, token, self._pending_ms, self._kept_ms,
                                 "1" if add else "0", cap, *(mine if add else ())]  # fmt: skip
        try:
            answer = await self.outage.ask(
                self._take(keys=[self._key(message_id, user_id)], args=args)
            )
        except Unanswered:
            return _SKIPPED
        outcome, detail = as_text(answer[0]), as_text(answer[1])
        if outcome == "busy":
            return ReactionClaim(pending_on=detail.rsplit("|", 3)[0])
        if outcome == "full":
            return ReactionClaim(full=tuple(detail.split("\x1f")))
        recorded = None if detail == "" else detail == ON
        return ReactionClaim(token=token if outcome == "taken" else None, recorded=recorded)

    async def release(
        self, message_id: str, user_id: str, emoji: str, claim: ReactionClaim
    ) -> None:
        """Give up a taken claim, giving the field back what it said: the change was not written."""
        if claim.token is None:
            return
        before = "" if claim.recorded is None else ON if claim.recorded else OFF
        try:
            await self._release(
                keys=[self._key(message_id, user_id)], args=[emoji, claim.token, before]
            )
        except (RedisError, OSError) as exc:  # it runs out; a change after that takes it over
            log.warning("could not release the claim of a reaction change not written: %s", exc)

    def seal(
        self, message_id: str, user_id: str, emoji: str, claim: ReactionClaim, *, on: bool
    ) -> None:
        """Record that the user has (``on``) or has not the emoji now; returns at once."""
        if claim.token is not None:
            self._background.start(self._sealed(self._key(message_id, user_id), emoji, claim.token, on))

    async def _sealed(self, key: str, emoji: str, token: str, on: bool) -> None:
        try:
            await self._seal(keys=[key], args=[emoji, token, ON if on else OFF, self._kept_ms])
        except (RedisError, OSError) as exc:  # the pending claim holds until its deadline
            log.warning("could not record a reaction change as written: %s", exc)

    async def close(self) -> None:
        await self._background.drain()
        await self._redis.aclose()
