"""LogPages: each history page read from the log once, until its room's next commit.

A scripted log stands in for DuckDB here (the reads themselves are the event log contract's;
tests/integration/test_history_budget.py runs this on a real log)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from service.domain.events import EventType, new_event
from service.eventlog.pages import LogPages


class ScriptedLog:
    def __init__(self) -> None:
        self.reads: list[tuple[str, int]] = []
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def read_messages_before(self, room_id: str, before_seq: int, limit: int, *, until: Any = None) -> Any:
        self.reads.append((room_id, before_seq))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("log unreadable")
        e = new_event(EventType.MESSAGE_SENT, user_id="u", room_id=room_id, message_id=f"m{len(self.reads)}")
        return [e]

    async def read_message_changes(self, room_id: str, message_ids: Any) -> Any:
        return []


def sent(room: str) -> Any:
    return new_event(EventType.MESSAGE_SENT, user_id="u", room_id=room, message_id="x")


async def test_readers_of_one_page_share_one_read_and_it_is_kept():
    log, pages = ScriptedLog(), LogPages()
    log.gate = asyncio.Event()
    waiting = [asyncio.ensure_future(pages.read(log, "match:1", 100 + i, 51, newest=True)) for i in range(20)]
    await asyncio.sleep(0)
    log.gate.set()
    got = await asyncio.gather(*waiting)
    assert log.reads == [("match:1", 100)] and all(g is got[0] for g in got)
    assert await pages.read(log, "match:1", 500, 51, newest=True) is got[0] and len(log.reads) == 1
    await pages.read(log, "match:1", 100, 51)  # not the newest page: a page of its own
    assert len(log.reads) == 2 and len(pages) == 2


async def test_a_commit_in_the_room_makes_its_pages_stale_and_no_other():
    log, pages = ScriptedLog(), LogPages()
    await pages.read(log, "match:1", 10, 5, newest=True)
    await pages.read(log, "match:2", 10, 5, newest=True)
    pages.changed([sent("match:1")])
    await pages.read(log, "match:1", 10, 5, newest=True)
    await pages.read(log, "match:2", 10, 5, newest=True)
    assert log.reads == [("match:1", 10), ("match:2", 10), ("match:1", 10)]


async def test_a_read_a_commit_overtook_is_answered_but_not_kept():
    log, pages = ScriptedLog(), LogPages()
    log.gate = asyncio.Event()
    first = asyncio.ensure_future(pages.read(log, "match:1", 10, 5, newest=True))
    await asyncio.sleep(0)
    pages.changed([sent("match:1")])  # committed while the read was under way
    log.gate.set()
    await first
    await pages.read(log, "match:1", 10, 5, newest=True)
    assert len(log.reads) == 2 and pages._rooms == {"match:1": {("match:1", None, 5, None)}}


async def test_a_failed_read_is_not_kept_and_the_next_reads_again():
    log, pages = ScriptedLog(), LogPages()
    log.fail = True
    with pytest.raises(RuntimeError):
        await pages.read(log, "match:1", 10, 5)
    assert len(pages) == 0 and pages._rooms == {}
    log.fail = False
    await pages.read(log, "match:1", 10, 5)
    assert len(log.reads) == 2 and len(pages) == 1


async def test_only_the_last_pages_used_are_kept():
    log, pages = ScriptedLog(), LogPages(size=3)
    for room in ("match:1", "match:2", "match:3"):
        await pages.read(log, room, 10, 5)
    await pages.read(log, "match:1", 10, 5)  # used again: the newest
    await pages.read(log, "match:4", 10, 5)  # match:2 goes
    assert len(pages) == 3 and set(pages._rooms) == {"match:1", "match:3", "match:4"}
    await pages.read(log, "match:2", 10, 5)
    assert [r for r, _ in log.reads] == ["match:1", "match:2", "match:3", "match:4", "match:2"]
    pages.changed([sent("match:9")])  # a room with no pages: nothing to do
    assert len(pages) == 3
