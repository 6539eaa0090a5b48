"""Hate: dehumanising generalisations about a group, calls to harm one, racist abuse aimed at a
person, slurs that are also ordinary words, and extremist slogans.

The blocklist already refuses slurs; this check finds hate written in ordinary words, which
no word list can hold: ``all muslims are terrorists``, ``gas the jews``, ``jews should be
gassed``, ``go back to your country``, ``you monkey``, a row of monkey emoji at a player. As in
the threat check, a pattern needs its shape (a group named and a dehumanising predicate, a harm
verb and a group, a person addressed and an ape word with at most an insult between), never a
word alone, so ``the blacks are winning`` (chess), ``monkey business`` and ``you cheeky
monkey`` pass. Each code scores 0.8: the shipped ladder holds the message for a moderator.

Group words that are also other words are read as a group only where the grammar says people:
``polish``, ``chinese``, ``trans`` and ``gay`` take a plural verb or ``people`` (``nail polish
is garbage``, ``chinese is trash tonight`` and ``the trans is slipping`` pass; ``chinese people
are rats`` is hate), and team names (``Indians``, ``All Blacks``, ``the Whites``) are the team
when the message talks sport (``kill the indians tonight``, ``Indians are animals tonight, 12
runs``). Slurs with an ordinary sense (``chink``, ``tranny``, ``dyke``) are held except where
that sense shows (``a chink in the armour``, a gearbox ``tranny``, Greg Dyke).
"""

from __future__ import annotations

import re

from service.moderation.checks.base import CheckInput
from service.moderation.checks.shapes import Family, Shapes
from service.moderation.verdict import Finding, Reason

NAME = "hate"
SCORE = 0.8

_NOUNS = (
    "jews jew muslims muslim moslems blacks whites asians arabs mexicans immigrants migrants "
    "refugees foreigners gays lesbians homosexuals gypsies gipsies travellers pakis africans "
    "indians romanians poles catholics christians hindus sikhs women hispanics latinos "
    "illegals trannies dykes"
)
"""Words that name a group of people, plural or singular."""
_ADJECTIVES = (
    "jewish muslim black white asian arab mexican gay lesbian trans transgender polish chinese "
    "indian african romanian pakistani gypsy catholic christian hindu sikh immigrant foreign"
)
"""Words that name a group only before ``people`` (or as a plural subject, for the four in
``_BARE_ADJECTIVES``)."""
_BARE_ADJECTIVES = "polish chinese trans gay"


def _alternation(words: str) -> str:
    return "(?:" + "|".join(sorted(words.split(), key=len, reverse=True)) + ")"


