"""WebSocket frames of ``/v1/ws``: msgspec tagged unions on ``type``, decoded once at the edge.

Client frames are strict (unknown fields are refused, constraints are enforced while
decoding, so an error names the offending field: ``at $.text``). Server frames are plain
structs encoded by one shared encoder; optional fields that are unset are left out.
The full contract, with examples and close codes, is docs/protocol.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from service.protocol.http import ClientMetadata, ClientMsgId, Emoji, MessageText

Ref = Annotated[str, Meta(max_length=64)]
"""A client-chosen correlation id, echoed in the ``ack``/``error``/``notice`` it causes."""
RoomRef = Annotated[str, Meta(min_length=1, max_length=200)]
Token = Annotated[str, Meta(min_length=1, max_length=8192)]
Id = Annotated[str, Meta(min_length=1, max_length=64)]
Seq = Annotated[int, Meta(ge=0)]


# -- client -> server -------------------------------------------------------------------------


class _Client(msgspec.Struct, tag_field="type", kw_only=True, forbid_unknown_fields=True):
    ref: Ref | None = None


class Auth(_Client, tag="auth", kw_only=True):
    """First frame of a connection: the user token signed by the host backend."""

    token: Token


class Join(_Client, tag="join", kw_only=True):
    """Enter a room. With ``after_seq`` and ``epoch`` (from an earlier ``joined``), resume."""

    room: RoomRef
    after_seq: Seq | None = None
    epoch: Annotated[str, Meta(max_length=64)] | None = None
    boot: Annotated[str, Meta(max_length=64)] | None = None
    remote: Annotated[dict[str, Seq], Meta(max_length=64)] | None = None
    """Many-node resume: last seq seen per other node's epoch (see docs/protocol.md)."""


class Leave(_Client, tag="leave", kw_only=True):
    room: RoomRef


class Send(_Client, tag="send", kw_only=True):
    room: RoomRef
    client_msg_id: ClientMsgId
    text: MessageText
    reply_to: Annotated[str, Meta(max_length=64)] | None = None
    metadata: ClientMetadata | None = None


class React(_Client, tag="react", kw_only=True):
    """A reaction on a message, or with no ``message_id`` a crowd reaction to the moment."""

    room: RoomRef
    emoji: Emoji
    message_id: Id | None = None
    remove: bool = False


class Typing(_Client, tag="typing", kw_only=True):
    room: RoomRef


class Vote(_Client, tag="vote", kw_only=True):
    room: RoomRef
    poll_id: Id
    option: Annotated[int, Meta(ge=0, le=9)]


class Ping(_Client, tag="ping", kw_only=True):
    pass


ClientFrame = Auth | Join | Leave | Send | React | Typing | Vote | Ping


# -- server -> client -------------------------------------------------------------------------


