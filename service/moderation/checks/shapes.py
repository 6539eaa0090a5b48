"""Reason codes found by the shape of a phrase: regexes gated by trigger tokens.

Shared by the checks that must tell a threat or hate from the same words in ordinary chat
(:mod:`threat`, :mod:`hate`): each code has one or more patterns, a pattern runs only when one
of its trigger words is among the message's tokens (a C-level set test, so ordinary chat pays
one intersection), and a code gives at most one finding, its first match that the check's veto
does not cancel.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from service.moderation.normalize import TextView
from service.moderation.verdict import Finding, Reason

Family = tuple[str, str, str]
"""``(code, trigger words separated by spaces, pattern)``."""


class Shapes:
    """The compiled families of one check, every finding scored ``score``."""

    def __init__(
        self,
        check: str,
        score: float,
        families: Sequence[Family],
        veto: Callable[[str, re.Match[str]], bool] | None = None,
    ) -> None:
        self._check, self._score, self._veto = check, score, veto
        self._families = [
            (code, frozenset(triggers.split()), re.compile(pattern))
            for code, triggers, pattern in families
        ]
        self._triggers = frozenset().union(*(f[1] for f in self._families))

    def find(self, view: TextView, found: Sequence[Finding] = ()) -> list[Finding]:
        """One finding per code whose pattern matches ``view`` (codes already in ``found``
        are not looked for again); ``veto(folded, match)`` true cancels a match."""
        present = view.token_set
        if self._triggers.isdisjoint(present):
            return []
        folded = view.folded
        codes = {f.reason.code for f in found}
        findings: list[Finding] = []
        for code, triggers, pattern in self._families:
            if code in codes or triggers.isdisjoint(present):
                continue
            for m in pattern.finditer(folded):
                if self._veto is not None and self._veto(folded, m):
                    continue
                reason = Reason(self._check, code, self._score, f"matched {m.group()!r}")
                findings.append(Finding(reason))
                codes.add(code)
                break
        return findings
