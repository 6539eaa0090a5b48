"""Moderation: ordered, timed checks and a policy per room kind (see docs/moderation.md).

The send path builds one :class:`Pipeline` at start and calls :meth:`Pipeline.check` (or the
synchronous :meth:`Pipeline.check_local`) for every message.
"""

from service.moderation.pipeline import Pipeline
from service.moderation.providers import ModerationProvider, ProviderError, build_provider
from service.moderation.settings import ModerationSettings, Policy
from service.moderation.verdict import Action, MessageContext, Reason, Verdict

__all__ = [
    "Action",
    "MessageContext",
    "ModerationProvider",
    "ModerationSettings",
    "Pipeline",
    "Policy",
    "ProviderError",
    "Reason",
    "Verdict",
    "build_provider",
]
