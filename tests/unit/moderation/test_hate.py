"""Hate in ordinary words is held for a moderator; group names, ape words and emoji in harmless
shapes pass untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from service.moderation import Action, Verdict


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("all muslims are terrorists", "hate.group"),
        ("immigrants are vermin", "hate.group"),
        ("women are inferior", "hate.group"),
        ("gas the jews", "hate.group"),
        ("kill all the gays", "hate.group"),
        ("go back to your country", "hate.racist_abuse"),
        ("go back to africa", "hate.racist_abuse"),
        ("you monkey", "hate.racist_abuse"),
        ("ur a monkey", "hate.racist_abuse"),
        ("he's a dirty ape", "hate.racist_abuse"),
        ("ooh ooh aah", "hate.racist_abuse"),
        ("🐒🐒🐒", "hate.racist_abuse"),
        ("🐒🍌", "hate.racist_abuse"),
        ("heil hitler", "hate.extremism"),
        ("sieg heil", "hate.extremism"),
        ("hitler was right", "hate.extremism"),
        ("ａｌｌ ｍｕｓｌｉｍｓ ａｒｅ ｔｅｒｒｏｒｉｓｔｓ", "hate.group"),  # folded first
        ("immigrants should all be deported", "hate.group"),
        ("muslims deserve to die", "hate.group"),
        ("the polish should be deported", "hate.group"),
        ("get rid of the muslims", "hate.group"),
        ("chinese people are rats", "hate.group"),
        ("I think chinese are rats", "hate.group"),
        ("kill the indians", "hate.group"),  # no sports talk: not read as the team
        ("j3ws should be gassed", "hate.group"),
        ("mus1ims are vermin", "hate.group"),
        ("you chink", "hate.slur"),
        ("you dyke", "hate.slur"),
        ("tranny", "hate.slur"),
        # an ape word thrown at a person stays held whatever the insult's tone: it is the
        # abuse black players get, and the text cannot tell at whom it is thrown
        ("you absolute chimp, pass it", "hate.racist_abuse"),
    ],
)
def test_hate_is_held(check: Callable[..., Verdict], text: str, code: str) -> None:
    verdict = check(text)
    assert verdict.action is Action.HOLD, verdict
    assert [(r.check, r.code, r.score) for r in verdict.reasons] == [("hate", code, 0.8)]
    assert not verdict.altered


@pytest.mark.parametrize(
    "text",
    [
        "you cheeky monkey",
        "monkey business from the ref",
        "what a monkey wrench in their plans",
        "that was a gorilla of a tackle",
        "the blacks are winning this game",
        "the whites are on fire tonight (kit)",
        "jews and muslims welcome in this fanbase",
        "refugees welcome",
        "immigrants built this club",
        "go back to your seat",
        "I went back to my country for the holidays",
        "send him back to the bench",
        "🐒",
        "🍌🍌 for energy",
        "see no evil 🙈🙈",
        "gas it lads, 2 minutes left",
        "hitler comparisons are silly",
        "these refs are animals",
        "the indians are a great team",
        "kill the indians in the 8th, come on",
        "the whites are garbage tonight",
        "nail polish should be banned",
        "chinese food should be banned at the stadium",
        "simplified chinese is garbage for this font",
        "shoot the polish keeper, he's off his line",
        "the trans is slipping on the team bus",
        "polish is a beautiful language",
        "gays welcome here",
        "he's a gorilla at the back",
        "there's a chink in their armour",
        "chinks of light for the home side",
        "my tranny fluid needs changing before the track day",
        "Greg Dyke resigns as FA chairman",
        "Offa's Dyke path walk tomorrow",
    ],
)
def test_group_names_and_ape_words_in_harmless_shapes_pass(
    check: Callable[..., Verdict], text: str
) -> None:
    verdict = check(text)
    assert verdict.action is Action.ALLOW and verdict.reasons == [], verdict
