"""A bounded send queue per socket, with eager sends and an explicit slow-consumer policy.

Fan-out calls :meth:`Outbox.push` for every recipient, synchronously. When the socket is idle
the ASGI ``send`` coroutine is stepped right there: uvicorn writes the frame to the transport
without suspending unless the transport's buffer is over its high-water mark, so the common
case costs one send and no task switch (the same trick as Python 3.12's eager tasks). Only a
send that really has to wait becomes a task; frames pushed meanwhile wait in a bounded deque.
When the deque is full the client cannot keep up: it is dropped from fan-out at once (one
slow client never delays the room) and closed with SLOW_CONSUMER (4303) after what is already
in flight, so it reconnects and resumes from its last seq.

A join's reply (its history, or a resume's replay) is pushed past the limit: it is bounded by
itself. Its frames still waiting are not held against the frames that follow it, so a client
that reads a long replay on a slow link is not taken for a slow consumer by the first live
frame behind it; the next join waits until the queue is below the limit again
(:meth:`Outbox.wait_for_room`). A socket thus holds at most twice the limit plus one reply.

Fan-out frames each message once (:func:`frame_bytes`): a server frame is unmasked, so every
recipient gets the same bytes. Behind uvicorn's websockets-sansio protocol an open, writable
socket takes those bytes straight onto its transport, skipping the per-recipient ASGI ``send``
(a coroutine, a text encode and the library's framing: Python work per delivery 1.8 -> 0.4 µs);
any other state, server or message goes through ``send`` as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

log = logging.getLogger(__name__)

Message = dict[str, Any]
"""An ASGI message (``websocket.send``/``websocket.close``); one object shared by recipients."""
Send = Callable[[Any], Awaitable[None]]
"""The server's ASGI ``send``."""
RAW_SEND = "sideline.raw_send"
"""Scope key under which ``service.api.websocket.expose_raw_send`` leaves the server's own
``send`` for a socket's outbox."""
EXTRA = "sideline.extra"
"""Key marking a queued frame of a join's reply (pushed past the limit); servers ignore it."""
FRAME = "sideline.frame"
"""Key of a ``websocket.send`` message under which fan-out puts :func:`frame_bytes` of its
text (ASGI servers ignore keys they do not know)."""
_OPEN = State.OPEN


