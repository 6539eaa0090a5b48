"""Content spam: links, shorteners and invites, scam lures, tipsters, prizes, mention floods.

Each pattern family is a reason code with a fixed score; findings add up as independent
evidence, so one plain link (0.2) or one "DM me" (0.45) stays allowed while "DM me" plus a
Telegram handle, or a shortener plus a crypto lure, crosses the policy's threshold. The same
words count once: a lure inside a longer match of another family (``message me`` in ``message
me on whatsapp``) is not a second piece of evidence. Links to the host's own sites (and to
``allowed_domains``) never count. Every regex runs only when one of its trigger words is
among the message's tokens (a C-level set test), which keeps ordinary chat off the slow path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from service.moderation.checks.base import CheckInput
from service.moderation.settings import SpamSettings
from service.moderation.verdict import Finding, Reason


def _words(text: str) -> tuple[str, ...]:
    """Split a readable word list."""
    return tuple(text.split())


NAME = "spam"

SHORTENERS = frozenset(
    _words(
        "bit.ly bitly.com tinyurl.com t.co goo.gl ow.ly is.gd buff.ly cutt.ly rb.gy shorturl.at "
        "tiny.cc rebrand.ly s.id t.ly lnkd.in shorte.st adf.ly v.gd bl.ink tr.im qr.ae"
    )
)
INVITES = frozenset(
    _words(
        "t.me telegram.me telegram.dog wa.me chat.whatsapp.com discord.gg discord.com signal.group"
    )
)
_TLDS = _words(
    "com net org io ly gg me xyz co info biz site online top club vip bet app link live tv us uk "
    "de ru cc ws to in ai gl at id cash win shop store"
)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|(?<![\w.@-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,4}(?:" + "|".join(_TLDS) + r")\b"
    r"(?:/[^\s<>\"']*)?"
)
_DOT = r"(?:\s*(?:\(\s*\.?\s*\)|\[\s*\.?\s*\]|\(\s*dot\s*\)|\[\s*dot\s*\]|\bdot\b)\s*|\s+\.\s*|\.\s+|\s+)"
_OBFUSCATED = re.compile(
    rf"\b(?:bit{_DOT}ly|t{_DOT}me|wa{_DOT}me|tinyurl{_DOT}com|cutt{_DOT}ly|discord{_DOT}gg)\s*/\s*\w"
    rf"|\b(?:bit|tinyurl|cutt){_DOT}(?:ly|com)\b"
    rf"|\bwww{_DOT}[\w-]+{_DOT}(?:com|net|org|io|xyz|bet|vip|live|tv|online)\b"
    r"|\bh\s+t\s*t\s*p\s*s?\s*:\s*/\s*/|\bhttps?\s+:\s*/\s*/|\bhttps?\s*:\s+/\s*/"
)
# Spaced-out www (w w w . scam . com), defanged schemes and dots (hxxp://, evil[.]com). A
# separate pattern, searched only when its characters are there: in one alternation with the
# above it made every link search four times slower.
_DEFANGED = re.compile(
    r"\bw\s+w\s+w\s*(?:\.|\bdot\b)|\bh(?:xx|\*\*)ps?\s*(?::|\[:\])\s*/\s*/"
    r"|[\[({]\s*\.\s*[\])}]\s*(?:" + "|".join(_TLDS) + r")\b"
)
_DEFANGED_HINTS = ("w w", "hxx", "h**", "[", "(", "{")
_EMAIL_HOST_BEFORE = re.compile(r"@\s*[\w.-]+\s*$")  # "john@gmail(.)com" is an email (PII)
# A domain spelled out with "dot" ("espn dot com", "bbc dot co dot uk"): a link like any other,
# judged by its host (everyday speech, so not an obfuscated link by itself).
_SPELLED_LINK = re.compile(
    r"(?<![\w.@-])[a-z0-9][a-z0-9-]{0,62}(?:\s*(?:\bdot\b|\(dot\)|\[dot\])\s*[a-z0-9-]{1,63}){1,3}\b"
)
_SPELLED_DOT = re.compile(r"\s*(?:\bdot\b|\(dot\)|\[dot\])\s*")
_LINK_TLDS = frozenset(_TLDS) | {"uk"}

# (code, score, trigger tokens, pattern). At least one trigger token must be present for the
# pattern to be able to match; the same code may have a weak and a strong entry.
_PIRATE_STREAMS = _words(
    "crackstreams crackstream methstreams methstream buffstreams buffstream soccerstreams "
    "nbastreams nflstreams mlbstreams nhlstreams ufcstreams boxingstreams f1streams streameast "
    "sportsurge totalsportek vipbox vipleague"
)
_MESSENGERS = r"(?:whatsapp|telegram|tg|signal|wechat|kik|snapchat|snap|discord|wa)"
_FAMILIES: list[tuple[str, float, str, str]] = [
    (
        "spam.lure",
        0.45,
        "dm dms pm inbox message msg hmu hit check link click bio",
        r"\b(?:dm|pm|inbox|message|msg)\s+me\b"
        r"|\bdms?\s+(?:me\s+)?(?:for|to)\s+(?:more|info|details|join|access|tips|signals|profit)"
        r"|\bhmu\b|\bhit\s+me\s+up\b|\bcheck\s+(?:out\s+)?my\s+(?:bio|profile|page|channel)\b"
        r"|\blink\s+in\s+(?:my\s+)?bio\b|\bclick\s+(?:here|the\s+link|my\s+link|this\s+link)\b",
    ),
    (
        "spam.contact",
        0.45,
        "whatsapp telegram tg signal wechat kik snapchat snap wa join add contact reach text",
        r"\b(?:add|contact|reach|text|message|join|find|dm)\s+(?:me|us|him|her)\s+(?:on|via|at)\s+"
        + _MESSENGERS
        + r"\b|\bjoin\s+(?:my|our)\s+(?:telegram|whatsapp|channel|group|vip|discord)\b"
        r"|\b(?:whatsapp|telegram|signal|wechat|kik)\s+(?:only|me|us)\b"
        r"|\b" + _MESSENGERS + r"\s*(?::|\bis\b|\bme\b|\bon\b)?\s*\+?\d[\d\s-]{6,}",
    ),
    (
        # A handle is the payload of the spam; a number after "whatsapp" is masked as PII
        # anyway, so it only counts as the weak form above.
        "spam.contact",
        0.55,
        "whatsapp telegram tg signal wechat kik snapchat snap wa",
        r"\b" + _MESSENGERS + r"\s*(?::|-|\bis\b|\bme\b|\bat\b|\bon\b)?\s*@[\w.]{3,}",
    ),
    (
        "spam.tout",
        0.45,
        "selling sell cheap tickets ticket sale",
        r"\b(?:selling|sell)\s+(?:\w+\s+){0,2}tickets?\b|\bcheap\s+tickets?\b"
        r"|\btickets?\s+(?:for\s+sale|cheap)\b",
    ),
    (
        # Illegal streams: "free stream", "watch it free", and the pirate sites' names.
        "spam.stream",
        0.45,
        "free stream streams streaming " + " ".join(_PIRATE_STREAMS),
        r"\bfree\s+(?:hd\s+|live\s+|4k\s+)*(?:match\s+|football\s+)?stream(?:s|ing)?\b"
        r"|\bwatch\s+(?:it\s+|them\s+|the\s+(?:game|match|fight|race)\s+|live\s+|online\s+)*"
        r"(?:for\s+)?free\b"
        r"|\b(?:" + "|".join(_PIRATE_STREAMS) + r")\b",
    ),
    (
        "spam.crypto",
        0.6,
        "double guaranteed send deposit invest investment free airdrop claim earn make passive "
        "wallet recover pump signals signal account forex crypto bitcoin btc gem coin token "
        "returns profit profits turn",
        r"\bdouble\s+your\s+(?:btc|bitcoin|eth|crypto|money|investment|usdt|deposit)\b"
        r"|\bguaranteed\s+(?:\d+(?:[.,]\d+)?\s*%\s*)?(?:(?:daily|weekly|monthly)\s+)?"
        r"(?:profits?|returns?|income|payouts?|gains?|roi)\b|\binvest\s+with\s+(?:me|us)\b"
        r"|\b(?:send|deposit|invest)\s+(?:me\s+|just\s+|only\s+)?\$?\d+(?:[.,]\d+)?\s*"
        r"(?:btc|eth|usdt|sol|bnb|usd|dollars)\b"
        r"|\b\d{2,5}x\s+(?:gem|coin|token|returns?|profits?|guaranteed)\b"
        r"|\bfree\s+(?:crypto|btc|bitcoin|eth|usdt|nfts?|airdrops?|tokens?)\b"
        r"|\bclaim\s+(?:your\s+)?(?:free\s+)?(?:airdrop|tokens?|rewards?|bonus)\b"
        r"|\binvestment\s+(?:opportunity|platform|plan|manager|expert)\b"
        r"|\b(?:earn|make)\s+\$?\d[\d,.]*k?\s*(?:\$|usd|dollars|euros?|pounds?|usdt)?\s*"
        r"(?:daily|weekly|a\s+day|per\s+day|a\s+week|per\s+week|every\s+day)\b"
        r"|\bturn\s+[$€£]?\d[\d,.]*k?\s*(?:usd|usdt|dollars|euros?|pounds?)?\s+into\s+[$€£]?\d"
        r"|\bpassive\s+income\b|\baccount\s+manager\b"
        r"|\b(?:wallet|account)\s+(?:recovery|validation|sync|verification)\b"
        r"|\brecover\s+(?:your\s+)?(?:lost\s+|stolen\s+|scammed\s+)?"
        r"(?:funds|crypto|btc|bitcoin|wallet)\b"
        r"|\b(?:pump|signals?)\s+(?:group|channel)\b"
        r"|\b(?:crypto|bitcoin|btc|forex)\s+(?:expert|mentor|guru|signals?)\b",
    ),
    (
        "spam.tipster",
        0.6,
        "fixed sure 100 vip betting correct exact odds rollover tipster tips guaranteed",
        r"\bfixed\s+(?:matches|match|games?|odds)\b|\bsure\s+(?:odds|tips?|bets?|banker|games?)\b"
        r"|\b100\s*%\s*(?:sure|guaranteed|safe|winning|win)\b"
        r"|\bvip\s+(?:tips?|group|channel|picks|slips?)\b"
        r"|\bbetting\s+(?:tips?|slips?|tipster|group)\b"
        r"|\b(?:correct|exact)\s+score\s+(?:tips?|predictions?)\b"
        r"|\b\d+\s*odds\s+(?:daily|today|every\s*day)\b|\brollover\s+(?:tips?|bets?|challenge)\b"
        r"|\bguaranteed\s+(?:wins?|odds|tips?)\b|\btipster\b",
    ),
    (
        "spam.tipster",
        0.45,
        "free tips daily",
        r"\bfree\s+(?:betting\s+)?tips\b|\btips\s+every\s*day\b|\bdaily\s+tips\b",
    ),
    (
        # Prize bait names a prize: "you won the bet" and "congratulations, you won the league"
        # are sports chat.
        "spam.prize",
        0.5,
        "won win claim free selected lucky",
        r"\byou(?:'ve|\s+have)?\s+(?:just\s+)?won\s+(?:(?:a|an|our|this|1st)\s+)?"
        r"(?:free\s+|brand\s+new\s+|new\s+|exclusive\s+)?(?:[$€£]\d[\d,.]*\s+)?"
        r"(?:iphone|ipad|ps5|playstation|xbox|macbook|samsung|prizes?|rewards?|gift\s*cards?|"
        r"vouchers?|giveaway|airdrop)\b"
        r"|\byou(?:'ve|\s+have)\s+been\s+selected\b|\blucky\s+winner\b"
        r"|\bclaim\s+your\s+(?:prize|reward|gift)\b"
        r"|\bwin\s+(?:a\s+)?(?:free\s+)?(?:iphone|ps5|gift\s*card|\$\d+)\b"
        r"|\bfree\s+(?:iphone|gift\s*cards?|robux|v-?bucks|followers|ps5)\b",
    ),
]

_LINK_HINTS = frozenset(_TLDS)
_LINK_WORDS = frozenset(["http", "https", "www", "dot", "hxxp", "hxxps"])


class SpamCheck:
    """Links, scam and tipster lures, prize bait, mention floods and text floods.

    Args:
        settings: the spam settings.
        host_domains: the host's own domains (its public URL and allowed origins); links to
            them never count, unless ``settings.allow_host_links`` is false.
    """

    name = NAME

    def __init__(self, settings: SpamSettings, host_domains: Sequence[str] = ()) -> None:
        self._max_mentions = settings.max_mentions
        self._shorteners = SHORTENERS | {d.lower() for d in settings.extra_shorteners}
        allowed = {d.lower() for d in settings.allowed_domains}
        if settings.allow_host_links:
            allowed.update(d.lower() for d in host_domains)
        self._allowed = frozenset(allowed)
        self._families = [
            (code, score, frozenset(triggers.split()), re.compile(pattern))
            for code, score, triggers, pattern in _FAMILIES
        ]
        self._triggers = frozenset().union(
            *(f[2] for f in self._families), _LINK_HINTS, _LINK_WORDS
        )

    def run(self, msg: CheckInput) -> list[Finding]:
        view = msg.view
        folded, present = view.folded, view.token_set
        findings: list[Finding] = []
        if folded.count("@") >= self._max_mentions:
            findings.extend(self._mentions(folded))
        if len(folded) >= 120:
            findings.extend(self._flood(folded, view.tokens))
        if self._triggers.isdisjoint(present):
            return findings
        if ("." in folded and not _LINK_HINTS.isdisjoint(present)) or not _LINK_WORDS.isdisjoint(
            present
        ):
            findings.extend(self._links(folded))
        findings.extend(self._lures(folded, present))
        return findings

    def _lures(self, folded: str, present: frozenset[str]) -> list[Finding]:
        best: dict[str, tuple[float, list[re.Match[str]]]] = {}
        for code, score, triggers, pattern in self._families:
            if code in best and best[code][0] >= score:
                continue
            if not triggers.isdisjoint(present):
                found = _distinct(pattern, folded)
                if found:
                    # Two different lures of one family are stronger evidence than one.
                    combined = round(1.0 - (1.0 - score) ** len(found), 4)
                    if code not in best or best[code][0] < combined:
                        best[code] = (combined, found)
        if len(best) > 1:
            best = _count_once(best)
        return [
            Finding(Reason(NAME, code, score, "matched " + ", ".join(repr(m[0]) for m in found)))
            for code, (score, found) in best.items()
        ]

    def _links(self, folded: str) -> Iterable[Finding]:
        worst: dict[str, tuple[float, str]] = {}
        hosts = [
            m.group().split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
            for m in _URL.finditer(folded)
        ]
        if "dot" in folded:
            for m in _SPELLED_LINK.finditer(folded):
                host = _SPELLED_DOT.sub(".", m.group())
                if host.rsplit(".", 1)[-1] in _LINK_TLDS:
                    hosts.append(host.removeprefix("www."))
        for host in hosts:
            if _matches(host, self._allowed):
                continue
            if _matches(host, self._shorteners):
                worst["spam.shortener"] = (0.6, f"shortened link {host}")
            elif _matches(host, INVITES):
                worst["spam.invite"] = (0.6, f"invite link {host}")
            else:
                worst.setdefault("spam.link", (0.2, f"link {host}"))
        hidden = _OBFUSCATED.search(folded)
        if hidden is None and any(hint in folded for hint in _DEFANGED_HINTS):
            hidden = _defanged(folded)
        if hidden is not None:
            worst["spam.obfuscated_link"] = (0.7, f"obfuscated link {hidden.group()!r}")
        return [Finding(Reason(NAME, code, s, d)) for code, (s, d) in worst.items()]

    def _mentions(self, folded: str) -> Iterable[Finding]:
        mentions = len(re.findall(r"(?<![\w.])@\w", folded))
        if mentions < self._max_mentions:
            return []
        detail = f"{mentions} mentions (limit {self._max_mentions - 1})"
        return [Finding(Reason(NAME, "spam.mentions", 0.7, detail))]

    @staticmethod
    def _flood(folded: str, tokens: list[str]) -> Iterable[Finding]:
        distinct_chars = len(set(folded.replace(" ", "")))
        if distinct_chars <= 3:
            return [
                Finding(Reason(NAME, "spam.flood", 0.6, f"{distinct_chars} distinct characters"))
            ]
        if len(tokens) >= 20 and len(set(tokens)) * 5 < len(tokens):
            detail = f"{len(set(tokens))} distinct words in {len(tokens)}"
            return [Finding(Reason(NAME, "spam.flood", 0.6, detail))]
        return []


def _defanged(folded: str) -> re.Match[str] | None:
    """The first defanged or spaced-out link that is not an email's host."""
    for m in _DEFANGED.finditer(folded):
        if not _EMAIL_HOST_BEFORE.search(folded, max(0, m.start() - 64), m.start()):
            return m
    return None


