"""Presence stores: who is in which room, merged across nodes, expiring when a node dies."""

from service.realtime.presence.base import PresenceStore, RoomPresence

__all__ = ["PresenceStore", "RoomPresence"]
