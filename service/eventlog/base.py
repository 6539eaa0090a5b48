"""The event log port.

A log assigns every committed event a gap-free ``seq`` (per node) and the log's ``epoch``;
it never updates or deletes an event row. ``append`` returns only once the events are
durably committed, so a caller may acknowledge them as soon as it returns.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from service.domain.events import Event, EventType


class CommitFailed(Exception):
    """The batch holding the caller's events could not be committed; nothing of it was written."""


class LogUnreadable(Exception):
    """The log file exists but cannot be opened or replayed; starting empty would lose data."""


class EventLog(Protocol):
    """What every event log implementation provides."""

    @property
    def epoch(self) -> str:
        """Identifier of this log's lifetime; a resumed client with another epoch must resync."""
        ...

    @property
    def node_id(self) -> str:
        """The node whose shard this log is."""
        ...

    @property
    def last_seq(self) -> int:
        """The highest committed ``seq`` (0 for an empty log)."""
        ...

    async def start(self) -> None:
        """Open the log and start its writer."""

    async def close(self) -> None:
        """Flush everything queued, commit it, and close."""

    async def append(self, events: Sequence[Event]) -> list[Event]:
        """Commit ``events`` atomically (with whatever else is batched) and return them with seq.

        Raises:
            CommitFailed: the transaction failed; none of ``events`` is in the log.
        """
        ...

    async def read(
        self, after_seq: int, limit: int, *, room_id: str | None = None
    ) -> list[Event]:
        """Committed events with ``seq > after_seq`` in seq order, optionally for one room."""
        ...

    async def read_before(self, room_id: str, before_seq: int, limit: int) -> list[Event]:
        """The ``limit`` newest events of a room with ``seq < before_seq``, in seq order."""
        ...

    async def read_messages_before(
        self, room_id: str, before_seq: int, limit: int, *, until: tuple[datetime, str] | None = None
    ) -> list[Event]:
        """The ``limit`` newest ``community_message_sent`` events of a room with ``seq <
        before_seq`` (and, with ``until``, older than that (time, event id)), in seq order."""
        ...

    async def read_message_changes(self, room_id: str, message_ids: Sequence[str]) -> list[Event]:
        """The deletes, reports and review decisions of these messages of a room, in seq order."""
        ...

    async def find_message(self, message_id: str) -> Event | None:
        """The ``community_message_sent`` event of a message, if it was ever committed."""
        ...

    async def read_types(self, event_types: Collection[EventType]) -> list[Event]:
        """Every committed event of ``event_types``, in seq order."""
        ...
