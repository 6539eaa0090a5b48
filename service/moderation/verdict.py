"""What the pipeline returns: the action, the combined score, the reasons and the final text.

These types are the moderation vocabulary the rest of the service speaks: the send path turns a
:class:`Verdict` into a ``community_message_moderated`` event payload (``action``, ``score``,
``reasons``, ``checks_ms``) and stores :attr:`Verdict.text` as the message text.
"""

from __future__ import annotations

import enum

import msgspec


class Action(enum.StrEnum):
    """What happens to a message, in increasing severity."""

    ALLOW = "allow"
    """Shown to everyone as sent."""
    MASK = "mask"
    """Shown to everyone with the offending parts (PII, masked words) replaced."""
    SHADOW = "shadow"
    """Shown only to its sender, who is told (a ``shadowed`` notice); a moderator's shadow-ban,
    unlike this verdict, is silent."""
    HOLD = "hold"
    """Shown to nobody until a moderator approves it."""
    BLOCK = "block"
    """Refused; the sender is told."""

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.MASK: 1, Action.SHADOW: 2, Action.HOLD: 3, Action.BLOCK: 4}
BY_SEVERITY = tuple(sorted(Action, key=lambda a: a.severity))


class Reason(msgspec.Struct, frozen=True):
    """One piece of evidence: which check, what it found, how sure it is (0..1), details."""

    check: str
    code: str
    score: float
    detail: str = ""


class Verdict(msgspec.Struct, kw_only=True):
    """The pipeline's decision about one message.

    ``text`` is what may be shown: PII is replaced (``[phone]``, ``[email]``, ``[card]``,
    ``[iban]``), words a policy masks become ``*``, control characters are removed. It equals
    the input exactly when ``altered`` is false. ``checks_ms`` holds the time each check took
    (unrounded; :meth:`payload` rounds to 0.1 µs).
    """

    action: Action
    score: float
    reasons: list[Reason]
    text: str
    altered: bool
    checks_ms: dict[str, float]
    retry_after: float | None = None
    """Seconds until a rate-limited sender may post again (set only by rate limits)."""
    rate_sample: tuple[str, float, str] | None = None
    """What the rate limits counted for this message (None when they did not run); give it to
    ``Pipeline.retract`` if the message could not be stored. Not part of the payload."""

    def payload(self) -> dict[str, object]:
        """The ``community_message_moderated`` event payload for this verdict."""
        return {
            "action": self.action.value,
            "score": self.score,
            "reasons": [msgspec.structs.asdict(r) for r in self.reasons],
            "checks_ms": {name: round(ms, 4) for name, ms in self.checks_ms.items()},
        }


class MessageContext(msgspec.Struct, kw_only=True, frozen=True):
    """Who posts where, and when.

    ``room_kind`` selects the policy (``match``, ``team`` ... or a named policy). ``now`` is
    seconds on the caller's clock (monotonic is fine); when omitted the pipeline's injected
    clock is read. Rate limits and duplicate windows are measured on this clock.
    """

    user_id: str
    room_id: str
    room_kind: str
    now: float | None = None


class Finding(msgspec.Struct, frozen=True):
    """A reason plus the spans of text it concerns, in folded-text coordinates.

    ``spans`` are ``(start, end, replacement)``; an empty replacement means "stars of the
    original length". Spans are masked only when the policy maps the finding to an action.
    """

    reason: Reason
    spans: tuple[tuple[int, int, str], ...] = ()
    retry_after: float | None = None
    """For rate limits: seconds until the sender is under the limit again."""
