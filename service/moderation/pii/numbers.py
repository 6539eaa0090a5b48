"""Phone and payment-card numbers, written plainly or to dodge filters.

Works on folded text, where digits of every script are already ASCII. Numbers that merely look
long are the hard part of live chat, so before looking for phones the text's benign numbers
are blanked out: times (``19:45``), dates (``12/03/2024``), scores (``2-1``), formations
(``4-2-3-1``), prices (``$4.99``, ``£1,299``), decimals and odds, IP addresses, ids after a
keyword (``match:123``, ``order #12345678``) and runs of years (``1998 2002 2006``).

What remains is a phone when ``phonenumbers`` says so: any possible number after ``+`` or
``00``; otherwise a number valid in one of the configured regions (or a possible one with a
trunk ``0`` and at least ten digits, as in the UK's ``07700 900123``). A bare run of seven or
eight digits is an id unless the text talks about calling. Digits written as words
(``five five five``, ``double seven``, ``cinco``, ``drei``) count when seven or more digits
come in a row. 13-19 digits that pass the Luhn check are a card.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import phonenumbers


def _words(text: str) -> tuple[str, ...]:
    """Split a readable word list."""
    return tuple(text.split())


_BENIGN = re.compile(
    "|".join(
        [
            r"(?<!\d)\d{1,2}[:h]\d{2}(?::\d{2})?(?!\d)",  # times
            r"(?<![\d.\-/])\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d|[-/.]\d)",  # ISO dates
            r"(?<![\d.\-/])\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d|[-/.]\d)",  # dates
            r"[$€£¥₹]\s?\d[\d,.]*(?:\s?(?:k|m|bn|million|billion)\b)?",  # prices
            r"(?<![\w.])\d[\d,.]*\s?(?:usd|eur|gbp|usdt|btc|eth|dollars|euros|pounds|quid|"
            r"bucks|k|m|bn|pts|points|p|mph|kmh|km|kg|cm|mm|ms|fps|gb|mb|tb|x|yds|ft)\b",
            r"\d[\d,.]*\s?%",  # percentages
            r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])",  # thousands separators
            r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)",  # IPv4
            r"(?<![\d.])\d+\.\d+(?!\d|\.\d)",  # decimals, odds
            r"\b(?:match|game|team|video|dashboard|event|room|stream|id|order|ticket|ref|"
            r"invoice|booking|seat|row|section|block|tx|txid|isbn|case|issue|pr|build|version|"
            r"ver|v|season|round|week)\s*(?:no\.?|nr\.?|number|#)?\s*[:#]?\s*\d[\d\-]*",
            r"#\s?\d[\d\-]*",  # #4839201
            r"(?<![\d\-])\d(?:-\d){2,4}(?!\d|-\d)",  # formations 4-2-3-1
            # scores and lists of scores (2-1, 3-0 1-1), never glued to other digits
            r"(?<![\d.\-])(?<!\d\s)\d{1,2}\s?[-–:]\s?\d{1,2}"
            r"(?:(?:\s*,\s*|\s+)\d{1,2}\s?[-–:]\s?\d{1,2})*(?!\d|\s?[-.:]\s?\d|\s\d)",
            r"(?<!\d)(?:19|20)\d{2}(?:\s*(?:,|/|-|–|&|and|to)?\s*(?:19|20)\d{2}(?!\d))+",  # years
        ]
    )
)
_CANDIDATE = re.compile(r"(?<![\w+#])(?:\+\s?)?\(?\d(?:[\s.\-/()·•_*]{0,3}\d){6,22}\)?(?![\w#])")
_CONTEXT = 24  # characters around a candidate that may make it benign ("order number ")
_GROUPS = re.compile(r"\d+")
_ODD_SEPARATORS = re.compile(r"[_*·•]")
_WORD_OR_NUMBER = re.compile(r"[a-zäöüéèêçñã]+|\d+")
_GAP = re.compile(r"[\s,.\-/()·•_*]{0,4}")

DIGIT_WORDS: dict[str, str] = {}
for _digit, _names in enumerate(
    [
        "zero oh nought cero null nul",
        "one uno un eins um",
        "two dos deux zwei dois due",
        "three tres trois drei tre três",
        "four cuatro quatre vier quatro quattro",
        "five cinco cinq funf fuenf fünf cinque",
        "six seis sechs sei",
        "seven siete sept sieben sete sette",
        "eight ocho huit acht oito otto",
        "nine nueve neuf neun nove",
    ]
):
    for _word in _names.split():
        DIGIT_WORDS[_word] = str(_digit)
_MULTIPLIERS = {"double": 2, "triple": 3}
WORD_HINTS = frozenset([*DIGIT_WORDS, *_MULTIPLIERS])
_CUES = frozenset(
    _words(
        "call text txt ring phone tel number num whatsapp wa sms mobile cell contact dial hmu "
        "telegram signal viber reach"
    )
)


def luhn(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number passes."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class NumberFinder:
    """Finds phone and card numbers; built once per pipeline (it warms phonenumbers up)."""

    def __init__(self, regions: Sequence[str]) -> None:
        self._regions = tuple(regions)
        for region in self._regions:  # load metadata now, not on the first user's message
            phonenumbers.is_valid_number(phonenumbers.parse("1234567", region))

    def find(self, folded: str, tokens: frozenset[str], digits: int) -> list[tuple[int, int, str]]:
        """Phone and card spans in folded text (``digits`` is its digit count)."""
        spans: list[tuple[int, int, str]] = []
        cue = not _CUES.isdisjoint(tokens)
        if digits >= 7:
            for m in _CANDIDATE.finditer(_blank_benign(folded)):
                kind = self._classify(m.group(), cue)
                if kind:
                    spans.append((m.start(), m.end(), kind))
        if not WORD_HINTS.isdisjoint(tokens):
            for start, end, number in _spelled_runs(folded):
                if not any(s < end and start < e for s, e, _ in spans):
                    kind = "card" if 13 <= len(number) <= 19 and luhn(number) else "phone"
                    spans.append((start, end, kind))
        return spans

    def _classify(self, raw: str, cue: bool) -> str | None:
        text = _ODD_SEPARATORS.sub(" ", raw)  # phonenumbers knows only the usual punctuation
        groups = _GROUPS.findall(text)
        digits = "".join(groups)
        n = len(digits)
        intl = text.lstrip("(").startswith("+") or digits.startswith("00")
        if 13 <= n <= 19 and not intl and luhn(digits):
            return "card"
        if _is_sequence(groups) or _is_number_list(groups):
            return None
        if intl:
            number = "+" + digits[2:] if digits.startswith("00") else text
            return "phone" if _possible(number, None) else None
        if not 7 <= n <= 15 or (len(groups) == 1 and n <= 8 and not cue):
            return None
        possible = False
        for region in self._regions:
            try:
                parsed = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            # The length check is cheap; full validation only for numbers that pass it.
            if phonenumbers.is_possible_number(parsed):
                if phonenumbers.is_valid_number(parsed):
                    return "phone"
                possible = True
        return "phone" if possible and digits[0] == "0" and n >= 10 else None


def _blank_benign(folded: str) -> str:
    """``folded`` with benign numbers (dates, scores, prices ...) replaced by ``#``.

    Only the neighbourhood of a raw candidate is examined: blanking can split a candidate but
    never create one, and most texts with digits have no run of seven, so the big benign
    pattern usually never runs at all.
    """
    work = folded
    for m in _CANDIDATE.finditer(folded):
        # Start the window at a word boundary, but never far back (bounded work per candidate).
        lo = max(0, m.start() - _CONTEXT)
        space = folded.rfind(" ", max(0, lo - _CONTEXT), lo)
        start = space + 1 if space >= 0 else lo
        end = min(len(folded), m.end() + _CONTEXT)
        window = _BENIGN.sub(_hashes, folded[start:end])
        work = work[:start] + window + work[end:]
    return work


def _hashes(m: re.Match[str]) -> str:
    return "#" * (m.end() - m.start())


def _possible(text: str, region: str | None) -> bool:
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(text, region)))
    except phonenumbers.NumberParseException:
        return False


def _is_sequence(groups: list[str]) -> bool:
    """Countdowns and counting (``10 9 8 7 6 5 4 3 2 1``) are not numbers to mask."""
    if len(groups) < 4:
        return False
    values = [int(g) for g in groups]
    steps = {b - a for a, b in itertools.pairwise(values)}
    return steps in ({1}, {-1})


def _is_number_list(groups: list[str]) -> bool:
    """Sorted small numbers of mixed widths (``4 8 15 16 23 42``) are a list, not a phone.

    Spaced-out phone numbers have groups of one width (``0 7 7 0 0``) or a national grouping
    that starts with the trunk ``0`` (``06 12 34 56 78``).
    """
    if len(groups) < 4 or any(len(g) > 2 or g.startswith("0") for g in groups):
        return False
    if len({len(g) for g in groups}) == 1:
        return False
    values = [int(g) for g in groups]
    return values == sorted(values) or values == sorted(values, reverse=True)


def _spelled_runs(folded: str) -> list[tuple[int, int, str]]:
    """Runs of seven or more digits where at least one is written as a word."""
    runs: list[tuple[int, int, str]] = []
    start = end = -1
    number, words, repeat = "", 0, 1

    def flush() -> None:
        if words and len(number) >= 7:
            runs.append((start, end, number))

    for m in _WORD_OR_NUMBER.finditer(folded):
        token = m.group()
        if number and not _GAP.fullmatch(folded, end, m.start()):
            flush()
            number, words, repeat = "", 0, 1
        if token in _MULTIPLIERS:
            repeat = _MULTIPLIERS[token]
            if not number:
                start = m.start()
            end = m.end()
            continue
        digit = DIGIT_WORDS.get(token) or (token if token.isdigit() else None)
        if digit is None:
            flush()
            number, words, repeat = "", 0, 1
            continue
        if not number and repeat == 1:
            start = m.start()
        number += digit * repeat
        words += not token.isdigit()
        repeat, end = 1, m.end()
    flush()
    return runs
