"""Moderation settings (expanded by the moderation pipeline)."""

from __future__ import annotations

import msgspec


class ModerationSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How messages are checked before anyone else sees them."""

    enabled: bool = True
    """Run the moderation pipeline on every message."""
