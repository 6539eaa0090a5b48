"""The folded view: one canonical form for evasive text, with a way back to the original."""

from __future__ import annotations

import pytest

from service.moderation.masking import apply_spans
from service.moderation.normalize import TextView, fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＳＨＩＴ", "shit"),  # full-width
        ("𝐬𝐡𝐢𝐭 𝓼𝓱𝓲𝓽", "shit shit"),  # mathematical bold and script
        ("ⓢⓗⓘⓣ", "shit"),  # circled
        ("sh\u200bi\u200dt\u2060", "shit"),  # zero-width space, joiner, word joiner
        ("\u202eshit\u202c", "shit"),  # bidi override
        ("ѕһіт", "shit"),  # Cyrillic look-alikes
        ("ʙɪᴛᴄʜ", "bitch"),  # small capitals
        ("fúçk", "fuck"),  # accents
        ("ﬁne", "fine"),  # ligature
        ("٠٧٧٠٠ ٩٠٠١٢٣", "07700 900123"),  # Arabic-Indic digits
        ("९८७६५", "98765"),  # Devanagari digits
        ("０７７００", "07700"),  # full-width digits
        ("MiXeD CaSe", "mixed case"),
        ("fucκ ғυcκ fuςk", "fuck fuck fuck"),  # Greek kappa and final sigma, Cyrillic ghe
        ("ʂhit ƒuck", "shit fuck"),  # Latin letters with a hook, which NFKD keeps
        ("🅢🅗🅘🅣 🆂🅷🅸🆃", "shit shit"),  # negative circled and squared letters
        ("ꓢꓧꓲꓔ ЅΗΙΤ", "sh|t sh|t"),  # a capital I or a small l: the word checks try both
        ("Łódź Søren", "lodz soren"),
    ],
)
def test_fold_resolves_evasive_forms(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_flags_stay_flags() -> None:
    assert fold("🇬🇧 🇫🇷") == "🇬🇧 🇫🇷"  # regional indicators are not letters to fold


@pytest.mark.parametrize("text", ["مرحبا بكم", "नमस्ते", "頑張れ日本", "골! 최고", "שער מדהים"])
def test_real_scripts_are_not_rewritten_into_latin(text: str) -> None:
    folded = fold(text)
    assert not any("a" <= ch <= "z" for ch in folded), folded


def test_ascii_text_is_only_lower_cased_and_tokenised() -> None:
    view = TextView("GOAL!!! 2-1 at 19:45, what a strike")
    assert view.folded == "goal!!! 2-1 at 19:45, what a strike"
    assert view.tokens == ["goal!!!", "2", "1", "at", "19", "45", "what", "a", "strike"]
    assert view.digits == 6
    assert view.to_original(5, 8) == (5, 8)


def test_non_ascii_tokens_and_digits_match_the_ascii_path() -> None:
    view = TextView("Gol de Messi aos 23 minutos ⚽ ٣")
    assert view.tokens == ["gol", "de", "messi", "aos", "23", "minutos", "3"]
    assert view.digits == 3


def test_folded_spans_map_back_to_the_original_for_masking() -> None:
    text = "call ０７７００\u200b ９００１２３ now 👋"
    view = TextView(text)
    start = view.folded.index("07700")
    end = view.folded.index("123") + 3
    assert apply_spans(view, [(start, end, "[phone]")]) == "call [phone] now 👋"


def test_masking_with_stars_keeps_the_original_length() -> None:
    view = TextView("what the ѕһіт")
    start = view.folded.index("shit")
    assert apply_spans(view, [(start, start + 4, "")]) == "what the ****"


def test_overlapping_spans_merge_and_nothing_of_either_survives() -> None:
    view = TextView("abc 0123456789 xyz")
    masked = apply_spans(view, [(4, 10, "[a]"), (8, 14, "[b]")])
    assert masked == "abc [a] xyz"


def test_emoji_sequences_keep_their_joiners_in_the_view_text() -> None:
    family = "👨\u200d👩\u200d👧 at the match"
    view = TextView(family)
    assert view.text == family
    assert "\u200d" not in view.folded
