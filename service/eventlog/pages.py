"""History pages read from the log, kept until their room's next event in the log.

A room whose recent messages memory no longer holds (idle the longest when the node reached
``memory.history_messages``, or a page older than its window) is read from the log, and each
read scans the events table (DuckDB has no index that serves ``room_id = ? ORDER BY seq DESC
LIMIT n``: 13-52 ms at a million events here, benchmarks/history_reads.py). When such a room
wakes up, every one of the crowd that joins it asks for the same newest page.
:class:`LogPages` reads each page once: readers of a page being read await that read, and the
page is kept (the last ``size`` pages used) until an event of its room is committed to this
node's log, the only thing that changes what the read returns (other nodes' events are not in
this node's log).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from service.domain.events import Event
from service.eventlog.base import EventLog

PageKey = tuple[str, int | None, int, tuple[datetime, str] | None]
"""(room, before seq or None for the room's newest messages, how many, before (time, event id))."""

Page = tuple[list[Event], list[Event]]
"""The message events read (oldest first), and their deletes, reports and review decisions."""


class LogPages:
    """Pages of rooms' messages read from the log, each read once until its room changes."""

    def __init__(self, size: int = 64) -> None:
        """Keep the last ``size`` pages used: a page holds up to 201 events (~220 KB), a
        join's 51 (~56 KB), so 64 pages hold at most ~14 MB."""
        self._size = size
        self._pages: OrderedDict[PageKey, Page] = OrderedDict()
        self._reading: dict[PageKey, asyncio.Task[Page]] = {}
        self._rooms: dict[str, set[PageKey]] = {}
        """The keys kept or being read, by room: what a commit in the room makes stale."""

    def __len__(self) -> int:
        return len(self._pages)

    async def read(
        self, log: EventLog, room_id: str, before_seq: int, want: int,
        until: tuple[datetime, str] | None = None, *, newest: bool = False,
    ) -> Page:  # fmt: skip
        """The ``want`` newest messages of the room older than ``before_seq`` (and ``until``),
        with their later changes. ``newest`` says ``before_seq`` is past every message of the
        room in the log, so any such read returns the same page and shares it."""
        key: PageKey = (room_id, None if newest else before_seq, want, until)
        page = self._pages.get(key)
        if page is not None:
            self._pages.move_to_end(key)
            return page
        reading = self._reading.get(key)
        if reading is None:
            reading = asyncio.ensure_future(self._read(log, key, before_seq))
            self._reading[key] = reading
            self._rooms.setdefault(room_id, set()).add(key)
        return await asyncio.shield(reading)

    async def _read(self, log: EventLog, key: PageKey, before_seq: int) -> Page:
        room_id, _, want, until = key
        me = asyncio.current_task()
        try:
            batch = await log.read_messages_before(room_id, before_seq, want, until=until)
            ids = [e.message_id for e in batch if e.message_id is not None]
            page = (batch, await log.read_message_changes(room_id, ids))
        except BaseException:
            if self._reading.get(key) is me:
                del self._reading[key]
                self._drop_key(key)
            raise
        if self._reading.get(key) is me:  # not made stale by a commit meanwhile
            del self._reading[key]
            self._pages[key] = page
            while len(self._pages) > self._size:
                old, _ = self._pages.popitem(last=False)
                self._drop_key(old)
        return page

    def _drop_key(self, key: PageKey) -> None:
        keys = self._rooms.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._rooms[key[0]]

    def changed(self, events: Sequence[Event]) -> None:
        """Events were committed to this node's log: their rooms' pages are stale (a read
        under way is not kept). Costs a dict lookup per event while pages are kept."""
        rooms = self._rooms
        if not rooms:
            return
        for e in events:
            keys = rooms.pop(e.room_id, None)
            if keys:
                for key in keys:
                    self._pages.pop(key, None)
                    self._reading.pop(key, None)
