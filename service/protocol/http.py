"""HTTP request and response bodies of the ``/v1`` API.

Constraints are declared once as ``Annotated`` aliases; msgspec enforces them while decoding,
so a bad body is refused with the path of the offending field (``at $.text``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from service.domain.rooms import Role, RoomMode
from service.errors import ErrorCode, SidelineError
from service.protocol.keypath import name_keys

NOT_BLANK = r"\S"
"""The pattern of an id that must hold something besides white space (a user id: as a
token's ``sub``)."""
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$(?!\n)")]
MessageText = Annotated[str, Meta(description=(
    "Measured after invisible characters are dropped and the ends stripped: empty is 400 "
    "`text_empty`, longer than the room's `max_message_length` 400 `text_too_long`"
))]  # fmt: skip
"""Not capped here: the room's limit applies to every length (the body's size cap bounds it)."""
Emoji = Annotated[str, Meta(min_length=1, max_length=32)]
ShortText = Annotated[str, Meta(min_length=1, max_length=200)]
OptionText = Annotated[str, Meta(min_length=1, max_length=80)]
PollOptions = Annotated[list[OptionText], Meta(min_length=2, max_length=10)]
UserId = Annotated[str, Meta(min_length=1, max_length=128, pattern=NOT_BLANK)]
Seconds = Annotated[int, Meta(ge=0, le=86_400)]
MaxLength = Annotated[int, Meta(ge=1, le=20_000)]
Label = Annotated[str, Meta(max_length=64)]
REASON_MAX = 200
"""Characters of a moderator's reason (mute, ban, delete); a blank one is as none given."""
Reason = Annotated[str, Meta(max_length=REASON_MAX)]


_AT = re.compile(r" - at `(?P<at>[^`]+)`$")
# The name is whatever lies between the first and the last backtick: it may be empty, or hold
# backticks and line breaks of its own (a client's key is not a Python name).
_UNKNOWN = re.compile(r"^Object (contains unknown|missing required) field `(?P<name>.*)`\Z", re.DOTALL)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLANK_REFUSED = f"Expected `str` matching regex {NOT_BLANK!r}"


def invalid_body(
    exc: msgspec.ValidationError, *, prefix: str = "", raw: Any = None, target: Any = None
) -> SidelineError:
    """The ``invalid_body`` refusal for a value msgspec rejected, ``at`` the offending field.

    msgspec ends its message with the path (``Expected `int`, got `str` - at `$.option```); an
    unknown or missing field is reported at the object holding it, so its own name is appended
    (``$.bogus``, ``$.client_msg_id``, ``$['']``, ``$['a`b']``): the client is pointed at the
    key to remove or add. (msgspec gives no path at the root, so a key that itself ends in
    `` - at `$.x` `` reads as a key of ``$.x``.) Given the input as builtins (``raw``) and
    its ``target`` type, a map's key msgspec writes ``[...]`` is named (``$.actions.spam``).
    """
    text = str(exc).replace(_BLANK_REFUSED, "Expected a `str` that is not blank")
    found = _AT.search(text)
    at = found.group("at") if found else "$"
    if target is not None and "[...]" in at:
        at = name_keys(at, raw, target)
    message = _AT.sub("", text)
    if unknown := _UNKNOWN.match(message):
        name = unknown.group("name")
        at += f".{name}" if _NAME.match(name) else f"[{name!r}]"
    return SidelineError(ErrorCode.INVALID_BODY, f"{prefix}{message} - at `{at}`", at=at)


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class ClientMetadata(_In):
    """Optional client context, recorded on the event for analytics (never for authorisation)."""

    device: Label | None = None
    language: Label | None = None
    app_version: Label | None = None
    session_id: Label | None = None
    message_type: Label | None = None


class SendMessage(_In):
    client_msg_id: ClientMsgId
    """Chosen by the client, unique per room; a retry with the same id in the same room returns
    the same message and writes nothing."""
    text: MessageText
    reply_to: Annotated[str, Meta(max_length=64)] | None = None
    metadata: ClientMetadata | None = None


class ReactionIn(_In):
    emoji: Emoji
    metadata: ClientMetadata | None = None


class ReportIn(_In):
    reason: ShortText


class PollIn(_In):
    question: ShortText
    options: PollOptions


class VoteIn(_In):
    option: Annotated[int, Meta(ge=0, le=9)]


class RoomConfigIn(_In):
    """Admin or moderator change of a room's settings; omitted fields keep their value."""

    mode: RoomMode | None = None
    slow_mode_seconds: Seconds | None = None
    max_message_length: MaxLength | None = None


class RoleGrantIn(_In):
    user_id: UserId
    role: Role


class RestrictIn(_In):
    """Mute, ban or shadow-ban; ``duration_seconds`` None means until lifted."""

    user_id: UserId
    duration_seconds: Annotated[int, Meta(ge=1, le=31_536_000)] | None = None
    scope: Literal["room", "global"] = "room"
    """``global``: every room (admin API only)."""
    reason: Reason = ""


class ReviewIn(_In):
    decision: Literal["approve", "reject", "delete"]
    """``approve`` (show it), ``reject`` (keep it hidden) or ``delete``."""


class MessageOut(msgspec.Struct, kw_only=True):
    message_id: str
    room_id: str
    seq: int
    epoch: str
    """The log shard whose seq ``seq`` is: its node's (with many nodes, another node's message
    carries that node's)."""
    user_id: str
    name: str
    role: str
    text: str
    visibility: Literal["public", "shadow", "held", "deleted"]
    """``public``; ``shadow``: moderation shows it to its sender only; ``held``: shown to no one
    until a moderator approves it (also while reports hide it pending review); ``deleted``
    (only in the answer to a retry of its send): deleted by a moderator since, and
    ``text`` is empty."""
    masked: bool
    reply_to: str | None
    client_msg_id: str
    occurred_at: datetime
    reactions: dict[str, int] = msgspec.field(default_factory=dict)


class HistoryOut(msgspec.Struct, kw_only=True):
    room_id: str
    epoch: str
    messages: list[MessageOut]
    next_before_seq: int | None
    """Pass as ``before_seq`` for the page before this one; None when no older message is
    visible to the reader (this page starts the room). A seq of the answering node's log
    (``epoch``): with many nodes page with ``next_before``."""
    next_before: str | None = None
    """Pass as ``before`` for the page before this one (the id of this page's oldest message),
    through any node; None exactly when ``next_before_seq`` is."""
    mine: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """The caller's own reactions on this page's messages, by message id (messages they have
    none on are left out): ``reactions`` counts everyone's, so a client can mark the caller's
    and offer to remove them."""
    reported: list[str] = msgspec.field(default_factory=list)
    """The ids of this page's messages the caller has reported (and may not report again
    until a moderator decides on them), so a client can mark them after a reload."""


class ReactionOut(msgspec.Struct, kw_only=True):
    message_id: str
    emoji: str
    count: int
    seq: int
    """The seq of the event written; 0 when nothing was (an add of a reaction the user already
    has, a removal of one they do not: the answer is the same, ``count`` as it stands)."""


class PollOut(msgspec.Struct, kw_only=True):
    poll_id: str
    room_id: str
    question: str
    options: list[str]
    results: list[int]
    closed: bool
    my_vote: int | None = None


class RoomOut(msgspec.Struct, kw_only=True):
    room_id: str
    kind: str
    mode: str
    slow_mode_seconds: int
    max_message_length: int
    pinned_message_id: str | None
    role: str | None = None


class RoomsOut(msgspec.Struct, kw_only=True):
    rooms: list[str]


class Accepted(msgspec.Struct, kw_only=True):
    seq: int
    event_id: str


# The small answers are structs, not dicts, so the OpenAPI document names their fields.


class ReportOut(msgspec.Struct, kw_only=True):
    report_id: str


class DeletedOut(msgspec.Struct, kw_only=True):
    seq: int
    """The seq of the ``community_message_deleted`` event."""


class LiftedOut(msgspec.Struct, kw_only=True):
    lifted: bool
    """False, with nothing written, when no such restriction was active."""


class ReviewedOut(msgspec.Struct, kw_only=True):
    decision: Literal["approve", "reject", "delete"]


class RoleGrantOut(msgspec.Struct, kw_only=True):
    user_id: str
    role: Role


class RevokedOut(msgspec.Struct, kw_only=True):
    revoked: bool
    """False when the user had no role granted in the room."""
