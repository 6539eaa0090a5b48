"""Forwarding settings (expanded by the forwarder)."""

from __future__ import annotations

import msgspec


class SinksSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where committed events are forwarded."""

    enabled: bool = True
    """Run the forwarder inside the service."""
