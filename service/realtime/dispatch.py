"""Client frames -> the same action functions the HTTP API calls -> reply frames.

There is no second implementation of send, react or vote here: each case checks what only a
socket has (the connection must have joined the room), calls ``service.actions`` and turns
the result or the refusal into frames for this connection. Fan-out to everyone else happens
in the hub, after the action's commit. The ephemeral signals, crowd taps and typing, are never
logged, but they are authorised like the actions they stand for (react, post).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from service.actions import messages, polls, reactions
from service.actions.access import Intent, check_access, check_room_id, restriction_left
from service.errors import ErrorCode, SidelineError
from service.protocol import frames as f
from service.protocol.http import SendMessage, invalid_body
from service.realtime.coalesce import poll_frame
from service.realtime.connection import Connection
from service.realtime.hub import Hub
from service.realtime.joining import join

log = logging.getLogger(__name__)

_KNOWN = "auth, join, leave, send, react, typing, vote, ping"


def decode(data: str | bytes) -> f.ClientFrame:
    """Decode one client frame, or raise the SidelineError that names what is wrong and where.

    Frames are JSON text frames: a binary frame is refused whatever it holds (it need not
    even be UTF-8). Nesting deeper than the decoder's recursion limit is refused like any
    other malformed JSON, not left to surface as an internal error.
    """
    if not isinstance(data, str):
        raise SidelineError(
            ErrorCode.INVALID_BODY,
            "binary frames are not accepted: send each frame as a UTF-8 JSON text frame", at="$",
        )  # fmt: skip
    try:
        frame: f.ClientFrame = f.client_decoder.decode(data)
        return frame
    except msgspec.ValidationError as exc:
        text = str(exc)
        if text.endswith("at `$.type`") or "missing required field `type`" in text:
            raise SidelineError(
                ErrorCode.UNKNOWN_FRAME, f"{text}; known frame types: {_KNOWN}", at="$.type"
            ) from exc
        raise invalid_body(exc, **_input(exc, data)) from exc
    except msgspec.DecodeError as exc:
        raise SidelineError(ErrorCode.INVALID_BODY, f"frame is not valid JSON: {exc}", at="$") from exc
    except RecursionError as exc:
        raise SidelineError(
            ErrorCode.INVALID_BODY, "frame is nested too deeply to decode", at="$"
        ) from exc


def _input(exc: msgspec.ValidationError, data: str) -> dict[str, Any]:
    """What ``invalid_body`` needs to name the key of a refused map value (``$.remote.e2``,
    not msgspec's ``$.remote[...]``): the frame as builtins, decoded again only then."""
    if "[...]" not in str(exc):
        return {}
    try:
        return {"raw": msgspec.json.decode(data), "target": f.ClientFrame}
    except (msgspec.DecodeError, RecursionError):
        return {}


class _Refs(msgspec.Struct):
    ref: msgspec.Raw = msgspec.Raw()
    room: msgspec.Raw = msgspec.Raw()


_refs = msgspec.json.Decoder(_Refs).decode
_string = msgspec.json.Decoder(str).decode


def _text(raw: msgspec.Raw) -> str | None:
    try:
        return _string(raw) if len(raw) else None
    except msgspec.DecodeError:  # not a string: nothing to echo
        return None


def refs_of(data: str | bytes) -> tuple[str | None, str | None]:
    """``ref`` and ``room`` of a frame that failed validation, so the error can name them.

    Each is read on its own, as raw JSON first: a ``room`` that is no string (the very thing
    the error names, even a number out of range) must not cost the client the ``ref`` it
    matches the error by.
    """
    if not isinstance(data, str):
        return None, None
    try:
        found = _refs(data)
    except (msgspec.DecodeError, RecursionError):
        return None, None
    ref = _text(found.ref)
    return (ref[:64] if ref else None), _text(found.room)


def error_frame(err: SidelineError, ref: str | None = None, room: str | None = None) -> f.Error:
    # The actions name the room as HTTP does (a path parameter, ``room_id``); frames call it ``room``.
    at = "$.room" if err.at == "$.room_id" else err.at
    return f.Error(
        ref=ref, room=room, code=err.code.slug, message=err.message, at=at,
        retry_after=round(err.retry_after, 3) if err.retry_after is not None else None,
    )  # fmt: skip


_NOTICE_CODES = frozenset({ErrorCode.USER_MUTED, ErrorCode.SLOW_MODE})
"""Refusals of a send that the sender is told about as a notice (an expected state, not a bug)."""
_LASTING = {ErrorCode.USER_MUTED: "mute", ErrorCode.USER_BANNED: "ban"}
"""Refusals for a restriction that may run out by itself: told with ``retry_after``, its end."""


class Dispatcher:
    """Handles the frames of one authenticated connection."""

    def __init__(
        self, hub: Hub, conn: Connection, reauth: Callable[[f.Auth], Awaitable[None]]
    ) -> None:
        self.hub = hub
        self.c = hub.c
        self.conn = conn
        self._reauth = reauth

    async def handle(self, data: str | bytes) -> None:
        ref, room, decoded = None, None, False
        try:
            try:
                frame = decode(data)
            except SidelineError:
                ref, room = refs_of(data)
                raise
            ref, room, decoded = frame.ref, getattr(frame, "room", None), True
            await self._dispatch(frame)
        except SidelineError as err:
            if err.code in _LASTING and err.retry_after is None and decoded and room is not None:
                err.retry_after = restriction_left(self.c, _LASTING[err.code], room, self.conn.user_id)
            if err.code in _NOTICE_CODES and room is not None:
                self.conn.send(f.Notice(
                    ref=ref, room=room, code=err.code.slug, message=err.message,
                    retry_after=round(err.retry_after, 3) if err.retry_after is not None else None,
                ))  # fmt: skip
            else:  # the room named back only from a frame that decoded (a checked room id)
                self.conn.send(error_frame(err, ref, room if decoded else None))
        except Exception:  # a bug must not take the connection (or the room) down
            log.exception("frame handling failed for %s", self.conn.user_id)
            self.conn.send(error_frame(SidelineError(ErrorCode.INTERNAL, "internal error"), ref))

    def _joined(self, room: str) -> None:
        if room not in self.conn.rooms:
            raise SidelineError(
                ErrorCode.NOT_JOINED, f"join {room!r} on this connection first", at="$.room"
            )

    def _audible(self, room: str, intent: Intent) -> bool:
        """Authorise an ephemeral signal (crowd tap, typing) as the action it stands for.

        Raises the refusal like any action; False means drop it without a word: a shadow-banned
        user's signals reach no one, and a shadow-ban is silent by design.
        """
        check_access(self.c, self.conn.identity, room, intent)
        return self.c.state.restriction("shadow", room, self.conn.user_id, self.c.now()) is None

    async def _dispatch(self, frame: f.ClientFrame) -> None:
        who, conn = self.conn.identity, self.conn
        match frame:
            case f.Ping(ref=ref):
                conn.send(f.Pong(ref=ref))
            case f.Join():
                await join(self.hub, conn, frame)
            case f.Leave(room=room, ref=ref):
                check_room_id(self.c, room, at="$.room")  # names no room: nothing was left
                try:
                    await self.hub.part(conn, room, who)
                finally:  # out of the room now, even when the log refused to record it
                    conn.send(f.Left(ref=ref, room=room, reason="left"))
            case f.Send():
                self._joined(frame.room)
                await self._send(frame)
            case f.React(message_id=None, room=room, emoji=emoji):
                self._joined(room)
                reactions.check_emoji(emoji)
                if self._audible(room, Intent.REACT):
                    self.hub.crowd_tap(room, emoji)
            case f.React(message_id=str(message_id)):
                self._joined(frame.room)
                out = await reactions.set_reaction(
                    self.c, who, frame.room, message_id, frame.emoji, add=not frame.remove
                )
                conn.send(f.Ack(
                    ref=frame.ref, op="react", room=frame.room, message_id=message_id,
                    emoji=frame.emoji, count=out.count, seq=out.seq or None,
                ))  # fmt: skip
            case f.Typing(room=room):
                self._joined(room)
                if self._audible(room, Intent.POST):
                    self.hub.signal_typing(conn, room)
            case f.Vote():
                self._joined(frame.room)
                await polls.vote(self.c, who, frame.room, frame.poll_id, frame.option)
                poll = self.c.state.polls[frame.poll_id]
                conn.send(f.Ack(ref=frame.ref, op="vote", room=frame.room, poll_id=frame.poll_id))
                conn.send(poll_frame(frame.room, poll, poll.votes.get(who.user_id)))
            case f.Auth():
                await self._reauth(frame)

    async def _send(self, frame: f.Send) -> None:
        body = SendMessage(
            client_msg_id=frame.client_msg_id, text=frame.text, reply_to=frame.reply_to,
            metadata=frame.metadata,
        )  # fmt: skip
        out = await messages.send_message(self.c, self.conn.identity, frame.room, body)
        self.conn.send(f.Ack(
            ref=frame.ref, op="send", room=frame.room, message_id=out.message_id, seq=out.seq,
            epoch=out.epoch,
        ))  # fmt: skip
        notice = self._notice(frame.room, out.visibility, out.masked)
        if notice is not None:
            code, text = notice
            self.conn.send(f.Notice(
                ref=frame.ref, room=frame.room, code=code, message=text, message_id=out.message_id
            ))  # fmt: skip

    def _notice(self, room: str, visibility: str, masked: bool) -> tuple[str, str] | None:
        if visibility == "deleted":  # a retry of a send whose message was deleted since
            return "deleted", "a moderator deleted your message after it was sent"
        if visibility == "held":
            return "held", "your message is held for review; it appears once a moderator approves it"
        if visibility == "shadow":
            shadow_banned = self.c.state.restriction("shadow", room, self.conn.user_id, self.c.now())
            if shadow_banned is None:  # a shadow-ban is silent by design; a verdict is not
                return "shadowed", "your message is visible only to you"
        if masked:
            return "masked", "part of your message was masked before it was shown"
        return None
