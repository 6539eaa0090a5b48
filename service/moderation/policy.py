"""From findings to one action: the policy ladder, per-check actions, and when to stop early.

Rules (documented in docs/moderation.md):

1. A finding whose code, or else whose check, is named in ``policy.actions`` takes that action
   once the combined score of the findings sharing that action reaches ``act_at`` (below it,
   the findings are recorded but change nothing: one plain link is not spam, a link plus
   "DM me" is).
2. The other findings are combined as independent evidence, ``1 - prod(1 - score)``, and the
   combined score climbs the ladder ``shadow_at`` / ``hold_at`` / ``block_at``.
3. The most severe action wins; spans of every finding that acts are masked.
"""

from __future__ import annotations

from service.moderation.checks.blocklist import WordMatcher
from service.moderation.checks.wordlists import default_entries
from service.moderation.settings import Policy
from service.moderation.verdict import Action, Finding


class CompiledPolicy:
    """A policy plus what is expensive to build from it (its word matcher)."""

    __slots__ = ("kind", "policy", "words")

    def __init__(self, kind: str, policy: Policy) -> None:
        self.kind = kind
        self.policy = policy
        base = default_entries() if policy.default_blocklist else ()
        self.words = WordMatcher((*base, *policy.blocklist), policy.allowlist)

    def rule(self, finding: Finding) -> Action | None:
        """The per-check action for ``finding``, or None when the ladder decides."""
        actions = self.policy.actions
        reason = finding.reason
        return actions.get(reason.code) or actions.get(reason.check)


class Tally:
    """Accumulates findings and keeps the action so far, so the pipeline can stop early.

    ``action`` is a plain attribute, updated only when findings arrive: ordinary messages
    have none, and reading it costs nothing.
    """

    __slots__ = (
        "_floor",
        "_ladder",
        "_ladder_keep",
        "_rule_action",
        "_rule_keep",
        "action",
        "compiled",
        "findings",
    )

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.compiled = compiled
        self.findings: list[Finding] = []
        self.action = Action.ALLOW
        self._ladder = Action.ALLOW
        self._ladder_keep = 1.0  # prod(1 - score) over ladder findings
        self._rule_action = Action.ALLOW
        self._rule_keep: dict[Action, float] = {}  # prod(1 - score) per per-check action
        self._floor = Action.ALLOW

    def add(self, findings: list[Finding]) -> None:
        if not findings:
            return
        policy = self.compiled.policy
        for finding in findings:
            self.findings.append(finding)
            score = finding.reason.score
            action = self.compiled.rule(finding)
            if action is None:
                self._ladder_keep *= 1.0 - score
            else:
                keep = self._rule_keep[action] = self._rule_keep.get(action, 1.0) * (1.0 - score)
                if 1.0 - keep >= policy.act_at and action.severity > self._rule_action.severity:
                    self._rule_action = action
        self._ladder = _ladder(1.0 - self._ladder_keep, policy)
        self._decide()

    def floor(self, action: Action) -> None:
        """Never decide anything milder than ``action`` (a failed provider failing closed)."""
        if action.severity > self._floor.severity:
            self._floor = action
            self._decide()

    def _decide(self) -> None:
        best = self._ladder
        for action in (self._rule_action, self._floor):
            if action.severity > best.severity:
                best = action
        self.action = best

    @property
    def score(self) -> float:
        """Combined score over all findings (ladder and per-check alike)."""
        keep = 1.0
        for finding in self.findings:
            keep *= 1.0 - finding.reason.score
        return round(1.0 - keep, 4)

    def acting(self, finding: Finding) -> bool:
        """Whether ``finding`` contributes an action (its spans are then masked)."""
        score = finding.reason.score
        if score <= 0.0:
            return False
        action = self.compiled.rule(finding)
        if action is None:
            return self._ladder is not Action.ALLOW
        keep = self._rule_keep.get(action, 1.0)
        return action is not Action.ALLOW and 1.0 - keep >= self.compiled.policy.act_at


def _ladder(combined: float, policy: Policy) -> Action:
    if combined >= policy.block_at:
        return Action.BLOCK
    if combined >= policy.hold_at:
        return Action.HOLD
    if combined >= policy.shadow_at:
        return Action.SHADOW
    return Action.ALLOW