class _Server(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    pass


class Welcome(_Server, tag="welcome", kw_only=True):
    """Authentication succeeded."""

    ref: str | None = None
    user_id: str
    name: str
    node_id: str
    heartbeat_seconds: float
    """Send a ``ping`` at least this often; silence longer than the idle timeout is closed."""


class Message(_Server, tag="message", kw_only=True):
    room: str
    message_id: str
    seq: int
    epoch: str
    user_id: str
    name: str
    role: str
    text: str
    masked: bool = False
    reply_to: str | None = None
    client_msg_id: str = ""
    at: datetime
    reactions: dict[str, int] = msgspec.field(default_factory=dict)


class Deleted(_Server, tag="deleted", kw_only=True):
    room: str
    message_id: str
    seq: int
    epoch: str
    reason: str


class Review(_Server, tag="review", kw_only=True):
    """Moderators only: the room's review queue changed. ``change`` is ``held`` (moderation
    held a message), ``reported`` (a message was reported), or ``decided`` (a queued message
    was approved, rejected or deleted). Fetch the queue again; the frame carries no text."""

    room: str
    message_id: str
    change: str


class Room(_Server, tag="room", kw_only=True):
    """A room's settings changed (mode, slow mode, pin), or the recipient's role in it."""

    room: str
    mode: str
    slow_mode_seconds: int
    max_message_length: int
    pinned_message_id: str | None = None
    role: str | None = None
    seq: int = 0
    epoch: str = ""


class Reaction(_Server, tag="reaction", kw_only=True):
    """Reaction counts, coalesced: per message (absolute counts) and crowd bursts (deltas)."""

    room: str
    messages: dict[str, dict[str, int]] = msgspec.field(default_factory=dict)
    crowd: dict[str, int] = msgspec.field(default_factory=dict)


class Poll(_Server, tag="poll", kw_only=True):
    room: str
    poll_id: str
    question: str
    options: list[str]
    results: list[int]
    closed: bool = False
    my_vote: int | None = None


class Member(msgspec.Struct, kw_only=True):
    user_id: str
    name: str


class Presence(_Server, tag="presence", kw_only=True):
    """Who is here: a full list (``full``), a diff (``joined``/``left``) or only a count."""

    room: str
    count: int
    full: bool = False
    members: list[Member] | None = None
    joined: list[Member] | None = None
    left: list[str] | None = None


class TypingFrame(_Server, tag="typing", kw_only=True):
    room: str
    user_id: str
    name: str


class Notice(_Server, tag="notice", kw_only=True):
    """Something the sender should know: masked, shadowed, held, muted, slow mode."""

    ref: str | None = None
    room: str
    code: str
    message: str
    message_id: str | None = None
    retry_after: float | None = None


class Error(_Server, tag="error", kw_only=True):
    ref: str | None = None
    room: str | None = None
    """The room the refused frame named, or the error is about (an unprompted ban)."""
    code: str
    message: str
    at: str | None = None
    retry_after: float | None = None


class Ack(_Server, tag="ack", kw_only=True):
    ref: str | None = None
    op: str
    room: str | None = None
    message_id: str | None = None
    seq: int | None = None
    epoch: str | None = None
    emoji: str | None = None
    count: int | None = None
    poll_id: str | None = None


class Pong(_Server, tag="pong", kw_only=True):
    ref: str | None = None


class Joined(_Server, tag="joined", kw_only=True):
    """Reply to ``join``: the room, the recipient's role, history and the resume position."""

    ref: str | None = None
    room: str
    mode: str
    slow_mode_seconds: int
    max_message_length: int
    max_reactions_per_message: int
    """The most different reactions the recipient may have on one message
    (``reactions.max_per_user_per_message``): a client can stop offering more instead of
    having them refused."""
    role: str
    pinned_message_id: str | None = None
    epoch: str
    seq: int
    boot: str
    remote: dict[str, int] = msgspec.field(default_factory=dict)
    resumed: bool = False
    typing: bool
    """Whether to send ``typing`` frames: no default, so it is always sent (a missing field
    reads as false)."""
    history: list[Message] = msgspec.field(default_factory=list)
    next_before: str | None = None
    """When messages precede ``history``: the id to page back from (HTTP history's
    ``before``, as a page's ``next_before``). Absent when ``history`` starts with the room's
    first message (or on a resume), so a client need not offer earlier messages."""
    mine: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """The recipient's own reactions, by message id: on ``history``, or on a resume on the
    recent messages whose counts follow the replay. ``message`` and ``reaction`` frames are
    the same for everyone and carry counts only, so this is where a client learns which
    reactions it may remove and how many count towards ``max_reactions_per_message``."""
    reported: list[str] = msgspec.field(default_factory=list)
    """The ids of the messages of ``history`` (on a resume: of the recent messages) the
    recipient has reported and may not report again until a moderator decides on them."""
    polls: list[Poll] = msgspec.field(default_factory=list)
    presence: Presence | None = None


class Left(_Server, tag="left", kw_only=True):
    ref: str | None = None
    room: str
    reason: str
    """``left``, ``banned`` or ``room_not_allowed``: always sent (no default to leave out)."""


class Resync(_Server, tag="resync", kw_only=True):
    """The missed events cannot be replayed: drop local state; a fresh ``joined`` follows."""

    room: str
    reason: str


ServerFrame = (
    Welcome | Message | Deleted | Review | Room | Reaction | Poll | Presence | TypingFrame | Notice
    | Error | Ack | Pong | Joined | Left | Resync
)  # fmt: skip

client_decoder = msgspec.json.Decoder(ClientFrame)
"""Decodes any client frame; raises msgspec errors that carry the offending path."""
server_decoder = msgspec.json.Decoder(ServerFrame)
"""For tests and tools that read what the server sent."""
_encoder = msgspec.json.Encoder()


def encode(frame: _Server) -> str:
    """One frame as the text sent on the wire (UTF-8 JSON)."""
    return _encoder.encode(frame).decode()
