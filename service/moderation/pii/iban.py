"""International bank account numbers, validated by country length and the mod-97 check."""

from __future__ import annotations

import re

# ISO 13616 registry lengths, by country code.
IBAN_LENGTHS = {
    "ad": 24, "ae": 23, "al": 28, "at": 20, "az": 28, "ba": 20, "be": 16, "bg": 22, "bh": 22,
    "br": 29, "by": 28, "ch": 21, "cr": 22, "cy": 28, "cz": 24, "de": 22, "dk": 18, "do": 28,
    "ee": 20, "eg": 29, "es": 24, "fi": 18, "fo": 18, "fr": 27, "gb": 22, "ge": 22, "gi": 23,
    "gl": 18, "gr": 27, "gt": 28, "hr": 21, "hu": 28, "ie": 22, "il": 23, "iq": 23, "is": 26,
    "it": 27, "jo": 30, "kw": 30, "kz": 20, "lb": 28, "lc": 32, "li": 21, "lt": 20, "lu": 20,
    "lv": 21, "mc": 27, "md": 24, "me": 22, "mk": 19, "mr": 27, "mt": 31, "mu": 30, "nl": 18,
    "no": 15, "pk": 24, "pl": 28, "ps": 29, "pt": 25, "qa": 29, "ro": 24, "rs": 22, "sa": 24,
    "sc": 31, "se": 24, "si": 19, "sk": 24, "sm": 27, "st": 25, "sv": 28, "tl": 23, "tn": 24,
    "tr": 26, "ua": 29, "va": 22, "vg": 24, "xk": 20,
}  # fmt: skip

_CANDIDATE = re.compile(r"(?<![a-z0-9])[a-z]{2}\d{2}(?:[ \-.]?[a-z0-9]){11,32}")


def mod97(iban: str) -> bool:
    """The ISO 7064 mod-97 check of a compact, lower-case IBAN."""
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def find_ibans(folded: str) -> list[tuple[int, int, str]]:
    """IBAN spans in folded text; the match is cut to its country's exact length."""
    spans = []
    for m in _CANDIDATE.finditer(folded):
        length = IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        compact, end = [], m.start()
        for i, ch in enumerate(m.group()):
            if ch.isalnum():
                compact.append(ch)
                if len(compact) == length:
                    end = m.start() + i + 1
                    break
        if len(compact) == length and mod97("".join(compact)):
            spans.append((m.start(), end, "iban"))
    return spans
