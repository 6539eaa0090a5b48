"""Threats: violence announced at someone, death wishes, incitement to self-harm, doxxing hints.

Words alone are not threats in sports chat (``this ref is killing us``, ``kill the game off``,
``shoot me a DM``), so every pattern needs its shape: a speaker who announces the act (``I'll``,
``I'm gonna``, ``someone should``) and a person who would suffer it (``you``, ``your kids``);
or a wish aimed at a person (``hope you die``); or an instruction to harm oneself (``kill
yourself``); or a hint at where someone is (``I know where you live``). A negation or a
forecast just before the match (``don't kill yourself chasing that``, ``you'll kill yourself
laughing``) cancels it. Each code scores 0.8, so the default ladder holds the message for a
moderator (``hold_at`` 0.7); two different kinds of threat in one message combine to 0.96, a
block.

The patterns run through :class:`~service.moderation.checks.shapes.Shapes`: only when one of
their trigger words is among the message's tokens, so ordinary chat pays one set test.
"""

from __future__ import annotations

import re

from service.moderation.checks.base import CheckInput
from service.moderation.checks.shapes import Family, Shapes
from service.moderation.verdict import Finding

NAME = "threat"
SCORE = 0.8

_A = r"['’]?"  # an apostrophe, or none (``ill``, ``im``)
_YOU = r"(?:you|u|ya|yu)"
_KIN = (
    r"(?:your|ur|yer)\s+(?:whole\s+|entire\s+)?(?:family|kids?|children|mum|mom|mother|dad"
    r"|father|wife|husband|girlfriend|boyfriend|son|daughter|sister|brother|dog)"
)
_SPEAKER = (
    rf"\b(?:i\s*{_A}\s*ll|i\s+will|i\s+shall|i\s*{_A}\s*m\s+(?:going\s+to|gonna|about\s+to)"
    r"|i\s+am\s+(?:going\s+to|gonna|about\s+to)|i\s+(?:gonna|wanna|want\s+to|would|could)"
    rf"|i\s*{_A}\s*d|i\s+(?:swear|promise)\s+(?:i\s*{_A}\s*ll|i\s+will)"
    r"|(?:someone|somebody|some1)\s+(?:should|needs?\s+to|has\s+to|gotta|ought\s+to))"
)
_FILLER = (
    r"(?:\s+(?:fucking|literally|actually|personally|seriously|really|just|gladly|happily"
    r"|come|go|and|find|hunt|track|down))*"
)
_HARM_YOU = (
    r"(?:kill|murder|stab|strangle|choke|shoot|hurt|punch|batter|rape|behead|butcher|bury|end)"
    rf"\s+(?:{_YOU}\b(?!\s+(?:a|an|the|some|my|over|me|out|at|in\s+fifa|on\s+fifa)\b)|{_KIN})"
    rf"|beat\s+(?:{_YOU}|{_KIN})\s+up\b"
    rf"|beat\s+the\s+(?:shit|crap|hell|life)\s+out\s+of\s+{_YOU}\b"
    r"|slit\s+(?:your|ur|yer)\s+throat"
    r"|break\s+(?:your|ur|yer)\s+(?:legs?|neck|face|jaw|arms?|bones|skull)"
    r"|(?:burn|torch)\s+(?:your|ur|yer)\s+(?:house|home|car)"
    rf"|find\s+{_YOU}(?=\s*(?:$|[.!?,]|and\b|soon\b|mate\b|wherever\b))"
    rf"|hunt\s+{_YOU}\s+down"
)
_NEGATION = re.compile(
    r"(?:\bdon\s*['’]?\s*t|\bdo\s+not|\bnever|\bnot|\bwon\s*['’]?\s*t)\s+(?:\w+\s+)?$"
    r"|\b(?:you|u)\s*(?:['’]?\s*ll|\s+will|['’]?\s*d|\s+would|\s+could|\s+might"
    r"|['’]?\s*re\s+gonna|\s+are\s+gonna)\s+(?:\w+\s+)?$"
)
"""A negation (``don't kill yourself``, ``never go die``) or a forecast (``you'll kill yourself
laughing``) in the last word or two before a match: no threat, no instruction."""

