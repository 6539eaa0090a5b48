"""Coalescing: reaction counts, poll results and crowd bursts, at most once per interval per room.

A big moment produces thousands of reactions and votes a second; sending each to every
member would multiply them by the room size. Instead each change only marks the room dirty,
and the room is flushed on the leading edge (at once when it was quiet) and then at most once
per ``interval``: one ``reaction`` frame with the absolute counts of every message that changed
plus the crowd taps since the last flush, and one ``poll`` frame per poll that changed.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from service.actions.context import Community
from service.domain.records import Poll
from service.protocol import frames as f

K = TypeVar("K", bound=Hashable)


class Throttle(Generic[K]):
    """Calls ``flush(key)`` soon after ``mark(key)``, at most once per ``interval`` per key."""

    def __init__(self, interval: float, flush: Callable[[K], None]) -> None:
        self._interval = interval
        self._flush = flush
        self._last: dict[K, float] = {}
        self._scheduled: dict[K, asyncio.TimerHandle] = {}

    def mark(self, key: K) -> None:
        if key in self._scheduled:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        when = max(now, self._last.get(key, -self._interval) + self._interval)
        self._scheduled[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: K) -> None:
        self._scheduled.pop(key, None)
        self._last[key] = asyncio.get_running_loop().time()
        self._flush(key)

    def forget(self, key: K) -> None:
        """Drop a key's timing (its room has no local members any more)."""
        handle = self._scheduled.pop(key, None)
        if handle is not None:
            handle.cancel()
        self._last.pop(key, None)

    def cancel_all(self) -> None:
        for handle in self._scheduled.values():
            handle.cancel()
        self._scheduled.clear()


class Coalescer:
    """Per-room pending reaction and poll changes and crowd taps of this node's rooms."""

    def __init__(
        self, community: Community, interval: float, send: Callable[[str, list[str]], None]
    ) -> None:
        self._c = community
        self._send = send
        self._messages: dict[str, set[str]] = {}
        self._polls: dict[str, set[str]] = {}
        self._crowd: dict[str, Counter[str]] = {}
        self.throttle: Throttle[str] = Throttle(interval, self._flush)

    def reaction(self, room: str, message_id: str) -> None:
        self._messages.setdefault(room, set()).add(message_id)
        self.throttle.mark(room)

    def poll(self, room: str, poll_id: str) -> None:
        self._polls.setdefault(room, set()).add(poll_id)
        self.throttle.mark(room)

    def crowd(self, room: str, counts: dict[str, int]) -> None:
        self._crowd.setdefault(room, Counter()).update(counts)
        self.throttle.mark(room)

    def forget(self, room: str) -> None:
        self._messages.pop(room, None)
        self._polls.pop(room, None)
        self._crowd.pop(room, None)
        self.throttle.forget(room)

    def _flush(self, room: str) -> None:
        texts: list[str] = []
        state = self._c.state
        # The frame goes to the whole room: a message hidden from it (held, hidden by reports,
        # a shadow-banned author's) may still get reactions (a moderator's), which must not
        # tell the room it exists.
        message_ids = {
            mid for mid in self._messages.pop(room, ())
            if (ref := state.messages.get(mid)) is None or ref.visible_to(None)
        }  # fmt: skip
        crowd = self._crowd.pop(room, Counter())
        if message_ids or crowd:
            counts = {
                mid: {emoji: len(users) for emoji, users in state.reactions.get(mid, {}).items()}
                for mid in sorted(message_ids)
            }
            texts.append(f.encode(f.Reaction(room=room, messages=counts, crowd=dict(crowd))))
        for poll_id in sorted(self._polls.pop(room, set())):
            poll = state.polls.get(poll_id)
            if poll is not None:
                texts.append(f.encode(poll_frame(room, poll)))
        if texts:
            self._send(room, texts)


def poll_frame(room: str, poll: Poll, my_vote: int | None = None) -> f.Poll:
    return f.Poll(
        room=room, poll_id=poll.poll_id, question=poll.question, options=poll.options,
        results=poll.results(), closed=poll.closed, my_vote=my_vote,
    )  # fmt: skip
