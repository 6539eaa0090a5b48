"""The folded view every text check reads: one canonical form that evasion cannot dodge.

Folding is per character, so a folded span maps back to the original text for masking:

* zero-width, bidi-control, soft-hyphen, variation-selector and other format characters vanish;
* every decimal digit of any script (full-width, Arabic-Indic, Devanagari ...) becomes ASCII;
* NFKD compatibility forms fold (full-width, mathematical, circled, ligatures) and combining
  marks are dropped (``fúck`` -> ``fuck``);
* homoglyphs of Latin letters from look-alike scripts (Cyrillic ``ѕ``, Greek ``ο`` and
  ``κ``, Lisu, small capitals ...) become the Latin letter, and so do Latin letters with a
  hook, stroke or tail that NFKD leaves alone (``ƒ``, ``ʂ``, ``ł``) and enclosed letters it
  leaves alone (negative circled and squared: ``🅢``, ``🆂``); scripts that are not
  look-alike alphabets (Arabic, Devanagari, CJK ...) are left alone, so real text in them is
  never rewritten into Latin; regional-indicator letters stay too (they make flags);
* a vertical stroke that reads as a capital I or a small l (Greek ``Ι``, Cyrillic ``І``
  and ``Ӏ``, Lisu ``ꓲ`` ...) becomes ``|``, which the word checks read as either letter,
  as they read ``1`` and ``|`` typed by hand;
* everything is lower-cased.

Leetspeak and spaced-out letters are resolved later, per token, by the word checks: folding
``1`` into ``i`` here would destroy the digits the PII checks look for.

ASCII text, the bulk of live chat, takes a fast path (``str.lower``); other text goes through
``str.translate`` with a table that fills itself lazily and is shared by all pipelines.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

_INVISIBLE = frozenset(
    [
        173,
        847,
        1564,
        4447,
        4448,
        6068,
        6069,
        6158,
        10240,  # braille pattern blank: renders as an empty cell
        12644,
        65279,
        65440,
        *list(range(8203, 8208)),
        *list(range(8234, 8239)),
        *list(range(8288, 8304)),
        *list(range(65024, 65040)),
        *list(range(917504, 917632)),
    ]
)
"""Characters removed from the folded view (they render as nothing, or only steer layout)."""

# Scripts whose letters are real words in living languages; folding them would turn ordinary
# text into Latin gibberish that might collide with a blocked word.
_NO_HOMOGLYPH_SCRIPTS = (
    "ARABIC", "HEBREW", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI", "ORIYA", "TAMIL",
    "TELUGU", "KANNADA", "MALAYALAM", "SINHALA", "THAI", "LAO", "TIBETAN", "MYANMAR",
    "GEORGIAN", "ETHIOPIC", "CJK", "HANGUL", "HIRAGANA", "KATAKANA", "SYRIAC", "THAANA", "NKO",
)  # fmt: skip

# Lower-case Cyrillic and Greek letters that look Latin in common fonts but are missing from
# the Unicode confusables data; they are the usual "faux Cyrillic" and Greek evasion (ѕһіт,
# мотнег, fucκ, ғυcκ). Capitals are looked up lower-cased when the data lacks them.
_EXTRA_HOMOGLYPHS = {
    "к": "k", "м": "m", "т": "t", "н": "h", "в": "b", "ԍ": "g", "ɡ": "g", "ь": "b", "п": "n",
    "ш": "w", "ғ": "f", "қ": "k", "ҝ": "k", "ҟ": "k", "ҡ": "k", "ң": "h", "ҫ": "c", "ҭ": "t",
    "ұ": "y", "ҳ": "x", "ԁ": "d", "ԝ": "w", "ӏ": "|",
    "β": "b", "ε": "e", "η": "n", "κ": "k", "ϰ": "k", "μ": "u", "ς": "c", "τ": "t", "χ": "x",
    "ω": "w",
}  # fmt: skip

# Capital-I look-alikes that are also small-l look-alikes: which one the writer meant is
# unknowable, so they fold to "|", the leetspeak stroke the word checks try both ways.
_I_OR_L = "ƖǀΙІӀᛁ∣⏽Ⲓⵏꓲ𐊊𐌉𐌠𖼨"

# Latin letters NFKD does not decompose ("LATIN SMALL LETTER F WITH HOOK") and enclosed
# letters it does not unwrap ("NEGATIVE SQUARED LATIN CAPITAL LETTER S"): named after the
# letter they carry. Regional indicators are not among them: pairs of them are flags.
_NAMED_LETTER = re.compile(
    r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z]) WITH "
    r"|(?:NEGATIVE )?(?:CIRCLED|SQUARED) LATIN (?:CAPITAL|SMALL) LETTER ([A-Z])$"
)
_NAMED_RANGES = (
    (0x00C0, 0x02B0), (0x1E00, 0x1F00), (0x2C60, 0x2C80), (0xA720, 0xA800), (0xAB30, 0xAB70),
    (0x1DF00, 0x1E000), (0x1F100, 0x1F200),
)  # fmt: skip


@functools.cache
def homoglyphs() -> dict[str, str]:
    """Non-ASCII character -> the ASCII lower-case letter it imitates (built once)."""
    ref = resources.files("confusable_homoglyphs").joinpath("confusables.json")
    data: dict[str, list[dict[str, str]]] = json.loads(ref.read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for char, entries in data.items():
        if len(char) != 1 or char.isascii():
            continue
        if unicodedata.name(char, "").startswith(_NO_HOMOGLYPH_SCRIPTS):
            continue
        letters = [e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii()]
        letters = [c for c in letters if c.isalpha()]
        if letters:
            table[char] = min(letters, key=lambda c: (not c.islower(), c)).lower()
    for cp in [*range(0x0250, 0x02B0), *range(0x1D00, 0x1D2C)]:
        name = unicodedata.name(chr(cp), "")
        if name.startswith("LATIN LETTER SMALL CAPITAL ") and len(name) == 28:
            table.setdefault(chr(cp), name[-1].lower())
    for start, stop in _NAMED_RANGES:
        for cp in range(start, stop):
            char = chr(cp)
            named = _NAMED_LETTER.match(unicodedata.name(char, ""))
            if named and unicodedata.normalize("NFKD", char) == char:
                table.setdefault(char, (named.group(1) or named.group(2)).lower())
    table.update(_EXTRA_HOMOGLYPHS)
    table.update(dict.fromkeys(_I_OR_L, "|"))
    return table


def fold_char(char: str) -> str:
    """The folded form of one character ("" when it disappears)."""
    cp = ord(char)
    if cp in _INVISIBLE or unicodedata.category(char) in ("Cc", "Cf"):
        return "" if char not in "\n\t" else " "
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    table = homoglyphs()
    out = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(part):
            continue
        if part.isdecimal():
            out.append(str(unicodedata.decimal(part)))
            continue
        mapped = table.get(part)
        if mapped is None:
            lower = part.lower()
            mapped = table.get(lower, lower)
        out.append(mapped.lower())
    return "".join(out)


_CACHE_LIMIT = 50_000


class _FoldTable(dict[int, str]):
    """``str.translate`` table that computes and remembers each character's folded form."""

    def __missing__(self, cp: int) -> str:
        folded = fold_char(chr(cp))
        if len(self) < _CACHE_LIMIT:  # bounded: adversarial text cannot grow it forever
            self[cp] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Fold ``text`` (see the module docstring); ASCII text is only lower-cased."""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE)


TOKEN = re.compile(r"[\w@$!|+€]+")
"""Word tokens of folded text; keeps leetspeak symbols inside words (``$h!t``, ``a$$``)."""

# The same tokenisation and counting for ASCII text, done with bytes.translate (a C table
# lookup per byte): three to five times faster than the regex on the common path.
_ASCII_SPLIT = bytes(b if chr(b).isalnum() or chr(b) in "_@$!|+" else 32 for b in range(256))
_DIGITS = b"0123456789"
_NOT_LETTERS = bytes(b for b in range(256) if not chr(b).isalpha())
_NOT_LETTERS_RE = re.compile(r"[\W\d_]+")


_LOWER = "abcdefghijklmnopqrstuvwxyz"
_CLASSES = bytes(
    ord("a") if chr(b) in _LOWER
    else ord("1") if chr(b) in "1|"
    else ord("!") if chr(b) == "!"
    else ord("0") if chr(b) in "023456789@$+"
    else ord(" ")
    for b in range(256)
)  # fmt: skip
"""For :meth:`TextView.evasion_hints`: folded text as letters (``a``), strokes that read as
``i`` or ``l`` (``1``), ``!``, other digits and symbols (``0``) and the rest (non-ASCII reads
as ``?``, a blank); C-level scans that let ordinary chat skip per-token work."""


def _has_leet_symbol(folded: str) -> bool:
    return "!" in folded or "@" in folded or "$" in folded or "|" in folded or "+" in folded


def _leety(classes: str) -> bool:
    """k!ll, j3ws, mu$lims, ki11; not 3pm, P1, u21s, @mike, goal!!! (substring tests: a regex
    over a long run of letters costs more)."""
    return (
        "a0a" in classes
        or "a1a" in classes
        or "a!a" in classes
        or "aa1" in classes
        or "a00a" in classes
        or "a11a" in classes
    )


class TextView:
    """A message's text, its folded form, its tokens, and the way back to original offsets.

    Built once per message and shared by every check. ``tokens``, ``token_set`` and
    ``digits`` are computed up front because every check needs them: most checks start with
    a set intersection against the tokens, which is the fast path that keeps chat cheap.
    """

    __slots__ = (
        "_hints", "_origin", "_singles", "ascii", "digits", "folded", "text", "token_set",
        "tokens",
    )  # fmt: skip

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.isascii()
        self._origin: list[int] | None = None
        self._hints: tuple[bool, bool] | None = None
        self._singles = -1
        if self.ascii:
            folded = self.folded = text.lower()
            raw = folded.encode()
            self.tokens = raw.translate(_ASCII_SPLIT).decode().split()
            self.digits = len(raw) - len(raw.translate(None, _DIGITS))
        else:
            folded = self.folded = text.translate(_TABLE)
            self.tokens = TOKEN.findall(folded)
            self.digits = sum(map(folded.count, "0123456789"))
        self.token_set = frozenset(self.tokens)

    def singles(self) -> int:
        """How many tokens are one character long (``s h i t`` has four); computed once."""
        if self._singles < 0:
            self._singles = list(map(len, self.tokens)).count(1)
        return self._singles

    def evasion_hints(self) -> tuple[bool, bool]:
        """Whether the folded text may hold leetspeak (a digit or one of ``@$!|+`` between
        letters, a ``1`` or ``|`` after two of them, or ``ii``, as ``kiII`` folds), and
        whether it may spell a word out a letter at a time (three single letters in a row:
        ``k.i.l.l``). Computed once, for the checks that then respell tokens; ordinary chat
        leaves after a few C-level scans."""
        hints = self._hints
        if hints is None:
            folded = self.folded
            leety = "ii" in folded
            classes = ""
            if not leety and (self.digits or not self.ascii or _has_leet_symbol(folded)):
                classes = folded.encode("ascii", "replace").translate(_CLASSES).decode()
                leety = _leety(classes)
            spelt = False
            if self.singles() >= 3:
                classes = classes or folded.encode("ascii", "replace").translate(_CLASSES).decode()
                spelt = " a a a " in f" {classes} "
            hints = self._hints = leety, spelt
        return hints

    def letters(self) -> str:
        """The folded text with everything but letters removed."""
        if self.ascii:
            return self.folded.encode().translate(None, _NOT_LETTERS).decode()
        return _NOT_LETTERS_RE.sub("", self.folded)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span ``[start, end)`` to a span of the original text."""
        if self.ascii:
            return start, end
        origin = self._origin
        if origin is None:
            origin = self._origin = _origin_map(self.text)
        if start >= len(origin):
            return len(self.text), len(self.text)
        return origin[start], origin[max(start, end - 1)] + 1


def _origin_map(text: str) -> list[int]:
    origin: list[int] = []
    for i, char in enumerate(text):
        origin.extend([i] * len(_TABLE[ord(char)]))
    return origin
