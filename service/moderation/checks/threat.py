"""Threats: violence announced at someone, death wishes, incitement to self-harm, doxxing hints.

Words alone are not threats in sports chat (``this ref is killing us``, ``kill the game off``,
``shoot me a DM``), so every pattern needs its shape: a speaker who announces the act (``I'll``,
``I'm gonna``, ``imma``, ``someone should``) and a person who would suffer it (``you``, ``your
kids``, ``him``, ``the ref``, ``that guy``); or a wish aimed at a person (``hope you die``,
``hope the keeper's family dies``); or an instruction to harm oneself (``kill yourself``); or a
hint at where someone is (``I know where you live``, ``I'll find your house``). Each code
scores 0.8, so the default ladder holds the message for a moderator (``hold_at`` 0.7); two
different kinds of threat in one message combine to 0.96, a block.

What cancels a match (see :func:`_cancelled`):

* a negation or a forecast that governs the act itself (``don't kill yourself chasing that``,
  ``you'll kill yourself laughing``). A negation before an announced threat does not: ``not
  joking I'll kill you`` and ``you will pay I'll kill you`` are threats;
* a game named in the same sentence (``I'll end you in fantasy``, ``I'll kill you at FIFA``);
* ``I'd``/``I would`` followed by ``for`` (``I'd kill you for those tickets``), the idiom of
  wanting something badly; ``I could kill you`` is not an announcement at all;
* verb-specific harmless objects, per verb (``shoot you a message``, ``kill you with
  kindness``, ``stab you in the back``): ``I'll stab you at the stadium`` stays a threat.

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
_OWNER = r"(?:your|ur|yer|his|her|their)"
_KIN_WORDS = (
    r"(?:family|kids?|children|mum|mom|mother|dad|father|wife|husband|girlfriend|boyfriend|son"
    r"|daughter|sister|brother|dog)"
)
_KIN = rf"{_OWNER}\s+(?:whole\s+|entire\s+)?{_KIN_WORDS}"
_PERSON = (
    r"(?:ref|refs|referee|referees|linesman|linesmen|lino|umpire|umpires|ump|official"
    r"|officials|keeper|goalie|goalkeeper|striker|defender|winger|player|players|manager"
    r"|gaffer|coach|captain|chairman|owner|guy|guys|man|bloke|lad|woman|girl|boy|kid|fan|fans"
    r"|commentator|pundit|streamer|mod|mods|moderator|admin|prick|pricks|idiot|twat|clown"
    r"|muppet|bastard|cunt|wanker|dickhead|kicker|pitcher|quarterback|qb|bowler|batsman"
    r"|driver)"
)
_THIRD = (
    r"(?:him|her|them|(?:the|that|this|those|these|your|ur|their|his)\s+"
    r"(?:(?:fucking|fkn|bloody|stupid|useless|little|fat)\s+)?"
    rf"{_PERSON}(?:{_A}s\s+(?:whole\s+|entire\s+)?{_KIN_WORDS})?)"
)
# "end this man's career": a possessive is the target's, not the target (kin aside, above)
_TARGET = rf"(?:{_YOU}|{_KIN}|{_THIRD})\b(?!['’]s\b)"
_SPEAKER = (
    rf"\b(?:i\s*{_A}\s*ll|i\s+will|i\s+shall|i\s*{_A}\s*m\s+(?:going\s+to|gonna|about\s+to)"
    r"|i\s+am\s+(?:going\s+to|gonna|about\s+to)|i\s+(?:gonna|wanna|want\s+to|would)"
    rf"|i\s*{_A}\s*d|i\s*{_A}\s*m?ma|i\s+(?:swear|promise)\s+(?:i\s*{_A}\s*ll|i\s+will)"
    r"|(?:someone|somebody|some1)\s+(?:should|needs?\s+to|has\s+to|gotta|ought\s+to))"
)
_FILLER = (
    r"(?:\s+(?:fucking|literally|actually|personally|seriously|really|just|gladly|happily"
    r"|come|go|and|find|hunt|track|down))*"
)
_HARM = (
    r"(?:kill|murder|stab|strangle|choke|hurt|punch|batter|rape|behead|butcher|bury|end|knife"
    r"|shank|glass|headbutt|torture|drown|suffocate)"
    rf"\s+{_TARGET}(?!\s+(?:with\s+kindness|in\s+the\s+back\b(?!\s+of)))"
    # "shoot you a message", "shoot him the link": a verb of sending
    rf"|shoot\s+{_TARGET}(?!\s+(?:a|an|some|my|over|across|back|through|the\s+(?:link|details"
    r"|deets|info|address|stream|list|invite|tickets?|numbers|stats|message|dm|email|text))\b)"
    rf"|beat\s+{_TARGET}\s+up\b"
    rf"|beat\s+the\s+(?:shit|crap|hell|life)\s+out\s+of\s+{_TARGET}"
    rf"|run\s+{_TARGET}\s+over\b"
    rf"|slit\s+{_OWNER}\s+throat"
    rf"|break\s+{_OWNER}\s+(?:legs?|neck|face|jaw|arms?|bones|skull)"
    rf"|(?:smash|kick|bash|cave|punch|knock)\s+{_OWNER}\s+(?:face|head|teeth|skull)\b"
    rf"|(?:burn|torch)\s+{_OWNER}\s+(?:house|home|car)"
    rf"|find\s+{_YOU}(?=\s*(?:$|[.!?,]|and\b|soon\b|mate\b|wherever\b))"
    rf"|hunt\s+(?:{_YOU}|{_THIRD})\s+down"
)
_SELF = r"(?:yourself|urself|yourselves|urselves|ur\s+self|your\s+self|yoself)"
_SELF_VERBS = ("kill", "hang", "neck", "end", "off", "unalive", "rope", "shoot")
_SELF_JOINED = " ".join(
    v + s for v in _SELF_VERBS for s in ("yourself", "urself", "yourselves", "urselves")
)
"""``killyourself``: the run-together spellings, as trigger tokens."""

_FAMILIES: list[Family] = [
    (
        "threat.violence",
        "kill murder stab strangle choke shoot hurt punch batter rape behead butcher bury end "
        "knife shank glass headbutt torture drown suffocate beat run slit break smash kick "
        "bash cave knock burn torch find hunt",
        _SPEAKER + _FILLER + r"\s+(?:" + _HARM + ")",
    ),
    (
        "threat.doxxing",
        "live lives work sleep address house home place door find",
        rf"\bi\s+know\s+where\s+(?:{_YOU}|your\s+\w+|ur\s+\w+)\s+"
        r"(?:live|lives|work|works|sleep|sleeps)\b"
        r"|\bi\s+(?:have|got|found)\s+(?:your|ur)\s+(?:home\s+)?address\b"
        rf"|{_SPEAKER}\s+(?:come|be|turn\s+up|show\s+up|pop)\s+(?:to|round|at|outside)\s+"
        r"(?:to\s+)?(?:your|ur|yer)\s+(?:house|home|place|door|address|work)\b"
        rf"|{_SPEAKER}\s+find\s+(?:(?:your|ur|yer)\s+(?:house|home|address|family|kids|school"
        rf"|workplace)\b|out\s+where\s+{_YOU}\s+(?:live|work|sleep)\b)"
        r"|\b(?:i\s*['’]?\s*m|i\s+am|we\s*['’]?\s*re|we\s+are)\s+coming\s+(?:to|round\s+to)\s+"
        r"(?:your|ur|yer)\s+(?:house|home|place|door|address)\b",
    ),
    (
        "threat.death_wish",
        "die dies cancer killed run hit rot croak dead burn",
        rf"\b(?:hope|wish|pray)\s+(?:that\s+)?(?:{_YOU}|he|she|they|him|(?:his|her)\s+\w+|{_KIN}"
        rf"|(?:the|that|this|those|these)\s+\w+(?:{_A}s\s+(?:whole\s+|entire\s+)?{_KIN_WORDS})?)"
        r"\s+(?:(?:all\s+)?(?:die|dies|croak|croaks|rot|rots|drop\s+dead|drops\s+dead)"
        r"|(?:get|gets)\s+(?:cancer|killed|run\s+over|hit\s+by\s+a\s+(?:car|bus|train|truck))"
        r"|burn\s+in\s+hell|burns\s+in\s+hell)\b"
        # "hope the noise dies down", "hope they all die (of embarrassment)"
        r"(?!\s*\(?\s*(?:down|out|off|laughing|inside|of\s+(?:embarrassment|shame|boredom"
        r"|laughter|cringe|envy|jealousy)|from\s+(?:embarrassment|shame|cringe))\b)"
        rf"|\b(?:wish|hope)\s+(?:that\s+)?{_YOU}\s+(?:were|was|are)\s+dead\b",
    ),
    (
        "threat.self_harm",
        "yourself urself yourselves urselves self yoself bleach die jump exist miss "
        + _SELF_JOINED,
        rf"\b(?:{'|'.join(_SELF_VERBS)})[\s\-_.*~/]*{_SELF}\b(?!\s+in\s+the\s+foot)"
        r"|\bdrink\s+(?:some\s+)?bleach\b|\bgo\s+(?:and\s+)?die\b(?!\s*-?\s*hards?\b|\s+for\b)"
        rf"|\b{_YOU}\s+should\s+(?:just\s+)?(?:die|not\s+exist|stop\s+existing)\b"
        r"|\bjump\s+off\s+a\s+(?:bridge|cliff|building|roof)\b"
        rf"|\b(?:nobody|no\s+one|noone)\s+would\s+miss\s+{_YOU}\b",
    ),
]

_ANNOUNCED = re.compile(_SPEAKER)
_GOVERNED = re.compile(
    r"(?:\bdon\s*['’]?\s*t|\bdo\s+not|\bnever|\bnot|\bwon\s*['’]?\s*t|\bshouldn\s*['’]?\s*t"
    r"|\b(?:you|u)\s*(?:['’]?\s*ll|\s+will|['’]?\s*d|\s+would|\s+could|\s+might"
    r"|['’]?\s*re\s+(?:gonna|going\s+to)|\s+are\s+(?:gonna|going\s+to)))"
    r"(?:\s+(?:just|even|ever|go|and|really|actually|literally|probably|seriously|totally"
    r"|only|you|u|dare|wanna|gonna|gotta|almost|nearly))*\s+$"
)
"""A negation (``don't kill yourself``, ``never go die``, ``don't you dare kill yourself``) or
a forecast (``you'll kill yourself laughing``) right before the act, at most a few adverbs
between: the words that govern it."""
_GAME = re.compile(
    r"\b(?:fifa|fc\s*2\d|madden|2k\d*|pes|efootball|fantasy|fpl|mini[\s-]*league|mario\s*kart"
    r"|smash\s+bros|fortnite|warzone|cod|call\s+of\s+duty|rocket\s+league|chess|pool|snooker"
    r"|darts|ping\s*pong|table\s+tennis|poker|monopoly|scrabble|uno|quiz|trivia|karaoke"
    r"|sweepstake|predictor|bracket|h2h|head\s+to\s+head)\b"
)
"""Games in which ``I'll kill you`` is banter about winning."""
_WANTING = re.compile(rf"i\s*{_A}\s*d\b|i\s+would\b")
_SENTENCE_END = re.compile(r"[.!?\n]")


def _cancelled(text: str, m: re.Match[str]) -> bool:
    """Whether the words around a match make it harmless (see the module docstring)."""
    start, end = m.span()
    announced = _ANNOUNCED.match(text, start) is not None
    if not announced and _GOVERNED.search(text, max(0, start - 40), start) is not None:
        return True
    if announced and _WANTING.match(text, start) and text.startswith(" for ", end):
        return True
    stop = _SENTENCE_END.search(text, end)
    begin = max((b.end() for b in _SENTENCE_END.finditer(text, 0, start)), default=0)
    return _GAME.search(text, begin, stop.start() if stop else len(text)) is not None


class ThreatCheck:
    """Violence announced at a person, death wishes, self-harm incitement, doxxing hints."""

    name = NAME

    def __init__(self) -> None:
        self._shapes = Shapes(NAME, SCORE, _FAMILIES, veto=_cancelled)

    def run(self, msg: CheckInput) -> list[Finding]:
        return self._shapes.find(msg.view)
