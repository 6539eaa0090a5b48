"""Optional external moderation providers behind one small port."""

from service.moderation.providers.base import ModerationProvider, ProviderError, ProviderResult
from service.moderation.providers.openai_http import OpenAIModerationProvider, build_provider

__all__ = [
    "ModerationProvider",
    "OpenAIModerationProvider",
    "ProviderError",
    "ProviderResult",
    "build_provider",
]