_PEOPLE = rf"{_alternation(_ADJECTIVES)}\s+(?:people|folks?|men|women|kids|lot)"
_GROUP = (
    rf"(?P<group>(?P<noun>{_alternation(_NOUNS)})|{_alternation(_BARE_ADJECTIVES)}|{_PEOPLE})"
)
# After a harm verb a bare adjective must end the phrase: "gas the chinese", not "kill the
# chinese takeaway" or "shoot the polish keeper".
_GROUP_OBJECT = (
    rf"(?P<group>{_alternation(_NOUNS)}|{_PEOPLE}|{_alternation(_BARE_ADJECTIVES)}"
    r"(?=\s*(?:$|[.!?,;]|(?:and|now|all|too|again|tonight|today|lol|mate|lads|boys)\b)))"
)
_DEHUMANISED = (
    r"(?:terrorists?|animals?|rapists?|criminals?|vermin|scum|rats?|parasites?|sub-?humans?"
    r"|savages?|monkeys?|apes?|dogs?|pigs?|cockroaches|roaches|a\s+disease|a\s+plague|a\s+cancer"
    r"|diseased|inferior|not\s+human|filth|trash|garbage|thieves|thugs?|invaders|a\s+virus)"
)
_HARMED = (
    r"(?:gassed|killed|exterminated|deported|lynched|hanged|hung|shot|burned|burnt|nuked"
    r"|purged|eradicated|eliminated|wiped\s+out|sterili[sz]ed|executed|removed|banned"
    r"|locked\s+up|sent\s+back|put\s+down|culled|rounded\s+up|slaughtered|massacred)"
)
_HARM_VERB = (
    r"(?:kill|gas|exterminate|deport|hang|burn|shoot|lynch|nuke|purge|eradicate|eliminate"
    r"|wipe\s+out|get\s+rid\s+of|round\s+up|sterili[sz]e|slaughter|massacre|genocide)"
)
_APE = (
    r"(?:monkeys?|apes?|chimps?|chimpanzee|baboon|orangutan|gorillas?"
    # "he's an absolute gorilla in the box": how a big player wins the ball, not abuse
    r"(?!\s+(?:in|at|up)\s+(?:the\s+)?(?:box|back|air|middle|midfield|front)\b))"
)
_AIMED = (
    r"(?:you|u|ur|ya|yer|a|an|such\s+a|what\s+a|fucking|fkn|dirty|filthy|stupid|bloody|ugly"
    r"|fat|little|she\s*['’]?s|shes|she\s+is|he\s*['’]?s|hes|he\s+is|is\s+a)"
)
_GROUP_TRIGGERS = f"{_NOUNS} {_ADJECTIVES}"

_FAMILIES: list[Family] = [
    (
        "hate.group",
        _GROUP_TRIGGERS,
        # "jews are rats"; "is" only after a noun: "nail polish is garbage" is nail polish
        rf"\b{_GROUP}\s+(?:are|r|=|(?(noun)is|(?!)))\s+"
        r"(?:all\s+|just\s+|nothing\s+but\s+|like\s+)?"
        rf"(?:fucking\s+|filthy\s+|dirty\s+|disgusting\s+)?{_DEHUMANISED}\b",
    ),
    (
        "hate.group",
        _GROUP_TRIGGERS,
        # "jews should be gassed", "muslims must be deported", "gays deserve to die"
        rf"\b{_GROUP}\s+(?:should|must|need\s+to|needs\s+to|ought\s+to|have\s+to|has\s+to"
        r"|deserve\s+to|gotta)\s+(?:all\s+)?"
        rf"(?:(?:be|get)\s+(?:all\s+)?{_HARMED}|die|burn|hang|rot)\b",
    ),
    (
        "hate.group",
        _GROUP_TRIGGERS,
        # "gas the jews", "we need to purge the jews", "shoot all the immigrants"
        rf"\b{_HARM_VERB}\s+(?:all\s+|every\s+)?(?:the\s+|those\s+|these\s+|of\s+the\s+)?"
        rf"{_GROUP_OBJECT}\b",
    ),
    (
        "hate.slur",
        "chink chinks chinky tranny trannie trannies dyke dykes",
        r"\b(?P<chink>chinks?|chinky)\b(?!\s+(?:in|of)\b)"
        r"|\b(?P<tranny>trann(?:y|ie|ies))\b"
        rf"|(?:^\W*|\b{_AIMED}\s+)dykes?\b(?!\s+(?:road|rd|lane|street|st|park|house|end)\b)",
    ),
    (
        "hate.racist_abuse",
        "back country africa came jungle trees zoo monkey monkeys ape apes gorilla gorillas "
        "chimp chimps chimpanzee baboon orangutan ooh oooh ooooh",
        r"\bgo\s+back\s+(?:to|2)\s+(?:(?:your|ur|yer)\s+(?:own\s+)?(?:country|jungle|cave)"
        r"|where\s+(?:you|u)\s+came\s+from|africa|the\s+(?:jungle|trees|zoo))\b"
        r"|\bsend\s+(?:them|him|her|em)\s+(?:all\s+)?back\s+(?:to|2)\s+(?:africa|their\s+country)\b"
        rf"|\b(?:you|u|ur|you\s*['’]?\s*re|youre|ya|he\s*['’]?\s*s|hes|he\s+is)\s+"
        rf"(?:(?:a|an|such\s+a|fucking|bloody|dirty|filthy|stupid|absolute)\s+)*{_APE}\b"
        r"(?!\s+(?:business|bars|wrench|nuts|island))"
        r"|\bo{2,}h+\s+o{2,}h+\s+a{2,}h+\b",  # the chant; linear, unlike (?:ooh\s+){2,}
    ),
    (
        "hate.extremism",
        "heil sieg seig hitler power reich holocaust",
        r"\b(?:sieg|seig)\s+heil\b|\bheil\s+hitler\b|\bwhite\s+power\b|\bfourth\s+reich\b"
        r"|\bhitler\s+(?:was\s+right|did\s+nothing\s+wrong)\b"
        r"|\bholocaust\s+(?:never\s+happened|didn\s*['’]?\s*t\s+happen"
        r"|is\s+a\s+(?:lie|hoax|myth))\b",
    ),
]
_APE_EMOJI = ("🐒", "🐵", "🦍")
_EMOJI_ROW = re.compile("[🐒🐵🦍🍌]")

