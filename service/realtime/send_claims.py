"""Which node sends a (user, room, client message id): a send's idempotency across nodes.

On one node the in-flight map (``Community.inflight``) and the state's ``client_ids`` answer a
retry with the first attempt's message. With many nodes both are per node: a retry through
node B while the first attempt is still in flight on node A (AI moderation, a slow commit), or
after A committed but before A's envelope reached B, found neither and B wrote a second
message. So before a new send is written its node claims the key in Redis::

    SET <prefix>:send:<sha256 of the key> "<node>|pending" NX PX <pending ttl>

(a script, which also takes over this node's own leftover claim, below), and when the message is committed the value becomes the send's answer (the message as JSON), kept
``sent_seconds`` (``realtime.send_claim_seconds``, 10 minutes by default). A send that is
refused (moderation, slow mode, a mute, the log ...) releases its claim, so a retry is judged
afresh. A node that finds the key held by another node writes nothing: it waits until its own
state has that message (the other node's envelope arrives, or is read back after a loss) and
answers it as a local retry; if the claim goes away meanwhile it claims the key itself and
sends. After ``wait_seconds`` it answers with the sent message the claim recorded (its
envelope was lost for good: the node will never have it), or, while the other node's send is
still in flight, refuses with ``send_in_flight`` (503, retry). The logic is in
``service.actions.messages``; this module is the claim's storage.

A pending claim of this node that its in-flight map does not know is a leftover (a release
that failed, or a previous process of the node): taken over. A pending claim expires after
twice ``wait_seconds``, so a node that dies half-way through a send holds its key no longer.

Redis down must not stop chat: a claim Redis does not answer is skipped (the send goes ahead
unclaimed, as on one node), logged when it starts and stops happening, and counted in
``sideline_send_claims_skipped_total``.

One node (memory broker) has nothing to share: it has no claims (``Community.claims`` is
None), and its send path awaits nothing more.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from service.realtime.background import Background
from service.realtime.redis_client import DELETE_IF_HELD, ClaimOutage, Unanswered, as_text, connect
from service.settings import Settings

log = logging.getLogger(__name__)

SendKey = tuple[str, str, str]
"""(user, room, client message id): what a send is idempotent by."""

WAIT_MARGIN_SECONDS = 2.0
"""Added to the longest a send takes elsewhere (see :func:`wait_seconds`)."""

_PENDING_SUFFIX = "|pending"

# Take the key unless another holds it: nil when taken, else what holds it.
_TAKE = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
    return held
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# Replace this node's pending claim (ARGV[1]) by the message id; nothing if it is not ours.
_SEAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
    return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """What claiming a key found: this node took it, the claim was skipped (no Redis), or
    another holds it (``holder``)."""

    taken: bool = False
    """This node holds the key: :meth:`RedisClaims.seal` or :meth:`RedisClaims.release` it."""
    holder: str | None = None
    """Another's hold: ``<node>|pending`` while its send is in flight, then the send's answer
    (the message as JSON; a bare message id when sealed by an older version)."""

    @property
    def sent(self) -> str | None:
        """The sent message's answer (JSON) another node recorded, or None (still in flight, or
        recorded by an older version as an id only)."""
        if self.holder is None or not self.holder.startswith("{"):
            return None
        return self.holder

    @property
    def pending_on(self) -> str | None:
        """The node whose send is in flight, or None when ``holder`` is a sent message's id."""
        if self.holder is None or not self.holder.endswith(_PENDING_SUFFIX):
            return None
        return self.holder[: -len(_PENDING_SUFFIX)]


def wait_seconds(settings: Settings) -> float:
    """The longest a retry waits for a send held by another node: what that send may take (its
    AI moderation call), then what its envelope may take to get here (read back after a
    subscription gone silent is noticed, ``realtime.redis_timeout_seconds``), and a margin."""
    m = settings.moderation
    provider = m.provider.timeout_seconds if m.enabled and m.provider.enabled else 0.0
    return provider + settings.realtime.redis_timeout_seconds + WAIT_MARGIN_SECONDS


class RedisClaims:
    """Claims as keys ``<prefix>:send:<sha256>`` in the Redis the nodes share."""

    outage = ClaimOutage(
        log, "sending without a cross-node claim (a retry through another node may write a "
        "second message meanwhile; counted in sideline_send_claims_skipped_total)",
        "sends are claimed across nodes again: Redis answers",
    )  # fmt: skip
    """Sends that went ahead unclaimed because Redis did not answer (``outage.skipped``)."""

    def __init__(
        self, url: str, node_id: str, *, prefix: str = "sideline", wait_seconds: float = 10.0,
        sent_seconds: float = 600.0, timeout_seconds: float = 5.0,
    ) -> None:  # fmt: skip
        self._redis = connect(url, timeout_seconds)
        self._prefix = prefix
        self._mine = node_id + _PENDING_SUFFIX
        self.wait_seconds = wait_seconds
        """How long a retry waits for a send another node holds before refusing (503)."""
        self._pending_ms = int(2 * wait_seconds * 1000)
        self._sent_ms = int(sent_seconds * 1000)
        self._take = self._redis.register_script(_TAKE)
        self._seal = self._redis.register_script(_SEAL)
        self._release = self._redis.register_script(DELETE_IF_HELD)
        self._sealing = Background()

    def _key(self, key: SendKey) -> str:
        digest = hashlib.sha256("\x1f".join(key).encode()).hexdigest()
        return f"{self._prefix}:send:{digest}"

    async def take(self, key: SendKey) -> Claim:
        """Claim ``key`` for this node (taken, skipped when Redis does not answer), or say
        what holds it."""
        try:
            held = await self.outage.ask(
                self._take(keys=[self._key(key)], args=[self._mine, self._pending_ms])
            )
        except Unanswered:
            return Claim()
        if held is None:
            return Claim(taken=True)
        return Claim(holder=as_text(held))

    async def release(self, key: SendKey, claim: Claim) -> None:
        """Give up a taken claim: the send was refused, a retry is judged afresh."""
        if not claim.taken:
            return
        try:
            await self._release(keys=[self._key(key)], args=[self._mine])
        except (RedisError, OSError) as exc:  # it expires; a retry here takes it over
            log.warning("could not release the claim of a refused send: %s", exc)

    def seal(self, key: SendKey, claim: Claim, message_id: str, answer: bytes) -> None:
        """Record that ``key`` was sent as ``message_id``, answered with ``answer`` (the message
        as JSON), for ``sent_seconds``; returns at once."""
        if not claim.taken:
            return
        self._sealing.start(self._sealed(self._key(key), message_id, answer))

    async def _sealed(self, name: str, message_id: str, answer: bytes) -> None:
        try:
            await self._seal(keys=[name], args=[self._mine, answer, self._sent_ms])
        except (RedisError, OSError) as exc:  # the pending claim expires: retries elsewhere
            log.warning("could not record message %s as sent in its claim: %s", message_id, exc)

    async def close(self) -> None:
        await self._sealing.drain()
        await self._redis.aclose()