_FAMILIES: list[Family] = [
    (
        "threat.violence",
        "kill murder stab strangle choke shoot hurt punch batter rape behead butcher bury end "
        "beat slit break burn torch find hunt",
        _SPEAKER + _FILLER + r"\s+(?:" + _HARM_YOU + ")",
    ),
    (
        "threat.violence",
        "kill murder stab strangle choke shoot hurt punch rape behead",
        r"\b(?:someone|somebody|some1)\s+(?:should|needs?\s+to|has\s+to|gotta|ought\s+to)"
        r"(?:\s+(?:just|literally|actually|go|and))*\s+"
        r"(?:kill|murder|stab|strangle|choke|shoot|hurt|punch|rape|behead)\s+"
        r"(?:him|her|them|the\s+ref(?:eree)?"
        r"|that\s+(?:ref|referee|guy|man|bloke|woman|prick|idiot))\b",
    ),
    (
        "threat.doxxing",
        "live lives work sleep address house home place door",
        rf"\bi\s+know\s+where\s+(?:{_YOU}|your\s+\w+|ur\s+\w+)\s+"
        r"(?:live|lives|work|works|sleep|sleeps)\b"
        r"|\bi\s+(?:have|got|found)\s+(?:your|ur)\s+(?:home\s+)?address\b"
        rf"|{_SPEAKER}\s+(?:come|be|turn\s+up|show\s+up|pop)\s+(?:to|round|at|outside)\s+"
        r"(?:to\s+)?(?:your|ur|yer)\s+(?:house|home|place|door|address|work)\b"
        r"|\b(?:i\s*['’]?\s*m|i\s+am|we\s*['’]?\s*re|we\s+are)\s+coming\s+(?:to|round\s+to)\s+"
        r"(?:your|ur|yer)\s+(?:house|home|place|door|address)\b",
    ),
    (
        "threat.death_wish",
        "die dies cancer killed run hit rot croak dead burn",
        rf"\b(?:hope|wish|pray)\s+(?:that\s+)?(?:{_YOU}|he|she|they|him|his\s+\w+|{_KIN}"
        r"|(?:the|that|this)\s+\w+)\s+"
        r"(?:(?:all\s+)?(?:die|dies|croak|croaks|rot|rots|drop\s+dead|drops\s+dead)"
        r"|(?:get|gets)\s+(?:cancer|killed|run\s+over|hit\s+by\s+a\s+(?:car|bus|train|truck))"
        r"|burn\s+in\s+hell|burns\s+in\s+hell)\b(?!\s+(?:down|out|off)\b)"
        rf"|\b(?:wish|hope)\s+(?:that\s+)?{_YOU}\s+(?:were|was|are)\s+dead\b",
    ),
    (
        "threat.self_harm",
        "yourself urself yourselves urselves self bleach die jump exist miss",
        r"\b(?:kill|hang|neck|end|off|unalive)\s+"
        r"(?:yourself|urself|yourselves|urselves|ur\s+self|your\s+self)\b"
        r"|\bdrink\s+(?:some\s+)?bleach\b|\bgo\s+(?:and\s+)?die\b(?!\s*-?\s*hards?\b|\s+for\b)"
        rf"|\b{_YOU}\s+should\s+(?:just\s+)?(?:die|not\s+exist|stop\s+existing)\b"
        r"|\bjump\s+off\s+a\s+(?:bridge|cliff|building|roof)\b"
        rf"|\b(?:nobody|no\s+one|noone)\s+would\s+miss\s+{_YOU}\b",
    ),
]


def _cancelled(folded: str, m: re.Match[str]) -> bool:
    """Whether a negation or a forecast comes just before the match (see ``_NEGATION``)."""
    return _NEGATION.search(folded[max(0, m.start() - 16) : m.start()]) is not None


class ThreatCheck:
    """Violence announced at a person, death wishes, self-harm incitement, doxxing hints."""

    name = NAME

    def __init__(self) -> None:
        self._shapes = Shapes(NAME, SCORE, _FAMILIES, veto=_cancelled)

    def run(self, msg: CheckInput) -> list[Finding]:
        return self._shapes.find(msg.view)
