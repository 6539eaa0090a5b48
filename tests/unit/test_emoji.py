"""``check_emoji``: a reaction is one emoji, so no text (nor a string of emoji) reaches a room
through reactions."""

from __future__ import annotations

import pytest

from service.actions.reactions import check_emoji
from service.errors import ErrorCode, SidelineError

VALID = {
    "fire": "🔥", "ball": "⚽", "thumbs": "👍", "clap": "👏", "scream": "😱",
    "flag": "🇬🇧", "keycap": "1️⃣", "keycap-no-selector": "#⃣",
    "zwj-family": "👨‍👩‍👧", "skin-tone": "👍🏽", "heart": "❤️", "text-style": "❤︎",
    "subdivision-flag": "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "newer-than-python": "\U0001fae8",
    "circled-m": "Ⓜ️", "copyright": "©️", "gender-sign-sequence": "🏃‍♀️",
    "zwj-family-of-four": "👨‍👩‍👧‍👦", "kiss-with-skin-tones": "👩🏻‍❤️‍💋‍👨🏼",
    "handshake-two-tones": "🫱🏻‍🫲🏿", "heart-on-fire": "❤️‍🔥", "rainbow-flag": "🏳️‍🌈",
    "unassigned-in-an-emoji-block": "\U0001f6da",
}  # fmt: skip


@pytest.mark.parametrize("value", VALID.values(), ids=VALID.keys())
def test_emoji_are_accepted(value: str) -> None:
    assert check_emoji(value) == value


INVALID = {
    "letter": ("x", "'x' (U+0078)"),
    "digit": ("1", "'1' (U+0031)"),
    "digit-with-selector": ("1\ufe0f", "'1' (U+0031)"),
    "space": (" ", "' ' (U+0020)"),
    "punctuation": ("!", "'!' (U+0021)"),
    "modifier-letter": ("^", "'^' (U+005E)"),
    "word": ("BUY", "'B' (U+0042)"),
    "spam": ("BUY at evil.example now", "'B' (U+0042)"),
    "emoji-then-text": ("🔥 buy", "' ' (U+0020)"),
    "circled-letters": ("ⒷⓊⓎⓔⓥⓘⓛ", "'Ⓑ' (U+24B7)"),
    "ballot-box": ("☐", "'☐' (U+2610)"),
    "place-of-interest": ("⌘", "'⌘' (U+2318)"),
    "box-drawing-art": ("🔥╳", "'╳' (U+2573)"),
}


@pytest.mark.parametrize(("value", "culprit"), INVALID.values(), ids=INVALID.keys())
def test_text_is_refused_naming_the_value_and_character(value: str, culprit: str) -> None:
    with pytest.raises(SidelineError) as refused:
        check_emoji(value)
    err = refused.value
    assert (err.code, err.at) == (ErrorCode.INVALID_BODY, "$.emoji")
    assert err.message == (
        f"emoji {value!r} is not made of emoji: {culprit} is not an emoji character"
    )


@pytest.mark.parametrize("value", ["", "\u200d", "\ufe0f", "\U000e0067\U000e007f"])
def test_joiners_alone_are_no_emoji(value: str) -> None:
    with pytest.raises(SidelineError) as refused:
        check_emoji(value, at="$.crowd")
    assert refused.value.message == f"emoji {value!r} has no emoji in it"
    assert refused.value.at == "$.crowd"


MANY = {
    "two": ("🔥🔥", 2),
    "three": ("🔥💩🔥", 3),
    "two-flags": ("🇬🇧🇫🇷", 2),
    "flag-and-a-half": ("🇬🇧🇫", 2),
    "two-keycaps": ("1️⃣2️⃣", 2),
    "emoji-and-a-skin-tone": ("🔥🏽", 2),
    "thumb-and-a-stray-tone": ("👍🏽🏿", 2),
    "family-then-fire": ("👨‍👩‍👧🔥", 2),
    "long-run": ("😀" * 32, 32),
}


@pytest.mark.parametrize(("value", "count"), MANY.values(), ids=MANY.keys())
def test_a_reaction_is_one_emoji(value: str, count: int) -> None:
    with pytest.raises(SidelineError) as refused:
        check_emoji(value)
    err = refused.value
    assert (err.code, err.at) == (ErrorCode.INVALID_BODY, "$.emoji")
    assert err.message == (
        f"emoji {value[:40]!r} is {count} emoji; a reaction is one emoji (a flag, a keycap, "
        "a skin tone or a joined sequence such as a family counts as one)"
    )
