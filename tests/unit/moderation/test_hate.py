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
    ],
)
def test_group_names_and_ape_words_in_harmless_shapes_pass(
    check: Callable[..., Verdict], text: str
) -> None:
    verdict = check(text)
    assert verdict.action is Action.ALLOW and verdict.reasons == [], verdict
