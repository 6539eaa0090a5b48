"""The activity port: remember what each user posted recently, and when."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ActivityStore(Protocol):
    """Recent posts per user, bounded in users and in posts per user.

    Implementations must bound their memory (evict the least recently seen users, keep at most
    ``keep`` posts per user) and return history in ascending time order. The rate check calls
    :meth:`observe` once per message, before any content check, so blocked attempts count too,
    and :meth:`retract` when the message's commit failed.
    A shared (Redis) implementation would do the read and the append in one round trip.
    """

    def observe(self, user_id: str, now: float, fingerprint: str) -> Sequence[tuple[float, str]]:
        """Record a post and return the user's earlier posts as ``(time, fingerprint)``.

        Only posts newer than the store's horizon are returned; the new post is not included.
        """
        ...

    def retract(self, user_id: str, now: float, fingerprint: str) -> None:
        """Remove the post :meth:`observe` recorded at ``now`` with ``fingerprint`` (the most
        recent such one): the message it stood for was never stored, so it must not count."""
        ...

    def forget(self, user_id: str) -> None:
        """Drop everything remembered about ``user_id`` (erasure, unmute)."""
        ...
