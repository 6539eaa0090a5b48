"""One WebSocket connection: authenticate, then decode each frame once and dispatch it.

Client frames call the same action functions as the HTTP API (``service.actions``); this
module only translates frames to calls and results to frames. Frames of one connection are
handled in order. Refusals become ``error`` frames (``notice`` for muted and slow mode) and
the connection stays open; only authentication failures, floods, idle sockets and slow
consumers are closed, each with its documented close code (docs/protocol.md).

A token authenticates the connection until its ``exp`` plus the verifier's leeway, not just at
the handshake: one loop timer per connection closes it then with TOKEN_EXPIRED, even while it
only listens, unless an ``auth`` frame with a fresh token moved the deadline. A frame that
arrives past the deadline is not handled (one comparison per frame, in case the timer is late).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from litestar.connection import WebSocket

from service.errors import ErrorCode, SidelineError
from service.identity import Identity, TokenVerifier
from service.protocol import frames as f
from service.realtime import effects
from service.realtime.connection import Connection
from service.realtime.dispatch import Dispatcher, decode, error_frame, refs_of
from service.realtime.hub import Hub
from service.realtime.limits import FloodGuard, TokenBucket
from service.realtime.outbox import RAW_SEND, Outbox, Send

log = logging.getLogger(__name__)


def _reason(text: str) -> str:
    """A close reason: at most 123 bytes of UTF-8 are allowed."""
    return text.encode()[:120].decode(errors="ignore")


class Session:
    """Runs one accepted socket until it closes."""

    def __init__(self, hub: Hub, socket: WebSocket[Any, Any, Any], verifier: TokenVerifier) -> None:
        self.hub = hub
        self.socket = socket
        self.verifier = verifier
        self.settings = hub.settings
        self.conn: Connection | None = None
        self.expires = math.inf
        """Loop time at which the connection's token stops authenticating it."""
        self._expiry: asyncio.TimerHandle | None = None
        self._cutting: asyncio.Task[None] | None = None

    async def run(self) -> None:
        await self.socket.accept()
        authenticated = await self._authenticate()
        if authenticated is None:
            return
        identity, expires, ref = authenticated
        s = self.settings
        raw: Send | None = self.socket.scope.get(RAW_SEND)  # type: ignore[assignment]
        outbox = Outbox(raw or self.socket.send, s.send_queue_size)  # see expose_raw_send
        conn = self.conn = Connection(identity, outbox)
        outbox.on_overflow = lambda: self._slow(conn)
        self.hub.connections.add(conn)
        try:
            self._expire_at(conn, expires)
            conn.send(self._welcome(ref))
            await self._loop(conn)
            await self._settle(conn)
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            if self._cutting is not None:
                await asyncio.wait({self._cutting})
            await self.hub.disconnect(conn)

    def _welcome(self, ref: str | None = None) -> f.Welcome:
        assert self.conn is not None
        who = self.conn.identity
        return f.Welcome(
            ref=ref, user_id=who.user_id, name=who.name, node_id=self.hub.node_id,
            heartbeat_seconds=round(self.settings.idle_timeout_seconds / 3, 1),
        )  # fmt: skip

    def _slow(self, conn: Connection) -> None:
        self.hub.stats.slow_consumers += 1
        self._cut_off(conn)
        log.info("closed slow consumer %s (queue of %d full)", conn.user_id, conn.outbox.limit)

    def _cut_off(self, conn: Connection) -> None:
        """Take the closing ``conn`` out of its rooms and presence in a task of its own.

        Not inline: this may be called from inside a fan-out loop over the room's sockets
        (pushes to ``conn`` fail meanwhile), and the stalled client it is for may never read
        its close frame, which would keep it present until the idle timeout.
        """
        if self._cutting is None:
            self._cutting = asyncio.get_running_loop().create_task(self.hub.cut_off(conn))

    async def _receive(self) -> str | bytes | None:
        message = await self.socket.receive()
        if message["type"] != "websocket.receive":
            return None
        text = message.get("text")
        data: str | bytes | None = text if text is not None else message.get("bytes")
        return data if data is not None else b""

    async def _close_now(self, code: ErrorCode, reason: str) -> None:
        await self.socket.close(code=code.close_code, reason=_reason(reason))

    def _end(self, conn: Connection, err: SidelineError) -> None:
        """Close with ``err``'s close code; fan-out to the socket stops at once."""
        if conn.outbox.closing:
            return
        conn.outbox.close(err.code.close_code, _reason(err.message))
        self._cut_off(conn)
        log.debug("closed %s: %s", conn.user_id, err.message)

    def _verify(self, token: str) -> tuple[Identity, float]:
        """The identity in ``token`` and the loop time it expires at (``exp`` + the leeway)."""
        identity = self.verifier.verify(token)
        assert identity.expires_at is not None  # the verifier requires exp
        left = identity.expires_at + self.hub.c.settings.auth.leeway_seconds - time.time()
        return identity, asyncio.get_running_loop().time() + left

    def _expire_at(self, conn: Connection, expires: float) -> None:
        self.expires = expires
        if self._expiry is not None:
            self._expiry.cancel()
        self._expiry = asyncio.get_running_loop().call_at(expires, self._expired, conn)

    def _expired(self, conn: Connection) -> None:
        self._end(conn, SidelineError(
            ErrorCode.TOKEN_EXPIRED, "token has expired: authenticate with a new one"
        ))  # fmt: skip

    async def _authenticate(self) -> tuple[Identity, float, str | None] | None:
        """The identity, its expiry and the ``auth`` frame's ``ref`` (echoed by ``welcome``, as
        for a refresh; None when the handshake's ``Authorization`` header authenticated)."""
        header = self.socket.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme.lower() == "bearer" and token.strip():
                return (*self._verify(token.strip()), None)
            try:
                async with asyncio.timeout(self.settings.auth_timeout_seconds):
                    data = await self._receive()
            except TimeoutError:
                await self._close_now(ErrorCode.AUTH_TIMEOUT, "no auth frame in time")
                return None
            if data is None:
                return None
            try:
                frame = decode(data)
            except SidelineError as err:  # named in an error frame, then closed as no auth
                await self.socket.send_data(f.encode(error_frame(err, refs_of(data)[0])))
                raise SidelineError(
                    ErrorCode.TOKEN_MISSING, f"the first frame must be auth: {err.message}"
                ) from err
            if not isinstance(frame, f.Auth):
                raise SidelineError(ErrorCode.TOKEN_MISSING, "the first frame must be auth")
            return (*self._verify(frame.token), frame.ref)
        except SidelineError as err:
            await self._close_now(err.code, err.message)
            return None

    async def _loop(self, conn: Connection) -> None:
        s = self.settings
        guard = FloodGuard(TokenBucket(s.frames_per_second, s.frame_burst), s.frame_burst)
        dispatcher = Dispatcher(self.hub, conn, self._reauth)
        now = asyncio.get_running_loop().time
        while not conn.outbox.closing:
            try:
                async with asyncio.timeout(s.idle_timeout_seconds):
                    data = await self._receive()
            except TimeoutError:
                conn.outbox.close(ErrorCode.IDLE_TIMEOUT.close_code, "idle: send a ping")
                return
            if data is None:
                return
            if now() >= self.expires:
                self._expired(conn)
                return
            if not guard.admit():
                if guard.exhausted:
                    conn.outbox.close(ErrorCode.RATE_LIMITED.close_code, "flooding")
                    return
                err = SidelineError(
                    ErrorCode.RATE_LIMITED, "too many frames; slow down",
                    retry_after=guard.retry_after(),
                )  # fmt: skip
                conn.send(error_frame(err, refs_of(data)[0]))  # which frame was refused
                continue
            started = now()
            await dispatcher.handle(data)
            # frames sent while this one waited on the server were queued, not flooded
            # (limits.py): a wait longer than a frame's share of the rate is excused
            if (held := now() - started) >= 1 / s.frames_per_second:
                guard.excuse(held)

    async def _settle(self, conn: Connection) -> None:
        """Let a close frame we queued go out before the handler returns."""
        if conn.outbox.closing:
            try:
                async with asyncio.timeout(5.0):
                    await conn.outbox.wait_idle()
            except TimeoutError:
                conn.outbox.cancel()

    async def _reauth(self, frame: f.Auth) -> None:
        """Refresh the identity from a new token of the same user; a refused token closes.

        Everything follows the new token: the expiry deadline, the name (in presence, typing
        and later messages) and the roles (a ``room`` frame for each joined room where the
        role changed). Rooms the new token does not open are left as with a ``leave`` frame,
        each announced by ``left`` (``room_not_allowed``); a leave the log refuses to record
        stops none of this, and its error comes last.
        """
        conn = self.conn
        assert conn is not None
        try:
            identity, expires = self._verify(frame.token)
            if identity.user_id != conn.user_id:
                raise SidelineError(
                    ErrorCode.TOKEN_INVALID, "a connection cannot change user; open a new one",
                    at="$.token",
                )  # fmt: skip
        except SidelineError as err:
            self._end(conn, err)
            return
        old, conn.identity = conn.identity, identity
        self._expire_at(conn, expires)
        conn.send(self._welcome(frame.ref))
        refused: Exception | None = None
        for room in sorted(conn.rooms):
            if not identity.may_enter(room):
                try:
                    await self.hub.part(conn, room, old)
                except Exception as err:  # told below, once every such room is left
                    refused = refused or err
                # the socket is out of the room even if the log refused the event
                conn.send(f.Left(ref=frame.ref, room=room, reason="room_not_allowed"))
        await self.hub.rename(conn, identity.name)
        for room in sorted(conn.rooms):
            if effects.role_of(self.hub, identity, room) != effects.role_of(self.hub, old, room):
                conn.send(effects.room_frame(self.hub, conn, room))
        if refused is not None:
            raise refused