_TEAMS = re.compile(r"indians|whites|(?<=all )blacks")
"""Group words that are also team names (Cleveland Indians, the Whites, the All Blacks)."""
_SPORT = re.compile(
    r"\b(?:tonight|today|this\s+season|game|games|match|matches|innings?|runs?|wickets?"
    r"|overs|scrum|lineout|tries|goals?|scored?|win|won|lose|lost|lead|series|playoffs?"
    r"|pitching|pitchers?|bullpen|batting|bats|lineup|defen[cs]e|offen[cs]e|quarter|half"
    r"|pitch|kit|\d+(?:st|nd|rd|th)|\d+\s*-\s*\d+)\b"
)
"""Words that make a team name the team."""
_CARS = re.compile(
    r"\b(?:car|cars|engine|gearbox|transmission|fluid|clutch|gears?|mechanic|garage|diff"
    r"|truck|van|ute|auto|manual|shift|shifting|rebuild|cooler|radio)\b"
)
"""Words that make ``tranny`` a gearbox (or a transistor radio)."""


_COMPOUND = re.compile(
    r"(?:nail|shoe|boot|car|floor|furniture|silver|metal|wax|wood|auto|manual|mandarin"
    r"|simplified|traditional|indo)\s+$"
)
"""Words that make the bare adjective after them part of a thing's name: nail polish, auto
trans, simplified Chinese."""


def _cancelled(text: str, m: re.Match[str]) -> bool:
    """A team name in sports talk, a group adjective that names a thing, or a slur's ordinary
    sense in the same message."""
    group = m.groupdict().get("group")
    if group is not None:
        start, end = m.span("group")
        if _TEAMS.fullmatch(text, start, end):
            return _SPORT.search(text) is not None
        return _COMPOUND.search(text, max(0, start - 12), start) is not None
    if m.groupdict().get("tranny") is not None:
        return _CARS.search(text) is not None
    return False


class HateCheck:
    """Dehumanising generalisations, calls to harm a group, racist abuse, ambiguous slurs,
    extremist slogans."""

    name = NAME

    def __init__(self) -> None:
        self._shapes = Shapes(NAME, SCORE, _FAMILIES, veto=_cancelled)

    def run(self, msg: CheckInput) -> list[Finding]:
        view = msg.view
        findings: list[Finding] = []
        if not view.ascii and any(e in view.folded for e in _APE_EMOJI):
            # Monkey and gorilla emoji thrown at players: two or more, bananas counted with them.
            row = _EMOJI_ROW.findall(view.folded)
            if len(row) >= 2:
                detail = f"{len(row)} ape and banana emoji"
                findings.append(Finding(Reason(NAME, "hate.racist_abuse", SCORE, detail)))
        return findings + self._shapes.find(view, findings)