def frame_bytes(text: str) -> bytes:
    """``text`` as one unmasked, final server text frame, serialised by the websockets library
    as uvicorn's ``send`` would (once per message here, not once per recipient)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def direct_protocol(send: Send) -> Any | None:
    """The uvicorn websockets-sansio protocol whose bound ``send`` this is, or None.

    Only that protocol is recognised, or a subclass of it such as the service's own
    (``service.api.ws_protocol``), by name and the attributes its ``send`` itself reads:
    ``conn``, ``transport``, ``writable``, ``disconnected``; with any other server or protocol
    implementation frames go through ``send``.
    """
    proto = getattr(send, "__self__", None)
    if getattr(proto, "send", None) != send or not any(
        c.__name__ == "WebSocketsSansIOProtocol" for c in type(proto).__mro__
    ):
        return None
    if not all(hasattr(proto, a) for a in ("conn", "transport", "writable", "disconnected")):
        return None
    return proto


async def _resume(coro: Coroutine[Any, Any, None], yielded: Any) -> None:
    """Finish a coroutine that was stepped by hand and suspended on ``yielded``.

    Mirrors what an asyncio Task does with a coroutine: wait for the future it yielded, then
    send ``None`` back (the coroutine reads the future's result itself), or throw the error.
    """
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                await yielded
        except BaseException as exc:  # the awaited future failed or we were cancelled
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
            continue
        try:
            yielded = coro.send(None)
        except StopIteration:
            return


def step(coro: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None] | None:
    """Run ``coro`` until it first suspends; None when it finished without suspending, else
    a coroutine that finishes it."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    if getattr(yielded, "_asyncio_future_blocking", False):
        # What Task.__step does with a yielded future; awaiting it again requires it.
        yielded._asyncio_future_blocking = False
    return _resume(coro, yielded)


class Outbox:
    """Frames on their way to one socket."""

    __slots__ = (
        "_close", "_closing", "_extra", "_proto", "_queue", "_roomy", "_send", "_task", "limit",
        "on_overflow", "sent",
    )  # fmt: skip

    suspended = 0
    """Sends (all sockets of this process) that had to wait for the transport: a gauge of
    clients falling behind, and of fan-out leaving its cheap synchronous path."""
    direct = 0
    """Frames (all sockets of this process) written straight to the transport."""

    def __init__(self, send: Send, limit: int, on_overflow: Callable[[], None] | None = None) -> None:
        self._send = send
        self._proto = direct_protocol(send)
        self._queue: deque[Message] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._close: Message | None = None
        self._extra = 0
        """Frames of join replies in the queue: not counted against ``limit``."""
        self._roomy: asyncio.Event | None = None
        """Made by the first reply that waits for room, shared by every later one: set when the
        queue drops below ``limit`` (or the socket closes)."""
        self.limit = limit
        self.on_overflow = on_overflow
        self.sent = 0

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def pending(self) -> int:
        return len(self._queue)

    def push(self, message: Message, *, bounded: bool = True) -> bool:
        """Queue or send ``message`` now; False when the socket is closing or just overflowed."""
        if self._closing:
            return False
        if self._task is not None:
            if not bounded:
                message = {**message, EXTRA: True}
                self._extra += 1
            elif len(self._queue) - self._extra >= self.limit:
                self._overflow()
                return False
            self._queue.append(message)
            return True
        proto: Any = self._proto  # uvicorn's protocol object, untyped
        frame = message.get(FRAME) if proto is not None else None
        # Straight onto the transport when uvicorn's send would write at once: an open socket
        # whose transport is not paused (the frame built once for all recipients).
        direct = (
            frame is not None
            and proto.writable.is_set()
            and not proto.disconnected
            and proto.conn.state is _OPEN
        )
        try:
            if direct:
                proto.transport.write(frame)
                rest = None
            else:
                rest = step(self._send(message))  # type: ignore[arg-type]
        except Exception as exc:  # the peer is gone; the receive loop will see the disconnect
            log.debug("send failed: %s", exc)
            self._closing = True
            return False
        self.sent += 1
        if direct:
            Outbox.direct += 1
        elif rest is not None:
            Outbox.suspended += 1
            self._task = asyncio.get_running_loop().create_task(self._drain(rest))
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Send a close frame after whatever is in flight, dropping what is still queued."""
        if self._closing:
            return
        self._closing = True
        self._clear()
        self._close = {"type": "websocket.close", "code": code, "reason": reason[:120]}
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(None))

    def _clear(self) -> None:
        self._queue.clear()
        self._extra = 0
        if self._roomy is not None:
            self._roomy.set()

    async def wait_for_room(self, timeout: float) -> bool:
        """Wait until the queue is below the limit, before a reply (a join's, or the reload
        after a resync) is pushed past it.

        A client that reads nothing must not stack reply on reply by joining again and again;
        one that reads them on a slow link gets each once the ones before it went out (a resume
        replays up to ``resume_max_events`` frames, more than the limit). False (the socket is
        closing) when it closed meanwhile, or when nothing drained the queue below the limit
        within ``timeout``: then it is closed as a slow consumer. Several replies may wait at
        once (reloads of several rooms): one event wakes them all.
        """
        if self._closing:
            return False
        if len(self._queue) < self.limit:
            return True
        if self._roomy is None:
            self._roomy = asyncio.Event()
        roomy = self._roomy
        try:
            async with asyncio.timeout(timeout):
                while not self._closing and len(self._queue) >= self.limit:
                    roomy.clear()
                    await roomy.wait()
        except TimeoutError:
            self._overflow()
        return not self._closing

    def _overflow(self) -> None:
        from service.errors import ErrorCode

        self.close(ErrorCode.SLOW_CONSUMER.close_code, "slow consumer: resume from your last seq")
        if self.on_overflow is not None:
            self.on_overflow()

    async def _drain(self, first: Coroutine[Any, Any, None] | None) -> None:
        try:
            if first is not None:
                await first
            while self._queue:
                message = self._queue.popleft()
                if EXTRA in message:
                    self._extra -= 1
                if self._roomy is not None and len(self._queue) < self.limit:
                    self._roomy.set()
                await self._send(message)
                self.sent += 1
            if self._close is not None:
                await self._send(self._close)
        except Exception as exc:  # peer gone mid-send: nothing more can be delivered
            log.debug("send failed: %s", exc)
            self._closing = True
            self._clear()
        finally:
            self._task = None

    async def wait_idle(self) -> None:
        """Wait until everything pushed so far was handed to the server (for tests, shutdown)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    def cancel(self) -> None:
        self._closing = True
        self._clear()
        if self._task is not None:
            self._task.cancel()

