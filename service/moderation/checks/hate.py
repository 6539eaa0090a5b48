"""Hate: dehumanising generalisations about a group, calls to harm one, racist abuse aimed at a
person, and extremist slogans.

The blocklist already refuses slurs; this check finds hate written in ordinary words, which
no word list can hold: ``all muslims are terrorists``, ``gas the jews``, ``go back to your
country``, ``you monkey``, a row of monkey emoji at a player. As in the threat check, a
pattern needs its shape (a group named and a dehumanising predicate, a harm verb and a group,
a person addressed and an ape word with at most an insult between), never a word alone, so
``the blacks are winning`` (chess), ``monkey business`` and ``you cheeky monkey`` pass. Each
code scores 0.8: the shipped ladder holds the message for a moderator.
"""

from __future__ import annotations

import re

from service.moderation.checks.base import CheckInput
from service.moderation.checks.shapes import Family, Shapes
from service.moderation.verdict import Finding, Reason

NAME = "hate"
SCORE = 0.8

_GROUP_WORDS = (
    "jews jew muslims muslim moslems blacks whites asians arabs mexicans immigrants migrants "
    "refugees foreigners gays gay lesbians trans gypsies gipsies travellers pakis chinese "
    "africans indians romanians polish poles catholics christians hindus sikhs women"
)
_GROUP = r"(?:" + "|".join(sorted(_GROUP_WORDS.split(), key=len, reverse=True)) + r")"
_DEHUMANISED = (
    r"(?:terrorists?|animals?|rapists?|criminals?|vermin|scum|rats?|parasites?|sub-?humans?"
    r"|savages?|monkeys?|apes?|dogs?|pigs?|cockroaches|roaches|a\s+disease|a\s+plague|a\s+cancer"
    r"|diseased|inferior|not\s+human|filth|trash|garbage|thieves|thugs?|invaders|a\s+virus)"
)
_APE = r"(?:monkey|monkeys|ape|apes|gorilla|gorillas|chimp|chimps|chimpanzee|baboon|orangutan)"

_FAMILIES: list[Family] = [
    (
        "hate.group",
        _GROUP_WORDS,
        rf"\b{_GROUP}\s+(?:are|r|is|=)\s+(?:all\s+|just\s+|nothing\s+but\s+|like\s+)?"
        rf"(?:fucking\s+|filthy\s+|dirty\s+|disgusting\s+)?{_DEHUMANISED}\b"
        rf"|\b(?:kill|gas|exterminate|deport|hang|burn|shoot|lynch|nuke)\s+(?:all\s+)?"
        rf"(?:the\s+|those\s+|these\s+)?{_GROUP}\b",
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


class HateCheck:
    """Dehumanising generalisations, calls to harm a group, racist abuse, extremist slogans."""

    name = NAME

    def __init__(self) -> None:
        self._shapes = Shapes(NAME, SCORE, _FAMILIES)

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
