"""Fan-out's direct path: one frame built per message, written to uvicorn's transport as is.

Runs against a real uvicorn websockets-sansio protocol (only its transport is a recorder), so
a change in the protocol's attributes fails here rather than silently in production.
"""

from __future__ import annotations

import asyncio

import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.protocol import State

from service.api.ws_protocol import SocketProtocol
from service.realtime.outbox import FRAME, Outbox, direct_protocol, frame_bytes


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


async def _app(scope, receive, send) -> None:  # never called: the protocol is driven by hand
    raise AssertionError


def open_protocol(cls: type = WebSocketsSansIOProtocol) -> tuple[WebSocketsSansIOProtocol, Transport]:
    config = uvicorn.Config(_app, ws_per_message_deflate=False)
    config.load()
    proto = cls(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    proto.transport = transport  # type: ignore[assignment]
    proto.handshake_complete = True
    proto.conn.state = State.OPEN
    return proto, transport


def fanned(text: str) -> dict:
    return {"type": "websocket.send", "text": text, FRAME: frame_bytes(text)}


async def uvicorn_frame(text: str) -> bytes:
    """The bytes uvicorn's own ``send`` writes for ``text`` on an open socket."""
    proto, transport = open_protocol()
    await proto.send({"type": "websocket.send", "text": text})
    return b"".join(transport.written)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
async def test_frame_bytes_equal_what_uvicorns_send_writes(size):
    text = ("é" * (size // 2)) + ("x" * (size % 2))
    assert frame_bytes(text) == await uvicorn_frame(text)


async def test_uvicorn_protocol_is_recognised_and_others_are_not():
    proto, _ = open_protocol()
    assert direct_protocol(proto.send) is proto
    ours, _ = open_protocol(SocketProtocol)  # the one `sideline serve` runs: a subclass
    assert direct_protocol(ours.send) is ours

    async def plain_send(message: dict) -> None:
        return None

    assert direct_protocol(plain_send) is None


async def test_open_socket_gets_the_shared_frame_without_asgi_send():
    proto, transport = open_protocol()
    box = Outbox(proto.send, limit=4)
    before = Outbox.direct
    message = fanned("hello")
    assert box.push(message)
    assert transport.written == [message[FRAME]] == [await uvicorn_frame("hello")]
    assert Outbox.direct == before + 1 and box.sent == 1


async def test_messages_without_a_frame_still_go_through_send():
    proto, transport = open_protocol()
    box = Outbox(proto.send, limit=4)
    before = Outbox.direct
    assert box.push({"type": "websocket.send", "text": "reply"})
    assert transport.written == [await uvicorn_frame("reply")] and Outbox.direct == before


async def test_paused_transport_queues_and_keeps_order():
    proto, transport = open_protocol()
    box = Outbox(proto.send, limit=4)
    proto.pause_writing()
    for i in range(3):
        assert box.push(fanned(f"m{i}"))
    assert transport.written == [] and box.pending == 2  # one send waiting, two queued
    proto.resume_writing()
    assert box.push(fanned("m3"))  # behind the queue, not around it
    await box.wait_idle()
    assert transport.written == [await uvicorn_frame(f"m{i}") for i in range(4)]


async def test_closing_socket_is_not_written_directly():
    proto, _ = open_protocol()
    box = Outbox(proto.send, limit=4)
    proto.conn.state = State.CLOSING  # the peer sent a close frame
    before = Outbox.direct
    box.push(fanned("late"))
    await asyncio.sleep(0)
    assert Outbox.direct == before  # handed to uvicorn's send, which decides what to do
