"""Blocklists and allowlists: whole-word matching that sees through leetspeak and spacing.

Matching runs on the folded text (homoglyphs, zero-width characters, full-width and accented
forms already resolved) and works per token, so ``class``, ``assassin`` and ``Scunthorpe``
never match ``ass`` or ``cunt``. A token matches when it, or one of its evasion variants, is a
blocked word: leetspeak folded (``sh1t``, ``$h!t``, ``he11``, ``n166er``; ``1``, ``!`` and
``|``, and the look-alike strokes folding makes ``|``, are tried as ``i`` and as ``l``), edge
symbols dropped, letters strung on a symbol joined (``f|u|c|k``, ``f+u+c+k``), stretched
letters collapsed (``fuuuuck``), a plural ``s`` added, or when it starts or ends with a
strong stem (``fuckoff``, ``bullshit``). Runs of single characters (``s h i t``,
``f.u.c.k``) are joined and matched the same way, and so are two fragments of two letters
or more that join into a word with a strong stem (``fu ck``, ``cu nt``, ``bull sh it`` is
``sh it``); ordinary words cut in two (``he ll``) are left alone. Multi-word entries match as
phrases.

Ordinary chat leaves through a fast path of set intersections and a few C-level scans; the
per-token loop runs only when something in the message looks like a word, a stem, leetspeak,
stretching or spacing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

from service.moderation.checks.base import CheckInput
from service.moderation.checks.wordlists import DEFAULT_ALLOW, STRONG_PREFIXES, STRONG_SUFFIXES
from service.moderation.normalize import TOKEN, TextView, fold
from service.moderation.verdict import Finding, Reason

NAME = "blocklist"

_NON_LETTERS = re.compile(r"[^a-z]+")
_LEET_CHARS = frozenset("0123456789@$!|+€_")
_SUSPECT = re.compile(r"[a-z][0-9@$!|+€_]|[0-9@$!|+€_][a-z]")
_TRIPLE = re.compile(r"([a-z])\1\1")  # stretched letters (folded text is lower-case)
_RUN3 = re.compile(r"(.)\1{2,}")
_RUN2 = re.compile(r"(.)\1+")
_SEP_MARKS = "._-*/~,:;·•"
"""What may stand between the letters of a word spread out (``f.u.c.k``) or cut in two, besides
whitespace (any whitespace between single letters; spaces and tabs between fragments)."""
_SEP = rf"[\s{re.escape(_SEP_MARKS)}]"
_SPACED = re.compile(rf"(?<![\w@$!|+€])(?:[\w@$!|+€]{_SEP}{{1,3}}){{2,}}[\w@$!|+€](?![\w@$!|+€])")
_SPLIT_SEP = frozenset(" \t" + _SEP_MARKS)
_LEET_I = str.maketrans("0134567890@$!|+€", "oieasgtbgoasiite")
_LEET_L = str.maketrans("0134567890@$!|+€", "oleasgtbgoasllte")
_STRUNG = re.compile(r"(?:[a-z][|+!]){2,}[a-z]")
"""Letters strung on one symbol (``f|u|c|k``, ``f+u+c+k``): the symbols are separators."""

Hit = tuple[int, int, str, bool]
"""``(start, end, matched word, evasive)`` in folded-text offsets."""


def canonical(token: str) -> str:
    """A token with leetspeak folded and non-letters removed; pure numbers stay as they are."""
    if token.isdigit():
        return token
    return _NON_LETTERS.sub("", token.translate(_LEET_I))


def _variants(token: str, stretched: bool) -> list[str]:
    """Evasion variants of a folded token that is not itself a hit (all count as evasive)."""
    if token.isalpha():
        words = []
    elif token.isdigit():
        return []
    else:
        words = [
            _NON_LETTERS.sub("", token.translate(_LEET_I)),
            _NON_LETTERS.sub("", token.translate(_LEET_L)),
        ]
        stripped = token.strip("@$!|+_")
        if stripped and stripped != token:
            words.append(_NON_LETTERS.sub("", stripped.translate(_LEET_I)))
        if _STRUNG.fullmatch(token):
            words.append(token[::2])
    if stretched:
        for word in [token, *words]:
            if _TRIPLE.search(word) or (word is not token and _RUN2.search(word)):
                words += [_RUN3.sub(r"\1", word), _RUN3.sub(r"\1\1", word), _RUN2.sub(r"\1", word)]
    return words


class WordMatcher:
    """Compiled blocklist for one policy: words, phrases, allowlist and strong stems."""

    def __init__(self, blocked: Iterable[str], allowed: Iterable[str] = ()) -> None:
        allow: set[str] = set()
        allow_phrases: list[list[str]] = []
        for entry in (*DEFAULT_ALLOW, *allowed):
            tokens = TOKEN.findall(fold(entry))
            if len(tokens) == 1:
                allow.add(canonical(tokens[0]))
            elif tokens:  # "dick advocaat": the words are fine together, not alone
                allow_phrases.append(tokens)
        words: set[str] = set()
        phrases: list[list[str]] = []
        for entry in blocked:
            tokens = TOKEN.findall(fold(entry))
            if tokens and all(len(t) == 1 for t in tokens):
                tokens = ["".join(tokens)]  # "f.u.c.k" is the word "fuck"
            canon = [canonical(t) for t in tokens]
            if len(canon) == 1:
                words.add(canon[0])
            elif len(canon) > 1:
                phrases.append(canon)
                words.add(canonical("".join(tokens)))
        words -= allow
        words.discard("")
        plurals = {w + "s" for w in words if len(w) > 3} - allow
        self.allow = frozenset(allow)
        self.words = frozenset(words | plurals)
        # A stem matches inside words only when the stem itself is blocked by this policy.
        self.prefixes = tuple(s for s in STRONG_PREFIXES if s in words)
        self.suffixes = tuple(s for s in STRONG_SUFFIXES if s in words)
        self._stems = tuple(set(self.prefixes) | set(self.suffixes))
        # First fragments of a strong stem cut in two ("fu" of "fu ck"): a token among them
        # is what sends a message through the split-word scan.
        self._split_heads = frozenset(
            stem[:i] for stem in self._stems for i in range(2, len(stem) - 1)
        )
        self._phrase_heads = frozenset(p[0] for p in phrases)
        self._phrases = _phrase_pattern(phrases)
        self._allow_heads = frozenset(p[0] for p in allow_phrases)
        self._allow_phrases = _phrase_pattern(allow_phrases)

    def _word_hit(self, word: str) -> bool:
        if not word or word in self.allow:
            return False
        if word in self.words:
            return True
        return len(word) > 3 and (word.startswith(self.prefixes) or word.endswith(self.suffixes))

    def find(self, view: TextView) -> list[Hit]:
        """Blocked words in a message, as ``(start, end, word, evasive)`` folded offsets."""
        folded, present = view.folded, view.token_set
        direct = not self.words.isdisjoint(present)
        stretched = _TRIPLE.search(folded) is not None
        leet = not _LEET_CHARS.isdisjoint(folded) and _SUSPECT.search(folded) is not None
        stems = any(stem in folded for stem in self._stems)
        hits: list[Hit] = []
        if direct or stretched or leet or stems:
            hits = self._tokens(folded, stretched, leet or stems)
        if view.singles() >= 3:
            hits.extend(h for h in self._spaced(folded) if not _covered(h, hits))
        if not self._split_heads.isdisjoint(present):
            hits.extend(h for h in self._split(folded) if not _covered(h, hits))
        if self._phrases is not None and not self._phrase_heads.isdisjoint(present):
            hits.extend(
                (m.start(), m.end(), m.group(), False) for m in self._phrases.finditer(folded)
            )
        if hits and self._allow_phrases is not None and not self._allow_heads.isdisjoint(present):
            allowed = [
                (m.start(), m.end(), "", False) for m in self._allow_phrases.finditer(folded)
            ]
            hits = [h for h in hits if not _covered(h, allowed)]
        return hits

    def _tokens(self, folded: str, stretched: bool, deep: bool) -> list[Hit]:
        """Examine tokens one by one; ``deep`` also tries stems and leetspeak variants."""
        hits = []
        words, allow = self.words, self.allow
        for m in TOKEN.finditer(folded):
            token = m.group()
            if token in words and token not in allow:
                hits.append((m.start(), m.end(), token, False))
                continue
            if len(token) == 1 or token in allow or token.isdigit():
                continue
            if token.isalpha() and not (deep or (stretched and _TRIPLE.search(token))):
                continue
            if self._word_hit(token):
                hits.append((m.start(), m.end(), token, False))
                continue
            for word in _variants(token, stretched):
                if self._word_hit(word):
                    hits.append((m.start(), m.end(), word, True))
                    break
        return hits

    def _spaced(self, folded: str) -> list[Hit]:
        hits = []
        for m in _SPACED.finditer(folded):
            joined = "".join(TOKEN.findall(m.group()))
            if canonical(joined) in self.allow:
                continue
            for word in (joined, *_variants(joined, True)):
                if self._word_hit(word) or any(s in word for s in self.prefixes):
                    hits.append((m.start(), m.end(), word, True))
                    break
        return hits

    def _split(self, folded: str) -> list[Hit]:
        """Two adjacent fragments (2+ letters each, apart by spaces, tabs or separator marks
        only, never an apostrophe: ``who're`` is fine) that join into exactly a blocked word
        with a strong stem (``bit chilly`` joins into no blocked word)."""
        hits = []
        for a, b in pairwise(TOKEN.finditer(folded)):
            head, tail = a.group(), b.group()
            sep = folded[a.end() : b.start()]
            if head not in self._split_heads or len(tail) < 2 or not _SPLIT_SEP.issuperset(sep):
                continue
            word = canonical(head + tail)
            strong = word.startswith(self.prefixes) or word.endswith(self.suffixes)
            if strong and word in self.words and word not in self.allow:
                hits.append((a.start(), b.end(), word, True))
        return hits


def _phrase_pattern(phrases: list[list[str]]) -> re.Pattern[str] | None:
    """One regex matching any of the phrases, words separated by anything but word chars."""
    if not phrases:
        return None
    return re.compile("|".join(r"\b" + r"\W+".join(map(re.escape, p)) + r"\b" for p in phrases))


def _covered(hit: Hit, hits: list[Hit]) -> bool:
    return any(start <= hit[0] and hit[1] <= end for start, end, _, _ in hits)


class BlocklistCheck:
    """Blocked words per policy; the matcher lives on the compiled policy."""

    name = NAME

    def run(self, msg: CheckInput) -> list[Finding]:
        view = msg.view
        hits = msg.policy.words.find(view)
        if not hits:
            return []
        findings = []
        for start, end, word, evasive in hits:
            if not evasive:
                a, b = view.to_original(start, end)
                evasive = view.text[a:b].lower() != view.folded[start:end]
            code = "blocklist.evasion" if evasive else "blocklist.word"
            reason = Reason(NAME, code, 1.0, f"matched {word!r}")
            findings.append(Finding(reason, spans=((start, end, ""),)))
        return findings
