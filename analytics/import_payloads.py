"""Payload schemas of the event types, as the service's actions write them (see the team's
event payload list); imported records are checked against these. Extra fields are allowed,
because payloads only ever grow by added fields.

The service rebuilds its state from the log at start (``CommunityState.apply``), so each
schema is at least as strict as what that state reads: an imported event it could not apply
would stop the service from starting, and one it misread would change what it serves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.domain import rooms
from service.domain.events import EventType as T
from service.moderation.checks.hygiene import NEVER_SHOWN
from service.moderation.settings import Policy
from service.protocol.http import PollOptions, ShortText


class _P(msgspec.Struct, kw_only=True):
    pass


class MessageSent(_P):
    text: str
    client_msg_id: str = ""
    visibility: Literal["public", "shadow", "held"] = "public"
    masked: bool = False
    reply_to: str | None = None
    role: rooms.Role = rooms.Role.USER
    """The sender's role when they posted, served with the message (the panel's badge and
    class): one of the service's roles, and not ``viewer``, which cannot post."""
    name: str = ""
    shadow_ban: bool = False
    """Shows the author their shadow-banned message as public; read as true or false."""

    def __post_init__(self) -> None:
        if self.role is rooms.Role.VIEWER:
            raise ValueError("a message's role is the sender's, and a viewer cannot post - at `$.role`")
        _not_dropped("message text", self.text, "$.text", "message")
        if not self.text.strip():
            raise ValueError("message text is blank - at `$.text`")


class Reason(_P):
    check: str
    code: str
    score: float = 0.0
    detail: str = ""


class MessageModerated(_P):
    action: Literal["allow", "mask", "shadow", "hold", "block"]
    score: float
    reasons: list[Reason] = msgspec.field(default_factory=list)
    checks_ms: dict[str, float] = msgspec.field(default_factory=dict)


class Reasoned(_P):
    reason: str


class Deleted(Reasoned):
    review: bool = False
    """The review queue's delete decision (a review in the moderation reports). Deletes
    written before the marker have none and are read by their reason."""


class Reported(_P):
    reason: str
    report_id: str
    hide: bool = False
    """True: the report hides its message (the state reads it as true or false). Reports
    written before it existed have none and hide nothing."""


class Approved(_P):
    decision: Literal["approve", "reject"]
    source: Literal["hold", "report"]
    shadow_ban: bool = False
    """True: the approval shows the message to its author alone (a shadow-ban covers it); read
    as true or false. Approvals written before it existed have none and show it to the room."""


class Pinned(_P):
    pinned: bool = True
    """False: the event unpins its message. The room's state reads it as true or false (a
    string ``"false"`` would pin); one without it pins, as the state reads it."""
    reason: str = ""
    """Why the service unpinned it itself (``deleted``, ``hidden by reports``); none for a
    moderator's pin or unpin."""


class Reaction(_P):
    emoji: str


_UNSTRIPPED = "has white space at its ends (the service strips it)"


class PollCreated(_P):
    """Bounded as the service's create bounds it (its HTTP body's types; the state serves the
    question and options as they are): a question and options not blank, without a character
    the service drops from them, none repeated, and stripped, as the service writes them (the
    import does not rewrite a payload: one with white space at its ends is refused, not stored
    otherwise than the file has it)."""

    poll_id: str
    question: ShortText
    options: PollOptions

    def __post_init__(self) -> None:
        _not_dropped("poll question", self.question, "$.question", "poll")
        for i, option in enumerate(self.options):
            _not_dropped("poll option", option, f"$.options[{i}]", "poll")
        if not self.question.strip():
            raise ValueError("poll question is blank - at `$.question`")
        if self.question != self.question.strip():
            raise ValueError(f"poll question {self.question[:80]!r} {_UNSTRIPPED} - at `$.question`")
        stripped = [option.strip() for option in self.options]
        for i, option in enumerate(stripped):
            if not option:
                raise ValueError(f"poll option is blank - at `$.options[{i}]`")
            if option != self.options[i]:
                raise ValueError(
                    f"poll option {i} ({self.options[i]!r}) {_UNSTRIPPED} - at `$.options[{i}]`"
                )
            if (first := stripped.index(option)) < i:
                raise ValueError(
                    f"poll option {i} ({option[:80]!r}) repeats option {first} - at `$.options[{i}]`"
                )


def _not_dropped(what: str, text: str, at: str, every: str) -> None:
    """Refuse ``text`` with a character the service drops from every message and poll
    (``service.actions.messages.visible_text``): the import does not rewrite a payload, and the
    panel would show the text as the file has it."""
    if not text.isprintable() and (bad := NEVER_SHOWN.search(text)):
        raise ValueError(
            f"{what} has U+{ord(bad.group()):04X}, which the service drops from every {every} - at `{at}`"
        )


