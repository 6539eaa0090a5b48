"""The Python ceiling for fan-out: a bare ASGI broadcast server on the same uvicorn.

No auth, no log, no moderation, no queues: every text frame a client sends is sent to every
connected client (the sender included, as Sideline does) by awaiting ASGI ``send`` for each
socket in turn, which costs one write per recipient and nothing else.

Usage: ``python benchmarks/bare_broadcast.py PORT`` (started by benchmarks/fanout.py).
"""

from __future__ import annotations

import sys
from typing import Any

clients: dict[int, Any] = {}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":  # the benchmark's readiness probe: answer it
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    key = id(send)
    clients[key] = send
    try:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            text = message.get("text")
            if text is None or not text.startswith("{"):
                continue  # pings of the load generator
            out = {"type": "websocket.send", "text": text}
            for other in list(clients.values()):
                try:
                    await other(out)
                except Exception:  # a client left mid-broadcast
                    continue
    finally:
        clients.pop(key, None)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), ws_max_size=64 * 1024,
        ws_per_message_deflate=False, access_log=False, log_level="warning",
    )  # fmt: skip