def _distinct(pattern: re.Pattern[str], folded: str) -> list[re.Match[str]]:
    """Up to two matches of ``pattern`` with different texts."""
    found: list[re.Match[str]] = []
    for m in pattern.finditer(folded):
        if all(m.group() != f.group() for f in found):
            found.append(m)
            if len(found) == 2:
                break
    return found


def _count_once(
    best: dict[str, tuple[float, list[re.Match[str]]]],
) -> dict[str, tuple[float, list[re.Match[str]]]]:
    """The same words are one piece of evidence: a finding whose matches all lie inside the
    matches of a stronger one (or as strong and longer) is dropped."""
    spans = {code: [m.span() for m in found] for code, (_, found) in best.items()}
    rank = {code: (best[code][0], sum(e - s for s, e in spans[code])) for code in best}
    return {
        code: entry
        for code, entry in best.items()
        if not any(
            rank[other] > rank[code] and _inside(spans[code], spans[other])
            for other in best
            if other != code
        )
    }


def _inside(spans: list[tuple[int, int]], outer: list[tuple[int, int]]) -> bool:
    """Whether every span lies within one of ``outer``."""
    for start, end in spans:
        for o_start, o_end in outer:
            if o_start <= start and end <= o_end:
                break
        else:
            return False
    return True


def _matches(host: str, domains: frozenset[str]) -> bool:
    """Whether ``host`` is one of ``domains`` or a subdomain of one."""
    if host in domains:
        return True
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(1, len(parts) - 1))
