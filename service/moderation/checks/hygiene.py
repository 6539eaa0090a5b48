"""Input hygiene: the cheapest check, run before anything else reads the text.

Removes characters that must never be displayed (C0/C1 controls except newline and tab, bidi
embeddings and overrides used for spoofing, lone surrogates that cannot be encoded as UTF-8),
refuses empty and over-long texts. Zero-width joiners and bidi marks stay in the displayed
text: emoji sequences and right-to-left scripts need them; only the folded view drops them.
"""

from __future__ import annotations

import re

from service.moderation.verdict import Finding, Reason

NAME = "input"

_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
NEVER_SHOWN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")
"""What no message keeps, moderated or not: C0/C1 controls but newline and tab, and bidi
embeddings and overrides (one reverses the text shown after it)."""
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def sanitize(text: str) -> tuple[str, list[Finding]]:
    """Return the displayable text and a finding when anything had to be removed."""
    if text.isprintable():  # C-level fast path: nothing to remove
        return text, []
    pattern = _ASCII_CONTROL if text.isascii() else NEVER_SHOWN
    if pattern.search(text) is None and (text.isascii() or _SURROGATE.search(text) is None):
        return text, []
    cleaned = _SURROGATE.sub("\ufffd", pattern.sub("", text))
    removed = len(text) - len(cleaned)
    detail = f"removed {removed} control character(s)" if removed else "replaced lone surrogates"
    return cleaned, [Finding(Reason(NAME, "input.control_chars", 0.0, detail))]


def too_long(length: int, limit: int) -> Finding:
    """The finding for a text longer than ``limit`` characters."""
    return Finding(Reason(NAME, "input.too_long", 1.0, f"{length} characters, limit {limit}"))


def empty() -> Finding:
    """The finding for a text with nothing visible in it."""
    return Finding(Reason(NAME, "input.empty", 1.0, "no visible characters"))
