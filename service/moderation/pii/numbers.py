"""Phone and payment-card numbers, written plainly or to dodge filters.

Works on folded text, where digits of every script are already ASCII. Numbers that merely look
long are the hard part of live chat, so before looking for phones the text's benign numbers
are blanked out: times (``19:45``), dates (``12/03/2024``), scores (``2-1``), formations
(``4-2-3-1``), amounts (``$4.99``, ``£1,299``, ``2 345 678 901 €``), decimals and odds, IP
addresses and runs of years (``1998 2002 2006``).

What remains is judged whole, never in part (a real phone is masked whole; anything else is
left whole): a number right after an id word (``order``, ``ticket ref``, ``booking``) is an
id unless it is unmistakably a phone (international, or a trunk ``0`` and ten digits or
more); sorted lists (``86 84 79 75 71``) and countdowns are lists; a card needs a card's
grouping (``4111 1111 1111 1111``, ``3782 822463 10005``, or none) and the Luhn check; a
phone needs a phone's grouping: a single digit never sits between longer groups
(``23 11 7 4 31 18``), pairs need a trunk ``0`` (``06 12 34 56 78``) and ``2 345 678 901``
is a thousands grouping. Then ``phonenumbers`` decides: any possible number after ``+`` or
``00``; otherwise a number valid in one of the configured regions as that region writes it
(the UK, Germany, France ... write the trunk ``0``; the US, Spain, Italy, Brazil and India
need none), or a possible one with a trunk ``0`` and at least ten digits (the UK's fictional
``07700 900123``). A number written without separators and without a trunk ``0``
(``1712345678``), or one of seven or eight digits, is an id unless the text talks about
calling. Digits written as words (``five five five``, ``double seven``, ``cinco``, ``drei``)
count when seven or more digits come in a row.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence

import phonenumbers


def _words(text: str) -> tuple[str, ...]:
    """Split a readable word list."""
    return tuple(text.split())


# An amount: plain digits with , and . or thousands grouped by spaces ("2 345 678 901").
_AMOUNT = r"(?:\d{1,3}(?: \d{3})+(?!\d)(?:[.,]\d+)?|\d[\d,.]*)"
_BENIGN = re.compile(
    "|".join(
        [
            r"(?<!\d)\d{1,2}[:h]\d{2}(?::\d{2})?(?!\d)",  # times
            r"(?<![\d.\-/])\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d|[-/.]\d)",  # ISO dates
            r"(?<![\d.\-/])\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?!\d|[-/.]\d)",  # dates
            rf"[$€£¥₹]\s?{_AMOUNT}(?:\s?(?:k|m|bn|million|billion)\b)?",  # prices
            rf"(?<![\w.]){_AMOUNT}\s?[$€£¥₹]",  # 2 345 678 901 €
            rf"(?<![\w.]){_AMOUNT}\s?(?:usd|eur|gbp|usdt|btc|eth|dollars|euros|pounds|quid|"
            r"bucks|k|m|bn|pts|points|p|mph|kmh|km|kg|cm|mm|ms|fps|gb|mb|tb|x|yds|ft)\b",
            r"\d[\d,.]*\s?%",  # percentages
            r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])",  # thousands separators
            r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d)",  # IPv4
            r"(?<![\d.])\d+\.\d+(?!\d|\.\d)",  # decimals, odds
            r"(?<![\d\-])\d(?:-\d){2,4}(?!\d|-\d)",  # formations 4-2-3-1
            # scores and lists of scores (2-1, 3-0 1-1), never glued to other digits
            r"(?<![\d.\-])(?<!\d\s)\d{1,2}\s?[-–:]\s?\d{1,2}"
            r"(?:(?:\s*,\s*|\s+)\d{1,2}\s?[-–:]\s?\d{1,2})*(?!\d|\s?[-.:]\s?\d|\s\d)",
            r"(?<!\d)(?:19|20)\d{2}(?:\s*(?:,|/|-|–|&|and|to)?\s*(?:19|20)\d{2}(?!\d))+",  # years
        ]
    )
)
# An id word right before a number ("order #", "ticket ref", "booking no.", "match:",
# "team id is", "ref ABX29 4471 ..."), or a bare "#". It makes the number an id unless it is
# unmistakably a phone.
_ID_BEFORE = re.compile(
    r"(?:\b(?:match|game|team|video|dashboard|event|room|stream|id|order|ticket|ref|reference|"
    r"confirmation|conf|invoice|booking|seat|row|section|block|tx|txid|isbn|case|issue|pr|"
    r"build|version|ver|v|season|round|week|tracking|serial|member|user|customer|epoch|"
    r"timestamp|cap|mcap|volume|vol|supply|attendance)"
    r"\s*(?:no\.?|nr\.?|number|num|#)?\s*[:#=]?\s*(?:(?:is|was)\s+)?"
    r"(?:[a-z]+\d[a-z\d]*\s+|\d+[a-z][a-z\d]*\s+)?|#\s*)$"
)
_CANDIDATE = re.compile(r"(?<![\w+#])(?:\+\s?)?\(?\d(?:[\s.\-/()·•_*]{0,3}\d){6,22}\)?(?![\w#])")
_CONTEXT = 24  # characters around a candidate that may make it benign ("1 000 000 €")
_ID_CONTEXT = 40  # characters before a candidate where an id word is looked for
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
                span = self._judge(folded, m, cue)
                if span:
                    spans.append(span)
        if not WORD_HINTS.isdisjoint(tokens):
            for start, end, groups in _spelled_runs(folded):
                if any(s < end and start < e for s, e, _ in spans):
                    continue
                if _is_sequence(groups) or _is_number_list(groups):
                    continue
                number = "".join(groups)
                kind = "card" if 13 <= len(number) <= 19 and luhn(number) else "phone"
                spans.append((start, end, kind))
        return spans

    def _judge(self, folded: str, m: re.Match[str], cue: bool) -> tuple[int, int, str] | None:
        """The span of one candidate, whole; after an id word only an unmistakable phone."""
        start = m.start()
        strict = _ID_BEFORE.search(folded, max(0, start - _ID_CONTEXT), start) is not None
        kind = self._classify(m.group(), cue, strict)
        return (start, m.end(), kind) if kind else None

    def _classify(self, raw: str, cue: bool, strict: bool = False) -> str | None:
        """``card``, ``phone`` or None for one whole candidate; ``strict`` after an id word."""
        text = _ODD_SEPARATORS.sub(" ", raw)  # phonenumbers knows only the usual punctuation
        groups = _GROUPS.findall(text)
        digits = "".join(groups)
        n = len(digits)
        if _is_sequence(groups):
            return None
        if text.lstrip("(").startswith("+") or digits.startswith("00"):
            number = "+" + digits[2:] if digits.startswith("00") else text
            return "phone" if _possible(number, None) else None
        if _is_number_list(groups):
            return None
        if 13 <= n <= 19 and _card_grouping(groups) and luhn(digits):
            return "card"
        if not 7 <= n <= 15 or not _phone_grouping(groups, cue):
            return None
        trunk = digits[0] == "0"
        if strict and not (trunk and n >= 10):
            return None
        if len(groups) == 1 and not cue and (n <= 8 or not trunk):
            return None  # an unbroken run is an id, a timestamp, a count ...
        return "phone" if self._national(text, digits, trunk, cue) else None

    def _national(self, text: str, digits: str, trunk: bool, cue: bool) -> bool:
        """Whether ``text`` is a phone number as one of the regions writes it; when the text
        talks about calling, a possible one (a local number, ``555 0134``) is enough."""
        possible = False
        for region in self._regions:
            try:
                parsed = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            # The length check is cheap; full validation only for numbers that pass it.
            if phonenumbers.is_possible_number(parsed):
                if phonenumbers.is_valid_number(parsed) and _written_as_in(region, parsed, digits):
                    return True
                possible = True
        return possible and (cue or (trunk and len(digits) >= 10))


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
    """Sorted small numbers (``86 84 79 75 71``, ``4 8 15 16 23 42``) are a list, not a phone.

    Points tables, top scorers and draws are written this way; phones are not: a spaced-out
    phone has single digits only (``0 7 7 0 0``), and a national grouping in pairs starts
    with the trunk ``0`` (``06 12 34 56 78``).
    """
    if len(groups) < 4 or any(len(g) > 3 or (g[0] == "0" and g != "0") for g in groups):
        return False
    if groups[0] == "0" or all(len(g) == 1 for g in groups):
        return False
    values = [int(g) for g in groups]
    return values == sorted(values) or values == sorted(values, reverse=True)


def _card_grouping(groups: list[str]) -> bool:
    """Whether digit groups are written as a card is: in fours (the last may be shorter),
    Amex's 4-6-5, Diners' 4-6-4, unbroken, or one digit at a time."""
    widths = [len(g) for g in groups]
    if len(widths) == 1 or max(widths) == 1 or widths in ([4, 6, 5], [4, 6, 4]):
        return True
    return all(w == 4 for w in widths[:-1]) and widths[-1] <= 4


def _phone_grouping(groups: list[str], cue: bool) -> bool:
    """Whether digit groups are written as a phone number is (national numbers).

    A single digit may lead (``1 415 555 2671``) or trail a number, or every digit may stand
    alone (``0 7 7 0 0 ...``), but one between longer groups (``23 11 7 4 31 18``) is a list
    of stats. Pairs need the trunk ``0`` (``06 12 34 56 78``) unless the text talks about
    calling, and ``2 345 678 901`` is a thousands grouping.
    """
    widths = [len(g) for g in groups]
    if len(widths) == 1 or max(widths) == 1:
        return True
    lo, hi = 0, len(widths)
    while widths[lo] == 1:
        lo += 1
    while widths[hi - 1] == 1:
        hi -= 1
    if 1 in widths[lo:hi]:
        return False
    if max(widths) <= 2 and len(widths) >= 4 and groups[0][0] != "0" and not cue:
        return False
    return not (len(widths) >= 3 and widths[0] == 1 and set(widths[1:]) == {3})


def _written_as_in(region: str, parsed: phonenumbers.PhoneNumber, digits: str) -> bool:
    """Whether ``digits`` are written as ``region`` writes this number.

    ``phonenumbers`` accepts a national number without its trunk prefix, but the UK, Germany,
    France, the Netherlands or Australia always write the ``0``: ``2311743118`` is a German
    number only on paper. Regions whose format makes the prefix optional (India) or has
    none (the US, Spain, Italy, Brazil) take the number as written.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    prefix = metadata.national_prefix if metadata is not None else None
    if metadata is None or not prefix or digits.startswith(prefix):
        return True
    nsn = phonenumbers.national_significant_number(parsed)
    for fmt in metadata.number_format:
        leading = fmt.leading_digits_pattern
        if leading and not _regex(leading[-1]).match(nsn):
            continue
        if _regex(fmt.pattern).fullmatch(nsn):
            rule = fmt.national_prefix_formatting_rule
            return (
                not rule or prefix not in rule or bool(fmt.national_prefix_optional_when_formatting)
            )
    return True


@functools.lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _spelled_runs(folded: str) -> list[tuple[int, int, list[str]]]:
    """Runs of seven or more digits where at least one is written as a word, as their groups
    (one per word or numeral: ``double seven`` is ``77``)."""
    runs: list[tuple[int, int, list[str]]] = []
    start = end = -1
    groups: list[str] = []
    count, words, repeat = 0, 0, 1

    def flush() -> None:
        if words and count >= 7:
            runs.append((start, end, groups))

    for m in _WORD_OR_NUMBER.finditer(folded):
        token = m.group()
        if groups and not _GAP.fullmatch(folded, end, m.start()):
            flush()
            groups, count, words, repeat = [], 0, 0, 1
        if token in _MULTIPLIERS:
            repeat = _MULTIPLIERS[token]
            if not groups:
                start = m.start()
            end = m.end()
            continue
        digit = DIGIT_WORDS.get(token) or (token if token.isdigit() else None)
        if digit is None:
            flush()
            groups, count, words, repeat = [], 0, 0, 1
            continue
        if not groups and repeat == 1:
            start = m.start()
        groups.append(digit * repeat)
        count += len(digit) * repeat
        words += not token.isdigit()
        repeat, end = 1, m.end()
    flush()
    return runs
