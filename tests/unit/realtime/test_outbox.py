"""The per-socket outbox: eager sends, suspension on a real asyncio.Event, overflow, close."""

from __future__ import annotations

import asyncio

from service.realtime.outbox import Outbox, step


class FakeSocket:
    """An ASGI send that blocks while ``writable`` is clear, as uvicorn's does."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.sent: list[dict] = []

    async def send(self, message: dict) -> None:
        await self.writable.wait()
        self.sent.append(message)


def text(i: int) -> dict:
    return {"type": "websocket.send", "text": str(i)}


def blocked(limit: int) -> tuple[FakeSocket, Outbox, list[bool]]:
    """An outbox over a socket that takes nothing until ``writable`` is set; ``dropped``
    records each overflow."""
    sock = FakeSocket()
    dropped: list[bool] = []
    box = Outbox(sock.send, limit=limit, on_overflow=lambda: dropped.append(True))
    sock.writable.clear()
    return sock, box, dropped


async def test_step_finishes_synchronously_when_nothing_blocks():
    sock = FakeSocket()
    assert step(sock.send(text(1))) is None
    assert sock.sent == [text(1)]


async def test_step_hands_back_a_coroutine_that_finishes_after_the_wait():
    sock = FakeSocket()
    sock.writable.clear()
    rest = step(sock.send(text(1)))
    assert rest is not None and sock.sent == []
    task = asyncio.create_task(rest)
    await asyncio.sleep(0.01)
    assert not task.done()
    sock.writable.set()
    await task
    assert sock.sent == [text(1)]


async def test_idle_outbox_sends_without_a_task():
    sock = FakeSocket()
    box = Outbox(sock.send, limit=2)
    for i in range(5):
        assert box.push(text(i))
    assert sock.sent == [text(i) for i in range(5)] and box._task is None


async def test_blocked_socket_queues_then_drains_in_order():
    sock = FakeSocket()
    box = Outbox(sock.send, limit=3)
    sock.writable.clear()
    for i in range(4):  # one in flight, three queued
        assert box.push(text(i))
    assert box.pending == 3
    sock.writable.set()
    await box.wait_idle()
    assert sock.sent == [text(i) for i in range(4)] and box.pending == 0


async def test_overflow_closes_with_4303_after_the_frame_in_flight():
    sock, box, dropped = blocked(limit=2)
    for i in range(3):
        assert box.push(text(i))
    assert box.push(text(3)) is False and dropped == [True] and box.closing
    assert box.push(text(4)) is False
    sock.writable.set()
    await box.wait_idle()
    assert sock.sent[0] == text(0)
    assert sock.sent[-1] == {"type": "websocket.close", "code": 4303,
                             "reason": "slow consumer: resume from your last seq"}  # fmt: skip
    assert len(sock.sent) == 2, "queued frames are dropped, the client resumes instead"


async def test_unbounded_push_ignores_the_limit():
    sock = FakeSocket()
    box = Outbox(sock.send, limit=1)
    sock.writable.clear()
    for i in range(5):
        assert box.push(text(i), bounded=False)
    sock.writable.set()
    await box.wait_idle()
    assert len(sock.sent) == 5


async def test_replies_past_the_limit_wait_for_the_client_to_keep_up():
    """A resume replay pushed the queue past the limit: replies waiting for room (two
    reloads at once) both go once the client has read below it; none closes the socket."""
    sock, box, dropped = blocked(limit=2)
    assert await box.wait_for_room(1.0)
    for i in range(5):  # a replay past the limit is taken
        assert box.push(text(i), bounded=False)
    waiting = [asyncio.create_task(box.wait_for_room(5.0)) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert not any(t.done() for t in waiting)
    sock.writable.set()
    assert await asyncio.gather(*waiting) == [True, True]
    await box.wait_idle()
    assert dropped == [] and not box.closing and len(sock.sent) == 5


async def test_a_reply_waiting_for_a_client_that_reads_nothing_closes_it():
    sock, box, dropped = blocked(limit=2)
    for i in range(5):
        assert box.push(text(i), bounded=False)
    assert await box.wait_for_room(0.05) is False
    assert dropped == [True] and box.closing
    sock.writable.set()
    await box.wait_idle()
    assert sock.sent[-1]["code"] == 4303 and len(sock.sent) == 2


async def test_send_failure_marks_the_outbox_closing():
    async def broken(message: dict) -> None:
        raise ConnectionError("peer gone")

    box = Outbox(broken, limit=2)
    assert box.push(text(1)) is False and box.closing
