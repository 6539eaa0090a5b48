"""The event log contract, run against every implementation (DuckDB on a temp file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest

from service.domain.events import Event, EventType, Metadata, new_event
from service.eventlog.base import CommitFailed, LogUnreadable
from service.eventlog.duckdb_log import DuckDBLog

Factory = Callable[[], DuckDBLog]


@pytest.fixture(params=["duckdb"])
def make_log(request, tmp_path: Path) -> Factory:
    def factory() -> DuckDBLog:
        return DuckDBLog(tmp_path / "log.duckdb", node_id="n1", batch_max=500)

    return factory


@pytest.fixture
async def log(make_log: Factory) -> AsyncIterator[DuckDBLog]:
    lg = make_log()
    await lg.start()
    yield lg
    await lg.close()


def msg(i: int, room: str = "match:1") -> Event:
    return new_event(
        EventType.MESSAGE_SENT, user_id=f"u{i % 7}", room_id=room, message_id=f"m{i}",
        metadata=Metadata(device="ios", language="en", app_version="1.2", session_id="s1"),
        payload={"text": f"hello {i} ⚽", "visibility": "public", "client_msg_id": f"c{i}"},
    )  # fmt: skip


async def test_append_assigns_gap_free_seq_and_roundtrips(log: DuckDBLog):
    committed = await log.append([msg(1), msg(2)])
    assert [e.seq for e in committed] == [1, 2]
    assert all(e.epoch == log.epoch and e.node_id == "n1" for e in committed)
    back = await log.read(0, 10)
    assert back == committed  # every field survives the trip, metadata and payload included


async def test_concurrent_senders_are_group_committed(log: DuckDBLog):
    await asyncio.gather(*(log.append([msg(i)]) for i in range(1, 401)))
    assert log.last_seq == 400
    assert log.stats.batches < 400  # many senders shared transactions
    seqs = [e.seq for e in await log.read(0, 1000)]
    assert seqs == list(range(1, 401))


async def test_failed_commit_writes_nothing_and_hands_back_its_seqs(log: DuckDBLog):
    await log.append([msg(1)])

    def boom(con):
        raise RuntimeError("disk full")

    with pytest.raises(CommitFailed, match="disk full"):
        await log.append([msg(2), msg(3)], extra=boom)
    assert log.last_seq == 1
    after = await log.append([msg(4)])
    assert after[0].seq == 2  # the failed batch's numbers were reused: no gap
    assert [e.message_id for e in await log.read(0, 10)] == ["m1", "m4"]


async def test_reopen_restores_seq_and_epoch(make_log: Factory):
    first = make_log()
    await first.start()
    await first.append([msg(i) for i in range(5)])
    epoch = first.epoch
    await first.close()
    second = make_log()
    await second.start()
    try:
        assert (second.last_seq, second.epoch) == (5, epoch)
        assert (await second.append([msg(9)]))[0].seq == 6
    finally:
        await second.close()


async def test_room_reads(log: DuckDBLog):
    for i in range(10):
        await log.append([msg(i, room="match:1" if i % 2 else "match:2")])
    odd = await log.read(0, 100, room_id="match:1")
    assert [e.message_id for e in odd] == ["m1", "m3", "m5", "m7", "m9"]
    before = await log.read_before("match:1", odd[-1].seq, 2)
    assert [e.message_id for e in before] == ["m5", "m7"]
    assert (await log.find_message("m3")).room_id == "match:1"
    assert await log.find_message("nope") is None


async def test_message_reads_of_a_room(log: DuckDBLog):
    sent = [await log.append([msg(i, room="match:1" if i % 2 else "match:2")]) for i in range(8)]
    await log.append([new_event(EventType.MESSAGE_DELETED, user_id="u1", room_id="match:1", message_id="m3")])
    await log.append([new_event(EventType.REACTION_ADDED, user_id="u2", room_id="match:1",
                                message_id="m5", payload={"emoji": "🔥"})])  # fmt: skip
    newest = await log.read_messages_before("match:1", log.last_seq + 1, 3)
    assert [e.message_id for e in newest] == ["m3", "m5", "m7"]  # messages only, oldest first
    older = await log.read_messages_before("match:1", newest[0].seq, 3)
    assert [e.message_id for e in older] == ["m1"]
    m5 = sent[5][0]
    until = await log.read_messages_before("match:1", log.last_seq + 1, 3, until=(m5.occurred_at, m5.event_id))
    assert [e.message_id for e in until] == ["m1", "m3"]
    changes = await log.read_message_changes("match:1", ["m3", "m5", "m7"])
    assert [(e.event_type, e.message_id) for e in changes] == [(EventType.MESSAGE_DELETED, "m3")]
    assert await log.read_message_changes("match:2", ["m3"]) == []  # another room's message
    assert await log.read_message_changes("match:1", []) == []


async def test_reads_by_event_type(log: DuckDBLog):
    ban = new_event(EventType.USER_BANNED, user_id="u2", room_id="match:1", payload={"scope": "room"})
    mode = new_event(EventType.ROOM_MODE_CHANGED, user_id="mod", room_id="match:2", payload={})
    await log.append([msg(1), ban, msg(2), mode, msg(3)])
    found = await log.read_types({EventType.ROOM_MODE_CHANGED, EventType.USER_BANNED})
    assert [(e.event_type, e.seq) for e in found] == [(EventType.USER_BANNED, 2), (EventType.ROOM_MODE_CHANGED, 4)]
    assert await log.read_types({EventType.POLL_CLOSED}) == []


async def test_extra_statement_commits_atomically_with_the_batch(log: DuckDBLog):
    def record(con):
        con.execute(
            "INSERT INTO moderation_records VALUES ('e', 'm1', 'match:1', 'u1', 'secret', now())"
        )

    await log.append([msg(1)], extra=record)
    rows = await log.run_read(lambda con: con.execute("SELECT original FROM moderation_records").fetchall())
    assert rows == [("secret",)]


async def test_append_after_close_is_refused(make_log: Factory):
    lg = make_log()
    await lg.start()
    await lg.close()
    with pytest.raises(CommitFailed):
        await lg.append([msg(1)])


async def test_close_flushes_everything_queued(make_log: Factory):
    lg = make_log()
    await lg.start()
    pending = [asyncio.ensure_future(lg.append([msg(i)])) for i in range(50)]
    await asyncio.sleep(0)
    await lg.close()
    done = await asyncio.gather(*pending)
    assert sorted(e[0].seq for e in done) == list(range(1, 51))


async def test_append_while_closing_is_refused_not_left_waiting(make_log: Factory):
    """A sender that arrives after close() began is answered at once (CommitFailed: the API
    says 503), while everything queued before it is committed."""
    lg = make_log()
    await lg.start()
    before = asyncio.ensure_future(lg.append([msg(1)]))
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(lg.close())
    await asyncio.sleep(0)  # close() has queued its stop marker and now waits for the writer
    late = asyncio.ensure_future(lg.append([msg(2)]))
    await asyncio.wait_for(closing, 10)
    with pytest.raises(CommitFailed, match="shutting down"):
        await asyncio.wait_for(late, 1)
    assert [e.seq for e in await before] == [1]


async def test_unreadable_file_is_refused_loudly(tmp_path: Path):
    path = tmp_path / "log.duckdb"
    path.write_bytes(b"this is not a duckdb file" * 100)
    lg = DuckDBLog(path, node_id="n1")
    with pytest.raises(LogUnreadable, match="refusing to start empty"):
        await lg.start()


async def test_replay_gives_back_every_event_as_committed_from_any_seq(log: DuckDBLog):
    """The start's fold reads the log in seq ranges, times as microseconds: the same events,
    to the microsecond and in UTC, as committed."""
    committed = await log.append([msg(i) for i in range(1, 121)])
    assert list(log.replay(batch_rows=50)) == committed
    assert list(log.replay(after=70, batch_rows=50)) == committed[70:]
    assert list(log.replay(after=120)) == []
    assert all(e.occurred_at.utcoffset() == timedelta(0) for e in log.replay())
    assert log.event_id_at(120) == committed[-1].event_id == log.last_event_id
    assert log.event_id_at(121) is None
