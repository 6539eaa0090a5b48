"""Personal data: emails, phone numbers, payment cards and IBANs, masked in place.

Always runs, even after an earlier check has blocked the message: the verdict's text must
never carry unmasked personal data, whatever the action (the unmasked original belongs only
in the access-controlled moderation record). Cheap gates keep ordinary chat fast: fewer than
seven digits and no digit words skip the number search, no ``@`` and no spelled-out ``at``
skip the email search, fewer than ten digits skip IBANs.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.moderation.checks.base import CheckInput
from service.moderation.pii.emails import find_emails
from service.moderation.pii.iban import find_ibans
from service.moderation.pii.numbers import NumberFinder
from service.moderation.verdict import Finding, Reason

NAME = "pii"
SCORE = 0.9
_LABELS = {"email": "an email address", "phone": "a phone number", "card": "a card number",
           "iban": "an IBAN"}  # fmt: skip


class PiiCheck:
    """Finds personal data; each finding masks its span as ``[email]``, ``[phone]`` ..."""

    name = NAME

    def __init__(self, phone_regions: Sequence[str]) -> None:
        self._numbers = NumberFinder(phone_regions)

    def run(self, msg: CheckInput) -> list[Finding]:
        view = msg.view
        folded, tokens, digits = view.folded, view.token_set, view.digits
        spans = find_emails(folded, tokens)
        if digits >= 10:
            spans.extend(s for s in find_ibans(folded) if not _overlaps(s, spans))
        spans.extend(
            s for s in self._numbers.find(folded, tokens, digits) if not _overlaps(s, spans)
        )
        return [
            Finding(
                Reason(NAME, f"pii.{kind}", SCORE, f"masked {_LABELS[kind]}"),
                spans=((start, end, f"[{kind}]"),),
            )
            for start, end, kind in sorted(spans)
        ]


def _overlaps(span: tuple[int, int, str], spans: list[tuple[int, int, str]]) -> bool:
    return any(s < span[1] and span[0] < e for s, e, _ in spans)
