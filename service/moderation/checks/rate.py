"""Per-user rate limits, bursts and duplicate messages.

Runs first among the content checks: it is cheap, and a flooding user should cost as little
as possible. Every attempt is recorded, blocked ones included, so hammering the send button
keeps a flooder limited instead of resetting the window. An attempt is recorded when it is
checked, not when it is stored, so two concurrent posts count each other; the caller retracts
the sample (:meth:`RateCheck.retract`) of an attempt the event log failed to store, so a
failed commit never counts against the retry.

Copies are compared on letters and digits: ``goal number 2 what a game`` after ``goal number
1 ...`` is ordinary talk (scores, minutes, prices change), not a copy. Texts that differ only
in their numbers are near copies, a weaker ``rate.duplicate`` (0.45): alone it changes nothing,
but it adds to a lure (``join my channel ... 1``, ``... 2``), which is how a counter appended
to dodge duplicate detection is still caught.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.moderation.activity.base import ActivityStore
from service.moderation.activity.memory import MemoryActivityStore
from service.moderation.checks.base import CheckInput
from service.moderation.normalize import TextView
from service.moderation.settings import RateSettings
from service.moderation.verdict import Finding, Reason

NAME = "rate"

Sample = tuple[str, float, str]
"""What the rate limits recorded for one message: ``(user_id, time, fingerprint)``."""

EXACT_SCORE = 0.8
NEAR_SCORE = 0.45
_NOT_DIGITS = re.compile(r"[^0-9]+")
_DIGITS_MARK = "#"  # between the letters and the digits of a fingerprint (never a letter)


def fingerprint(view: TextView, min_chars: int) -> str:
    """The letters of a message, then its digits: ``Join t.me/x!!`` and ``join t.me/x`` are
    copies; ``join t.me/x 1`` and ``join t.me/x 2`` are near copies (same letters part).

    Returns "" for texts with fewer than ``min_chars`` letters (chants and emoji are
    repeated by everyone and are not spam).
    """
    if len(view.folded) < min_chars:
        return ""
    letters = view.letters()
    if len(letters) < min_chars:
        return ""
    if not view.digits:
        return letters
    return letters + _DIGITS_MARK + _NOT_DIGITS.sub("", view.folded)


class RateCheck:
    """Burst limit, sustained rate limit and duplicate detection over an activity store."""

    name = NAME

    def __init__(self, settings: RateSettings, store: ActivityStore | None = None) -> None:
        self._s = settings
        self.store: ActivityStore = store or MemoryActivityStore(
            horizon_seconds=max(
                settings.burst_window_seconds,
                settings.rate_window_seconds,
                settings.duplicate_window_seconds,
            ),
            keep=max(settings.burst_max, settings.rate_max, settings.duplicate_max) + 1,
            max_users=settings.max_users,
        )

    def observe_elsewhere(self, user_id: str, view: TextView | None, now: float) -> None:
        """Record a post made through another node (``view`` None for a refused attempt)."""
        fp = fingerprint(view, self._s.duplicate_min_chars) if view is not None else ""
        self.store.observe(user_id, now, fp)

    def retract(self, sample: Sample) -> None:
        """Forget a post :meth:`record` counted whose message was never stored."""
        self.store.retract(*sample)

    def run(self, msg: CheckInput) -> list[Finding]:
        return self.record(msg)[0]

    def record(self, msg: CheckInput) -> tuple[list[Finding], Sample]:
        """Count the post and judge it; returns the findings and the sample it recorded."""
        s, now = self._s, msg.now
        fp = fingerprint(msg.view, s.duplicate_min_chars)
        history = self.store.observe(msg.user_id, now, fp)
        sample = (msg.user_id, now, fp)
        findings: list[Finding] = []
        for code, limit, window in (
            ("rate.burst", s.burst_max, s.burst_window_seconds),
            ("rate.limit", s.rate_max, s.rate_window_seconds),
        ):
            # History is in time order: the limit is reached exactly when the limit-th most
            # recent post is still inside the window (O(1), no scan on the common path).
            if len(history) >= limit and history[-limit][0] > now - window:
                wait = max(0.0, history[-limit][0] + window - now)
                count = sum(1 for t, _ in history if t > now - window) + 1
                reason = Reason(
                    NAME, code, 1.0, f"{count} messages in {window:g} s (limit {limit})"
                )
                findings.append(Finding(reason, retry_after=round(wait, 3)))
                break
        tolerated = max(1, s.duplicate_max)
        if fp and len(history) >= tolerated:
            finding = _duplicate(fp, history, now, s.duplicate_window_seconds, tolerated)
            if finding is not None:
                findings.append(finding)
        return findings, sample


def _duplicate(
    fp: str, history: Sequence[tuple[float, str]], now: float, window: float, tolerated: int
) -> Finding | None:
    """A ``rate.duplicate`` finding when ``tolerated`` posts within ``window`` seconds before
    ``now`` are copies of ``fp`` (0.8), or copies but for their numbers (0.45)."""
    cutoff = now - window
    if history[0][0] > cutoff:  # all of it is recent
        recent = [f for _, f in history]
    else:
        recent = [f for t, f in history if t > cutoff]
    copies = recent.count(fp)
    if copies >= tolerated:
        detail = f"{copies} earlier copies in {window:g} s"
        return Finding(Reason(NAME, "rate.duplicate", EXACT_SCORE, detail))
    letters = fp.partition(_DIGITS_MARK)[0]
    near = sum(1 for f in recent if f.partition(_DIGITS_MARK)[0] == letters)
    if near >= tolerated:
        detail = f"{near} earlier copies in {window:g} s, differing only in numbers"
        return Finding(Reason(NAME, "rate.duplicate", NEAR_SCORE, detail))
    return None
