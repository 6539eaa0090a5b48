"""The contract between the pipeline and its checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from service.moderation.normalize import TextView
from service.moderation.verdict import Finding

if TYPE_CHECKING:
    from service.moderation.policy import CompiledPolicy


class CheckInput:
    """Everything a check may read about one message; built once per message."""

    __slots__ = ("now", "policy", "room_id", "user_id", "view")

    def __init__(
        self, view: TextView, policy: CompiledPolicy, user_id: str, room_id: str, now: float
    ) -> None:
        self.view = view
        self.policy = policy
        self.user_id = user_id
        self.room_id = room_id
        self.now = now


class Check(Protocol):
    """One family of checks: pure apart from its own bounded state, synchronous, fast.

    ``name`` is the key of the check in ``Verdict.checks_ms`` and in policies' ``actions``.
    """

    name: str

    def run(self, msg: CheckInput) -> list[Finding]:
        """Return the findings for one message (an empty list when it looks fine)."""
        ...
