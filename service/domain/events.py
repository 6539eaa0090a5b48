"""The event envelope and the event taxonomy.

Every state change in Sideline is one of these events, appended to the log. The envelope is
stable: new fields are only ever added with defaults, and ``schema_version`` records which
envelope version wrote a row.
"""

from __future__ import annotations

import enum
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

SCHEMA_VERSION = 1


class EventType(enum.StrEnum):
    """Analytics names of every event the service writes."""

    ROOM_JOINED = "community_room_joined"
    ROOM_LEFT = "community_room_left"
    MESSAGE_SENT = "community_message_sent"
    MESSAGE_MODERATED = "community_message_moderated"
    MESSAGE_DELETED = "community_message_deleted"
    MESSAGE_REPORTED = "community_message_reported"
    MESSAGE_APPROVED = "community_message_approved"
    MESSAGE_PINNED = "community_message_pinned"
    REACTION_ADDED = "reaction_added"
    REACTION_REMOVED = "reaction_removed"
    POLL_CREATED = "poll_created"
    POLL_VOTED = "poll_voted"
    POLL_CLOSED = "poll_closed"
    USER_MUTED = "user_muted"
    USER_UNMUTED = "user_unmuted"
    USER_BANNED = "user_banned"
    USER_UNBANNED = "user_unbanned"
    USER_SHADOW_BANNED = "user_shadow_banned"
    ROOM_MODE_CHANGED = "room_mode_changed"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    REPORT_REVIEWED = "report_reviewed"
    EXPOSURE_ASSIGNED = "community_exposure_assigned"
    MODERATION_POLICY_CHANGED = "moderation_policy_changed"


class Metadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Client metadata carried on every event; all optional, never trusted for authorisation."""

    device: str | None = None
    language: str | None = None
    message_type: str | None = None
    app_version: str | None = None
    session_id: str | None = None


class Event(msgspec.Struct, kw_only=True):
    """One row of the event log.

    ``seq``, ``epoch`` and ``node_id`` are assigned by the log writer when the event is
    committed; before that ``seq`` is 0. ``payload`` holds the type-specific fields as a
    JSON object (for a message: text, masked flag, visibility, reply_to ...).
    """

    event_id: str
    event_type: EventType
    occurred_at: datetime
    user_id: str
    room_id: str
    context_id: str
    actor_id: str | None = None
    message_id: str | None = None
    metadata: Metadata = msgspec.field(default_factory=Metadata)
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    seq: int = 0
    epoch: str = ""
    node_id: str = ""
    schema_version: int = SCHEMA_VERSION


def utcnow() -> datetime:
    """The current time, timezone-aware UTC, truncated to microseconds (DuckDB's precision)."""
    return datetime.now(UTC)


def uuid7(at: datetime | None = None) -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits; sorts by time."""
    ms = int((at.timestamp() if at else time.time()) * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFFFFFFFFFF) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    # The canonical 8-4-4-4-12 text, formatted directly (a third of the cost of uuid.UUID).
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7_time(value: str) -> datetime | None:
    """The time a UUIDv7 was made (to the millisecond), or None when ``value`` is not one."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return None
    if parsed.version != 7 or len(value) != 36:
        return None
    return datetime.fromtimestamp((parsed.int >> 80) / 1000, UTC)


def acted_by(event: Event, actor: str) -> Event:
    """``event`` with ``actor_id`` set to ``actor`` even where ``user_id`` is the actor too.

    For an event whose subject is no user (a room's settings, a pinned message, a policy),
    ``user_id`` holds the actor only because every event names a user: ``actor_id`` still says
    who acted, as on a mute or a ban, so an audit reads one column. (:func:`new_event` leaves
    ``actor_id`` out where it equals ``user_id``, the subject acting on themselves.)
    """
    event.actor_id = actor
    return event


def new_event(
    event_type: EventType,
    *,
    user_id: str,
    room_id: str,
    context_id: str | None = None,
    actor_id: str | None = None,
    message_id: str | None = None,
    metadata: Metadata | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Build an uncommitted event with a fresh UUIDv7 id."""
    at = occurred_at or utcnow()
    return Event(
        event_id=uuid7(at),
        event_type=event_type,
        occurred_at=at,
        user_id=user_id,
        room_id=room_id,
        context_id=context_id or room_id,
        actor_id=actor_id if actor_id != user_id else None,
        message_id=message_id,
        metadata=metadata or Metadata(),
        payload=payload or {},
    )
