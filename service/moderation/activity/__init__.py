"""Per-user recent activity behind a small port (memory now; Redis when many nodes share it)."""

from service.moderation.activity.base import ActivityStore
from service.moderation.activity.memory import MemoryActivityStore

__all__ = ["ActivityStore", "MemoryActivityStore"]
