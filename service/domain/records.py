"""What the community state remembers of single things: a message, a poll, a restriction, a
room crowd control changed, and where a message stands in its room's history."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime

import msgspec

from service.domain.events import Event, EventType
from service.domain.rooms import RoomMode

GLOBAL = "*"
"""Scope key of a global mute or ban."""

HistoryKey = tuple[datetime, str]


def history_key(e: Event) -> HistoryKey:
    """Where a message stands in its room's history, the same on every node: its time, then
    its event id. A node stamps its messages' times just before it commits them, so on one
    node this is seq order; other nodes' messages fall in by time."""
    return (e.occurred_at, e.event_id)


class MessageRef(msgspec.Struct, kw_only=True):
    """What the service remembers of one message."""

    message_id: str
    room_id: str
    user_id: str
    seq: int
    visibility: str
    deleted: bool = False
    hidden_by_reports: bool = False
    shadow_ban: bool = False
    """Its author was shadow-banned when it was sent, or when a moderator approved it: it is
    shown to its author alone (as public, the ban being silent), approved or not."""

    @classmethod
    def of(cls, e: Event) -> MessageRef:
        """The message as its ``community_message_sent`` event left it."""
        assert e.message_id is not None
        return cls(  # room and user interned: one string for all the messages of each
            message_id=e.message_id, room_id=sys.intern(e.room_id), user_id=sys.intern(e.user_id), seq=e.seq,
            visibility=e.payload.get("visibility", "public"),
            shadow_ban=bool(e.payload.get("shadow_ban")),
        )  # fmt: skip

    def fold(self, e: Event) -> None:
        """Apply a later event about this message: a delete, a report that hides it, a decision.

        The one rule of what readers see: the projection applies it to the messages it
        remembers, and history read from the log applies it to older ones. An approval shows
        the message (held or hidden by reports) until enough new reports hide it again: to the
        room, or to its author alone when a shadow-ban covers it (the approval never lifts one).
        """
        if e.event_type is EventType.MESSAGE_DELETED:
            self.deleted = True
        elif e.event_type is EventType.MESSAGE_REPORTED and e.payload.get("hide"):
            self.hidden_by_reports = True
        elif e.event_type is EventType.MESSAGE_APPROVED and e.payload.get("decision") == "approve":
            self.shadow_ban = self.shadow_ban or bool(e.payload.get("shadow_ban"))
            self.visibility = "shadow" if self.shadow_ban else "public"
            self.hidden_by_reports = False

    def visibility_now(self) -> str:
        """What a message's ``visibility`` reads as after its later events: ``deleted``, ``held``
        also while reports hide it pending review, else as sent (``public``, ``shadow``,
        ``held``; an approval made it ``public``)."""
        if self.deleted:
            return "deleted"
        return "held" if self.hidden_by_reports else self.visibility

    def visible_to(self, reader: str | None) -> bool:
        """Shown to everyone when public; a shadowed message only to its author."""
        if self.deleted or self.hidden_by_reports:
            return False
        return self.visibility == "public" or (self.visibility == "shadow" and self.user_id == reader)


class Poll(msgspec.Struct, kw_only=True):
    poll_id: str
    room_id: str
    question: str
    options: list[str]
    created_by: str
    votes: dict[str, int] = msgspec.field(default_factory=dict)
    closed: bool = False

    def results(self, votes: Mapping[str, int] | None = None) -> list[int]:
        """Votes per option: of this poll's ``votes``, or of ``votes`` given (options in range)."""
        counts = [0] * len(self.options)
        for option in (self.votes if votes is None else votes).values():
            counts[option] += 1
        return counts


class CrowdChange(msgspec.Struct, kw_only=True, frozen=True):
    """A room whose mode and slow mode stand as crowd control set them: what it restores."""

    mode: RoomMode
    """The room's mode before crowd control's first change."""
    slow_mode_seconds: int
    """The room's slow mode before crowd control's first change."""
    node_id: str
    """The node whose crowd control made the change (each node restores its own)."""


class Restriction(msgspec.Struct, kw_only=True):
    """An active mute, ban or shadow-ban; ``until`` None means until lifted."""

    until: datetime | None
    reason: str = ""

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until


