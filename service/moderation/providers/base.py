"""The provider port: ask an external classifier about one text."""

from __future__ import annotations

from typing import Protocol

import msgspec


class ProviderResult(msgspec.Struct, frozen=True):
    """A provider's answer: flagged or not, and a score (0..1) per category."""

    flagged: bool
    category_scores: dict[str, float]


class ProviderError(Exception):
    """The provider could not answer (network, status, malformed body); the message says why."""


class ModerationProvider(Protocol):
    """An external classifier. Calls may be slow or fail; the pipeline bounds and handles both.

    ``name`` appears in reasons' details and logs.
    """

    name: str

    async def classify(self, text: str) -> ProviderResult:
        """Classify ``text`` (already PII-masked).

        Raises:
            ProviderError: the provider did not give a usable answer.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