def _poll_bounds() -> tuple[int, int]:
    """The fewest and most options of a poll, as the service's create bounds them (the HTTP
    API's ``PollOptions``, which a ``poll_created`` is checked with too)."""
    info = msgspec.inspect.type_info(PollOptions)
    if not isinstance(info, msgspec.inspect.ListType) or None in (info.min_length, info.max_length):
        raise TypeError(f"PollOptions is not a list of bounded length: {info}")
    return info.min_length or 0, info.max_length or 0


MIN_OPTIONS, MAX_OPTIONS = _poll_bounds()


class PollVoted(_P):
    poll_id: str
    option: Annotated[int, Meta(ge=0, lt=MAX_OPTIONS)]
    """An index into the poll's options (the results count it there): the importer checks it
    against the poll created earlier in the file or in the log (analytics.importer), and any
    poll's (for one created elsewhere: a log imported in parts) has fewer than MAX_OPTIONS."""


class PollClosed(_P):
    poll_id: str
    results: Annotated[list[Annotated[int, Meta(ge=0)]], Meta(min_length=MIN_OPTIONS, max_length=MAX_OPTIONS)]
    """The votes of each option (``Poll.results``): the importer checks that there is one per
    option of the poll created earlier in the file or in the log (analytics.importer), and any
    poll has MIN_OPTIONS to MAX_OPTIONS."""


class Restriction(_P):
    scope: Literal["room", "global"]
    until: Annotated[datetime, Meta(tz=True)] | None = None
    """The state parses it as an ISO time and compares it with the current (zoned) time."""
    reason: str = ""


class Lifted(_P):
    scope: Literal["room", "global"]
    reason: str = ""
    """Why it was lifted, as a restriction's reason; lifts written before it have none."""


class ModeChanged(_P):
    """The room's full settings, which the state sets from every field (the bounds of a room
    kind's configured settings: a max length of 0 would refuse every message)."""

    mode: rooms.RoomMode
    slow_mode_seconds: Annotated[int, Meta(ge=0)]
    max_message_length: Annotated[int, Meta(ge=1)]
    cause: Literal["admin", "moderator", "crowd_control"] = "admin"


class Role(_P):
    role: rooms.Role


class RoomLeft(_P):
    via: Literal["http", "socket"] | msgspec.UnsetType = msgspec.UNSET
    """Where the leave came from: one from ``http`` takes the user's sockets out of the room.
    Leaves written before it existed have none (no socket taken out); null is no value."""


class PolicyChanged(_P):
    kind: str
    policy: Policy
    """Checked as the service checks it when it re-applies the logged policies at start (the
    policy's own keys only, its scores, its checks and codes): it stops on one it refuses."""

    def __post_init__(self) -> None:
        self.policy.validate("$.policy")  # a ValueError, reported by msgspec as invalid


class Exposure(_P):
    group: Literal["exposed", "holdout"]
    unit: Literal["user", "context"] = "user"


PAYLOADS: dict[T, type[_P]] = {
    T.MESSAGE_SENT: MessageSent,
    T.MESSAGE_MODERATED: MessageModerated,
    T.MESSAGE_DELETED: Deleted,
    T.MESSAGE_REPORTED: Reported,
    T.MESSAGE_APPROVED: Approved,
    T.MESSAGE_PINNED: Pinned,
    T.REACTION_ADDED: Reaction,
    T.REACTION_REMOVED: Reaction,
    T.POLL_CREATED: PollCreated,
    T.POLL_VOTED: PollVoted,
    T.POLL_CLOSED: PollClosed,
    T.USER_MUTED: Restriction,
    T.USER_BANNED: Restriction,
    T.USER_SHADOW_BANNED: Restriction,
    T.USER_UNMUTED: Lifted,
    T.USER_UNBANNED: Lifted,
    T.ROOM_MODE_CHANGED: ModeChanged,
    T.ROLE_GRANTED: Role,
    T.ROOM_LEFT: RoomLeft,
    T.EXPOSURE_ASSIGNED: Exposure,
    T.MODERATION_POLICY_CHANGED: PolicyChanged,
}
NEEDS_MESSAGE = frozenset({T.MESSAGE_SENT, T.MESSAGE_MODERATED, T.MESSAGE_DELETED,
                           T.MESSAGE_REPORTED, T.MESSAGE_APPROVED, T.MESSAGE_PINNED,
                           T.REACTION_ADDED, T.REACTION_REMOVED})  # fmt: skip
"""Types the service always writes with a message id (a pin without one would unpin)."""
NEEDS_ROOM = frozenset({T.ROOM_MODE_CHANGED, T.MESSAGE_PINNED})
"""Types whose event the state applies to the room itself, which it builds from its kind's
configured settings: the room id must be one the service serves, of a configured kind."""
