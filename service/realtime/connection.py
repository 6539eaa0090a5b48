"""One authenticated socket as the hub sees it: who, which rooms, and its outbox."""

from __future__ import annotations

from service.identity import Identity
from service.protocol import frames as f
from service.realtime.outbox import Outbox


class Connection:
    """A socket after ``auth``; identity may be refreshed by a later ``auth`` of the same user."""

    __slots__ = ("identity", "name", "outbox", "rooms", "user_id")

    def __init__(self, identity: Identity, outbox: Outbox) -> None:
        self.identity = identity
        self.user_id = identity.user_id
        self.name = identity.name
        self.outbox = outbox
        self.rooms: set[str] = set()

    def send(self, frame: f.ServerFrame) -> bool:
        """Encode and queue one frame for this socket only (replies, notices)."""
        return self.outbox.push({"type": "websocket.send", "text": f.encode(frame)})

    def send_unbounded(self, frame: f.ServerFrame) -> None:
        """Queue a reply even over the outbox limit (a join's history is bounded by itself)."""
        self.outbox.push({"type": "websocket.send", "text": f.encode(frame)}, bounded=False)
