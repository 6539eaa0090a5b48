"""A poll's question and options as the poll shows them: cleaned as a message's text is."""

from __future__ import annotations

import pytest

from service.actions.messages import visible_text
from service.actions.polls import check_options
from service.errors import ErrorCode, SidelineError


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Saka \u202eis back\u202c", "Saka is back"),  # an override reverses what follows it
        ("\u202a\u202b\u202dleft\u202c", "left"),  # embeddings and the left-to-right override
        ("bell\u0007 \x1b[31mred\x7f\u0085", "bell [31mred"),  # C0 and C1 controls, DEL
        ("two\nlines\tand tab", "two\nlines\tand tab"),  # newline and tab stay
        ("\u0645\u0631\u062d\u0628\u0627 \u200fok \u2067x\u2069", "\u0645\u0631\u062d\u0628\u0627 \u200fok \u2067x\u2069"),
        ("  \u202e padded \u202c ", "padded"),  # the ends stripped once the controls are gone
    ],
    ids=["override", "embeddings", "controls", "newline and tab", "marks and isolates", "ends"],
)
def test_what_no_message_keeps_is_dropped(text: str, shown: str) -> None:
    assert visible_text(text, "poll option", "$.options[1]") == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\u202e", "poll option is empty"),
        (" \u202e\u0007\t\u202c\n ", "poll option is empty"),
        ("\u200b\u202e\u200d", "poll option has no visible characters (U+200B U+200D)"),
    ],
    ids=["an override", "controls and white space", "zero-width characters"],
)
def test_nothing_visible_left_is_empty(text: str, message: str) -> None:
    with pytest.raises(SidelineError) as refused:
        visible_text(text, "poll option", "$.options[1]")
    assert (refused.value.code, refused.value.message, refused.value.at) == (
        ErrorCode.TEXT_EMPTY, message, "$.options[1]",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "repeat"),
    [
        (["Saka", "Sa\u200bka"], 1),  # a zero-width space: the same to the eye
        (["Yes", "yes"], 1),  # case: a voter cannot tell which to pick
        (["Home", "Away", "home  "], 2),
    ],
    ids=["invisible", "case", "ends"],
)
def test_options_a_voter_cannot_tell_apart_are_a_repeat(options: list[str], repeat: int) -> None:
    with pytest.raises(SidelineError) as refused:
        check_options([visible_text(o, "poll option", f"$.options[{i}]") for i, o in enumerate(options)])
    assert refused.value.code is ErrorCode.INVALID_BODY and refused.value.at == f"$.options[{repeat}]"


def test_options_that_differ_visibly_pass() -> None:
    check_options(["Saka", "Saka!", "S\u00e1ka", "\U0001f468\u200d\U0001f469", "\U0001f468\U0001f469"])
