"""Every check name and reason code the pipeline can emit.

Policies name checks or codes in their ``actions`` table; keeping the vocabulary in one place
lets settings validation reject a misspelt key (``spma``) instead of silently ignoring it.
"""

from __future__ import annotations

CHECKS: dict[str, tuple[str, ...]] = {
    "input": ("input.empty", "input.too_long", "input.control_chars"),
    "rate": ("rate.burst", "rate.limit", "rate.duplicate"),
    "blocklist": ("blocklist.word", "blocklist.evasion"),
    "threat": ("threat.violence", "threat.doxxing", "threat.death_wish", "threat.self_harm"),
    "hate": ("hate.group", "hate.racist_abuse", "hate.slur", "hate.extremism"),
    "spam": (
        "spam.link",
        "spam.shortener",
        "spam.invite",
        "spam.obfuscated_link",
        "spam.lure",
        "spam.contact",
        "spam.tout",
        "spam.stream",
        "spam.crypto",
        "spam.tipster",
        "spam.prize",
        "spam.mentions",
        "spam.flood",
    ),
    "pii": ("pii.email", "pii.phone", "pii.card", "pii.iban"),
    "provider": ("provider.flagged", "provider.unavailable"),
}
"""Check name -> codes it emits. ``provider.<category>`` codes come from the provider."""

ALL_CODES = frozenset(code for codes in CHECKS.values() for code in codes)


def is_known(key: str) -> bool:
    """Whether ``key`` names a check, a known code, or a provider category code."""
    return key in CHECKS or key in ALL_CODES or (key.startswith("provider.") and len(key) > 9)
