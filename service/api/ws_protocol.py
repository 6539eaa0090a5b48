"""The WebSocket protocol uvicorn runs for ``/v1/ws``.

uvicorn's default (``websockets-sansio``) implements the ASGI denial-response extension that
:func:`service.api.websocket.realtime_socket` refuses handshakes with (a 403 whose JSON body
says why), but never marks that handshake as finished: when the endpoint returns, it logs
``ERROR ASGI callable returned without completing handshake.`` for every refused Origin. An
attacker's page could fill the error log, and alerting on ERROR would fire for a correct refusal.
:class:`SocketProtocol` marks the handshake finished once the denial is on the wire, as uvicorn's
``wsproto`` implementation does; everything else is uvicorn's, and fan-out's direct frame
writes (:func:`service.realtime.outbox.direct_protocol`) recognise it as uvicorn's own.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class SocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True  # the denial is sent: the connection is closed
