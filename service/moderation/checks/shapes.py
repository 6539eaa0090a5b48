"""Reason codes found by the shape of a phrase: regexes gated by trigger tokens.

Shared by the checks that must tell a threat or hate from the same words in ordinary chat
(:mod:`threat`, :mod:`hate`): each code has one or more patterns, a pattern runs only when one
of its trigger words is among the message's tokens (a C-level set test, so ordinary chat pays
one intersection), and a code gives at most one finding, its first match that the check's veto
does not cancel.

Leetspeak is resolved here too, for the words the patterns know: a token spelt with digits or
symbols (``k!ll``, ``ki11``, ``j3ws``, ``mu$lims``) or with a run of ``i`` where ``l`` was
typed as a capital ``I`` (``kiII`` folds to ``kiii``) is read as the pattern word it spells,
and the patterns then also run over the message with those tokens respelt. Only words that
occur in the patterns are ever substituted, so ``3pm`` or ``u21`` stay what they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from itertools import product

from service.moderation.normalize import TextView
from service.moderation.verdict import Finding, Reason

Family = tuple[str, str, str]
"""``(code, trigger words separated by spaces, pattern)``."""

Veto = Callable[[str, re.Match[str]], bool]
"""``veto(text, match)``: true cancels the match (``text`` is the string it was found in)."""

_LEET = str.maketrans("03456789@$+€", "oeasgtbgaste")
_AMBIGUOUS = frozenset("1!|")  # an i or an l: both are tried
_NOT_LETTERS = re.compile(r"[^a-z]+")
_MAX_AMBIGUOUS = 5  # 32 spellings at most per token
_LEETY = re.compile(r"[a-z][0-9@$!|+€]+[a-z]|[a-z]{2}[1|]+(?![\w@$!|+€])|ii")
"""A token that may be leetspeak: a digit or symbol between letters (``k!ll``, ``j3ws``), a
``1`` or ``|`` after two of them (``ki11``), or ``ii`` (``kiII`` folded). ``3pm``, ``P1``,
``u21``, ``@mike`` and ``goal!!!`` are not."""


def spellings(token: str) -> Iterator[str]:
    """The words a leetspeak token may spell: digits and symbols read as letters, each ``1``,
    ``!`` or ``|`` (and each ``i`` of a token with ``ii``) tried as ``i`` and as ``l``."""
    base = token.translate(_LEET)
    doubled = "ii" in base
    slots = [i for i, c in enumerate(base) if c in _AMBIGUOUS or (doubled and c == "i")]
    if not slots:
        yield _NOT_LETTERS.sub("", base)
        return
    chars = list(base)
    for letters in product("il", repeat=min(len(slots), _MAX_AMBIGUOUS)):
        for slot, letter in zip(slots, letters, strict=False):
            chars[slot] = letter
        yield _NOT_LETTERS.sub("", "".join(chars))


class Shapes:
    """The compiled families of one check, every finding scored ``score``."""

    def __init__(
        self, check: str, score: float, families: Sequence[Family], veto: Veto | None = None
    ) -> None:
        self._check, self._score, self._veto = check, score, veto
        self._families = [
            (code, frozenset(triggers.split()), re.compile(pattern))
            for code, triggers, pattern in families
        ]
        self._triggers = frozenset().union(*(f[1] for f in self._families))
        # Words a leetspeak token may be read as: the triggers and every word of three
        # letters or more the patterns spell out (``you``, ``are``, ``yourself`` ...).
        self._vocabulary = self._triggers | {
            w for _, _, pattern in families for w in re.findall(r"[a-z]{3,}", pattern)
        }

    def _respelt(
        self, view: TextView, leety: bool, spelt: bool
    ) -> tuple[str, frozenset[str]] | None:
        """The message with its leetspeak tokens (when ``leety``), and its words spelt out a
        letter at a time (``k.i.l.l``, when ``spelt``), respelt as pattern words, or None when
        none is. Tokens are joined by single spaces: punctuation is not kept."""
        tokens = self._joined(view.tokens) if spelt else view.tokens
        out: list[str] | None = None if tokens is view.tokens else list(tokens)
        for i, token in enumerate(tokens if leety else ()):
            if token.isalpha():
                if "ii" not in token:
                    continue
            elif token.isdigit() or _LEETY.search(token) is None:
                continue
            word = next((w for w in spellings(token) if w in self._vocabulary), None)
            if word is not None and word != tokens[i]:
                if out is None:
                    out = list(tokens)
                out[i] = word
        if out is None:
            return None
        return " ".join(out), frozenset(out)

    def _joined(self, tokens: list[str]) -> list[str]:
        """``tokens`` with each run of three or more one-character tokens that spells a
        pattern word replaced by that word (the same list when there is none)."""
        out: list[str] = []
        run: list[str] = []
        changed = False
        for token in [*tokens, ""]:
            if len(token) == 1:
                run.append(token)
                continue
            if len(run) >= 3:
                word = next((w for w in spellings("".join(run)) if w in self._vocabulary), None)
                if word is not None:
                    run, changed = [word], True
            out.extend(run)
            run = []
            if token:
                out.append(token)
        return out if changed else tokens

    def find(self, view: TextView, found: Sequence[Finding] = ()) -> list[Finding]:
        """One finding per code whose pattern matches ``view`` (codes already in ``found``
        are not looked for again); ``veto(text, match)`` true cancels a match."""
        present = view.token_set
        texts: tuple[str, ...] = (view.folded,)
        leety, spelt = view.evasion_hints()
        if leety or spelt:
            respelt = self._respelt(view, leety, spelt)
            if respelt is not None:
                texts = (view.folded, respelt[0])
                present = present | respelt[1]
        if self._triggers.isdisjoint(present):
            return []
        codes = {f.reason.code for f in found}
        findings: list[Finding] = []
        veto = self._veto
        for code, triggers, pattern in self._families:
            if code in codes or triggers.isdisjoint(present):
                continue
            for text in texts:
                m = next((m for m in pattern.finditer(text) if not veto or not veto(text, m)), None)
                if m is not None:
                    reason = Reason(self._check, code, self._score, f"matched {m.group()!r}")
                    findings.append(Finding(reason))
                    codes.add(code)
                    break
        return findings
