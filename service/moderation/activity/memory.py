"""In-process activity store: an LRU of users, each with a short ring of recent posts."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence


class MemoryActivityStore:
    """Bounded in-memory :class:`~service.moderation.activity.base.ActivityStore`.

    Args:
        horizon_seconds: posts older than this are never returned (and are dropped lazily).
        keep: most posts remembered per user.
        max_users: most users remembered; the least recently seen are evicted first.
    """

    def __init__(self, *, horizon_seconds: float, keep: int, max_users: int) -> None:
        if horizon_seconds <= 0 or keep < 1 or max_users < 1:
            raise ValueError("horizon_seconds, keep and max_users must be positive")
        self._horizon = horizon_seconds
        self._keep = keep
        self._max_users = max_users
        self._users: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()

    def observe(self, user_id: str, now: float, fingerprint: str) -> Sequence[tuple[float, str]]:
        users = self._users
        posts = users.get(user_id)
        if posts is None:
            posts = users[user_id] = deque(maxlen=self._keep)
            if len(users) > self._max_users:
                users.popitem(last=False)
        else:
            users.move_to_end(user_id)
            cutoff = now - self._horizon
            while posts and posts[0][0] < cutoff:
                posts.popleft()
        history = tuple(posts)
        posts.append((now, fingerprint))
        return history

    def retract(self, user_id: str, now: float, fingerprint: str) -> None:
        posts = self._users.get(user_id)
        if posts is None:
            return  # evicted meanwhile: nothing of it is left to count
        for i in range(len(posts) - 1, -1, -1):
            if posts[i] == (now, fingerprint):
                del posts[i]
                return

    def forget(self, user_id: str) -> None:
        self._users.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._users)
