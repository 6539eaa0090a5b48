"""The :class:`Community` every action works on: log, state, moderation, hub, clock."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from service.domain.events import Event, EventType, new_event, utcnow
from service.domain.state import CommunityState
from service.errors import ErrorCode, SidelineError
from service.eventlog.base import CommitFailed
from service.eventlog.duckdb_log import DuckDBLog, Extra
from service.eventlog.pages import LogPages
from service.realtime.reaction_claims import RedisReactions
from service.realtime.report_claims import RedisReports
from service.realtime.send_claims import RedisClaims
from service.realtime.slow_claims import RedisSlowMode
from service.realtime.vote_claims import RedisVotes
from service.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Notifier(Protocol):
    """Where committed events are published (the real-time hub); called only after commit."""

    def publish(self, events: Sequence[Event]) -> None: ...


class CommitListener(Protocol):
    def __call__(self, last_seq: int) -> None: ...


@dataclass
class Community:
    """Everything an action needs; built once by ``create_app``."""

    settings: Settings
    log: DuckDBLog
    state: CommunityState
    moderation: Any = None
    """The moderation pipeline (``service.moderation.Pipeline``) or None when disabled."""
    verdicts: Callable[[str, dict[str, Any]], None] | None = None
    """Told every moderation verdict, ``(action, payload)``: the moderation metrics."""
    notifiers: list[Notifier] = field(default_factory=list)
    commit_listeners: list[CommitListener] = field(default_factory=list)
    pages: LogPages = field(default_factory=LogPages)
    """History pages read from the log, each read once until its room's next commit."""
    clock: Callable[[], datetime] = utcnow
    inflight: dict[tuple[str, str, str], asyncio.Future[Any]] = field(default_factory=dict)
    """Sends in flight by (user, room, client message id): a concurrent retry awaits the first."""
    claims: RedisClaims | None = None
    """Where a send's (user, room, client message id) is claimed across nodes (Redis with many
    nodes, see ``service.realtime.send_claims``); None on one node, which claims nothing."""
    slow: RedisSlowMode | None = None
    """Where a post in slow mode claims the user's slot in the room across nodes (Redis with
    many nodes, see ``service.realtime.slow_claims``); None on one node."""
    votes: RedisVotes | None = None
    """Where a user's vote in a poll is claimed across nodes (Redis with many nodes, see
    ``service.realtime.vote_claims``); None on one node, which claims nothing."""
    reaction_claims: RedisReactions | None = None
    """Where a user's reaction change on a message is claimed across nodes (Redis with many
    nodes, see ``service.realtime.reaction_claims``); None on one node, which claims nothing."""
    reports: RedisReports | None = None
    """Where a user's report of a message is claimed across nodes, and the reporters counted
    (Redis with many nodes, see ``service.realtime.report_claims``); None on one node."""
    reserved: set[tuple[Any, ...]] = field(default_factory=set)
    """Keys reserved between a check and its commit (one vote, one reaction, ...)."""
    serials: dict[tuple[Any, ...], tuple[asyncio.Lock, int]] = field(default_factory=dict)
    """Locks of :meth:`serially` by key, with how many works hold or await each."""

    async def serially(self, key: tuple[Any, ...], work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` after every earlier work of the same ``key`` has ended.

        For a read-modify-write of one piece of state (a room's settings, a user's role in a
        room, the reporters of a message): each work reads what the previous one committed,
        so concurrent changes neither undo each other nor write the same change twice. The
        work runs as a task the caller's cancellation does not reach, so the next work never
        starts while a cancelled one is still committing.
        """
        lock, holders = self.serials.get(key, (asyncio.Lock(), 0))
        self.serials[key] = (lock, holders + 1)

        async def run() -> T:
            try:
                async with lock:
                    return await work()
            finally:
                _, left = self.serials[key]
                if left == 1:
                    del self.serials[key]
                else:
                    self.serials[key] = (lock, left - 1)

        return await asyncio.shield(asyncio.ensure_future(run()))

    @contextmanager
    def reserving(self, key: tuple[Any, ...]) -> Iterator[None]:
        """Hold ``key`` in :attr:`reserved` for the block: taken before its first await, so a
        concurrent second request sees it, and released however the block ends."""
        self.reserved.add(key)
        try:
            yield
        finally:
            self.reserved.discard(key)

    def now(self) -> datetime:
        return self.clock()

    async def commit(self, events: Sequence[Event], *, extra: Extra | None = None) -> list[Event]:
        """Append, apply to the state, then notify. Raises LOG_UNAVAILABLE when not committed.

        The work runs in a task the caller's cancellation does not reach: events the log
        commits always reach the projections and the subscribers, even when their sender was
        cancelled while waiting, and in seq order (the writer acknowledges a batch in seq order
        and these tasks resume in the order they are acknowledged).
        """
        return await asyncio.shield(self._commit(events, extra))

    async def _commit(self, events: Sequence[Event], extra: Extra | None) -> list[Event]:
        try:
            committed = await self.log.append(events, extra=extra)
        except CommitFailed as exc:
            raise SidelineError(
                ErrorCode.LOG_UNAVAILABLE,
                "the event could not be stored; nothing was written, retry later",
                retry_after=1.0,
            ) from exc
        self.state.apply_all(committed)
        self.pages.changed(committed)
        # The events are durable now: a subscriber that fails must not turn the sender's
        # success into an error (a retry would only find the same events) nor keep the
        # others from hearing of them.
        for notifier in self.notifiers:
            try:
                notifier.publish(committed)
            except Exception:
                logger.exception("events committed up to seq %d not published to %s",
                                 self.log.last_seq, type(notifier).__name__)  # fmt: skip
        for listener in self.commit_listeners:
            try:
                listener(self.log.last_seq)
            except Exception:
                logger.exception("commit listener %r failed at seq %d", listener, self.log.last_seq)
        return committed

    def holdout_group(self, user_id: str, context_id: str) -> str:
        """Deterministic assignment: the same unit always lands in the same group."""
        h = self.settings.holdout
        unit = user_id if h.unit == "user" else context_id
        digest = hashlib.sha256(f"{h.salt}:{unit}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") / 2**64
        return "holdout" if bucket < h.share else "exposed"

    async def ensure_exposure(self, user_id: str, room_id: str, context_id: str) -> None:
        """Record a unit's holdout group once (an event), and refuse held-out units."""
        h = self.settings.holdout
        if h.share <= 0:
            return
        unit = user_id if h.unit == "user" else context_id
        group = self.state.exposure.get(unit)
        if group is None:
            group = self.holdout_group(user_id, context_id)
            key = ("exposure", unit)
            if key not in self.reserved:
                with self.reserving(key):
                    await self.commit([
                        new_event(
                            EventType.EXPOSURE_ASSIGNED, user_id=user_id, room_id=room_id,
                            context_id=context_id, payload={"group": group, "unit": h.unit},
                        )
                    ])  # fmt: skip
        if group == "holdout":
            raise SidelineError(
                ErrorCode.HOLDOUT, "the community layer is not enabled for this user (holdout)"
            )
