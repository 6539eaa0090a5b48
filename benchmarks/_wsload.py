"""A light WebSocket load generator: raw asyncio protocols that mostly just count frames.

Full client libraries saturate the load generator's core before the server's (FACTS.md), so
receivers here parse only frame headers, answer pings, and count frames and bytes per wall
second. One receiver in ``sample_every`` also reads the ``ts=`` stamp the sender put in the
message text, for send-to-receive latency. The sender has an open-loop mode (a fixed rate) and
a closed-loop mode (a window of messages in flight, each freed when the probe, the last
receiver to join, has seen it).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import uvloop


def frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame."""
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    key = os.urandom(4)
    if n == 0:
        return head + key
    mask = (key * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")
    return head + key + masked


class Light(asyncio.Protocol):
    """One client socket; ``on_text`` (optional) sees every text payload."""

    def __init__(self, port: int, first: list[bytes], ready_marker: bytes | None,
                 on_text: Callable[[bytes], None] | None, stats: Any) -> None:  # fmt: skip
        self.port, self.first, self.marker, self.on_text, self.stats = port, first, ready_marker, on_text, stats
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.open = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed_code: int | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def send_text(self, text: bytes) -> None:
        assert self.transport is not None
        self.transport.write(frame(text))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.open:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(self.buf[:200])
            del self.buf[: end + 4]
            self.open = True
            for f in self.first:
                self.send_text(f)
            if self.marker is None and not self.ready.done():
                self.ready.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf, pos, end = self.buf, 0, len(self.buf)
        stats = self.stats
        while end - pos >= 2:
            op, n, at = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, pos + 2
            if n == 126:
                if end - pos < 4:
                    break
                n, at = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif n == 127:
                if end - pos < 10:
                    break
                n, at = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if end - at < n:
                break
            if op == 1:
                stats.frames += 1
                stats.bytes += n
                if self.on_text is not None or not self.ready.done():
                    payload = bytes(buf[at : at + n])
                    if not self.ready.done() and self.marker is not None and self.marker in payload:
                        self.ready.set_result(None)
                    if self.on_text is not None:
                        self.on_text(payload)
            elif op == 9 and self.transport is not None:
                self.transport.write(frame(bytes(buf[at : at + n]), opcode=10))
            elif op == 8:
                self.closed_code = int.from_bytes(buf[at : at + 2], "big") if n >= 2 else 1005
                stats.closed += 1
            pos = at + n
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before ready: {exc}"))


class Stats:
    """Counters of one load process, sampled into per-wall-second buckets."""

    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.closed = 0
        self.latencies: list[tuple[float, float]] = []
        self.samples: list[tuple[float, int, int, float]] = []
        """(wall time, frames, bytes, process CPU seconds), about once a second."""

    def stamp(self, payload: bytes) -> None:
        i = payload.find(b"ts=")
        if i >= 0:
            now = time.time()
            j = payload.find(b" ", i)
            self.latencies.append((now, now - float(payload[i + 3 : j])))


def first_frames(kind: str, token: str | None, room: str) -> tuple[list[bytes], bytes | None]:
    if kind == "bare":
        return [], None
    auth = json.dumps({"type": "auth", "token": token}).encode()
    join = json.dumps({"type": "join", "room": room}).encode()
    return [auth, join], b'"type":"joined"'


async def _connect(port: int, kind: str, token: str | None, room: str, stats: Stats,
                   on_text: Callable[[bytes], None] | None) -> Light:  # fmt: skip
    loop = asyncio.get_running_loop()
    first, marker = first_frames(kind, token, room)
    _, proto = await loop.create_connection(
        lambda: Light(port, first, marker, on_text, stats), "127.0.0.1", port
    )
    await asyncio.wait_for(proto.ready, 60)
    return proto  # type: ignore[no-any-return]


def receivers(port: int, kind: str, tokens: list[str | None], room: str, sample_every: int,
              control: Any, results: Any) -> None:  # fmt: skip
    """A load process: connect ``len(tokens)`` receivers, count until told to stop."""

    gc.disable()  # a collection here would show up as server latency; this process is short-lived

    async def main() -> None:
        stats = Stats()
        conns = []
        for i, token in enumerate(tokens):
            conns.append(await _connect(port, kind, token, room, stats, stats.stamp if i % sample_every == 0 else None))
        results.put(("ready", len(conns)))
        ping = json.dumps({"type": "ping"}).encode() if kind != "bare" else b"p"
        loop = asyncio.get_running_loop()
        stop = loop.run_in_executor(None, control.get)
        last_ping = time.monotonic()
        while not stop.done():
            await asyncio.sleep(1.0 - time.time() % 1 + 0.001)  # just past each wall second
            stats.samples.append((time.time(), stats.frames, stats.bytes, time.process_time()))
            if time.monotonic() - last_ping > 20:
                last_ping = time.monotonic()
                for c in conns:
                    c.send_text(ping)
        results.put(("done", stats.samples, stats.latencies, stats.closed))

    try:
        uvloop.run(main())
    except BaseException:
        results.put(("error", traceback.format_exc()))
        raise


def message(kind: str, room: str, k: int) -> bytes:
    """The k-th message; ``ts=`` (send time) and ``id=`` travel in its text."""
    text = f"ts={time.time():.6f} id={k} what a strike from outside the box, unbelievable scenes"
    if kind == "bare":  # what Sideline would broadcast for it, so both send frames of one size
        return json.dumps({
            "type": "message", "room": room, "message_id": f"01a2-{k:012d}", "seq": k,
            "epoch": "01a21326-0842-7d02-9740-3c23702bf774", "user_id": "sender", "name": "Sender",
            "role": "user", "text": text, "client_msg_id": f"b{k}", "at": "2026-11-25T14:40:19.048342Z",
        }).encode()  # fmt: skip
    return json.dumps({"type": "send", "room": room, "client_msg_id": f"b{k}", "text": text}).encode()


def sender(ports: tuple[int, int], kind: str, tokens: list[str | None], room: str,
           plan: list[tuple[str, str, float, float]], events: Any) -> None:  # fmt: skip
    """Send per ``plan`` [(name, "open"|"closed", rate or window, seconds)] through
    ``tokens[:-1]`` on ports[0]; ``tokens[-1]`` is the probe on ports[1]."""

    gc.disable()

    async def main() -> None:
        stats, probe_stats = Stats(), Stats()
        refused, stalls = [0], [0]

        def on_sender_text(payload: bytes) -> None:
            if payload.startswith((b'{"type":"error"', b'{"type":"notice"')):
                refused[0] += 1
                if refused[0] == 1:
                    print("first refusal:", payload[:300].decode(errors="replace"), flush=True)

        conns = [await _connect(ports[0], kind, t, room, stats, on_sender_text) for t in tokens[:-1]]
        window: dict[str, Any] = {"first": None, "sem": None}

        seen = [-1]

        def on_probe(payload: bytes) -> None:
            probe_stats.stamp(payload)
            i = payload.find(b"id=")
            if i < 0:
                return
            k_seen = int(payload[i + 3 : payload.find(b" ", i)])
            seen[0] = max(seen[0], k_seen)
            if window["sem"] is not None and k_seen >= window["first"]:
                window["sem"].release()

        await _connect(ports[1], kind, tokens[-1], room, probe_stats, on_probe)
        loop = asyncio.get_running_loop()
        k = 0
        for name, mode, amount, seconds in plan:
            events.put(("start", name, time.time()))
            end = loop.time() + seconds
            if mode == "open":
                due = loop.time()
                while due < end:
                    conns[k % len(conns)].send_text(message(kind, room, k))
                    k += 1
                    due += 1 / amount
                    await asyncio.sleep(max(0.0, due - loop.time()))
            else:
                window["first"], window["sem"] = k, asyncio.Semaphore(int(amount))
                while loop.time() < end:
                    try:  # a message the probe never sees (refused) must not stall the loop
                        await asyncio.wait_for(window["sem"].acquire(), 2.0)
                    except TimeoutError:
                        stalls[0] += 1
                    conns[k % len(conns)].send_text(message(kind, room, k))
                    k += 1
                window["sem"] = None
            events.put(("end", name, time.time(), k))
            # the next phase starts on an idle server: wait for the last message to arrive
            drained = loop.time() + 30
            while seen[0] < k - 1 and loop.time() < drained:
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
        events.put(("sender-done", probe_stats.latencies, refused[0], stalls[0]))

    try:
        uvloop.run(main())
    except BaseException:
        events.put(("error", traceback.format_exc()))
        raise
