"""What of an event may leave for a destination: text rules and property allow-lists.

Free text written by people (message text, poll questions and options, report, mute and ban
reasons, and the ``detail`` of moderation reasons, which may quote the message) is removed
unless a sink sets ``include_text``. Message text in the log is already masked when PII was
found; the unmasked original lives only in ``moderation_records``, which no sink reads.
"""

from __future__ import annotations

from typing import Any

from service.domain.events import Event

FREE_TEXT_FIELDS = frozenset({"text", "question", "options", "reason"})
"""Payload keys holding text written by people."""


def strip_text(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` without free text (moderation reasons keep check, code, score)."""
    out = {k: v for k, v in payload.items() if k not in FREE_TEXT_FIELDS}
    reasons = out.get("reasons")
    if isinstance(reasons, list):
        out["reasons"] = _without_detail(reasons)
    return out


def _without_detail(reasons: list[Any]) -> list[Any]:
    return [
        {k: v for k, v in r.items() if k != "detail"} if isinstance(r, dict) else r
        for r in reasons
    ]


def blank_text(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` with free text replaced by empty strings (used by erasure).

    The keys stay, so readers that expect them still parse; poll options keep their count
    because votes refer to options by index.
    """
    out = dict(payload)
    for key in FREE_TEXT_FIELDS & out.keys():
        value = out[key]
        out[key] = [""] * len(value) if isinstance(value, list) else ""
    reasons = out.get("reasons")
    if isinstance(reasons, list):
        out["reasons"] = [
            {**r, "detail": ""} if isinstance(r, dict) and "detail" in r else r for r in reasons
        ]
    return out


class PropertyPolicy:
    """Builds the properties a sink may send for an event."""

    __slots__ = ("_allow", "_include_text")

    def __init__(self, *, include_text: bool, allow: list[str] | None = None) -> None:
        self._include_text = include_text
        self._allow = frozenset(allow) if allow else None

    def properties(self, event: Event) -> dict[str, Any]:
        """Envelope fields every vendor gets as properties, then the payload, minus text.

        Device, language and app version are not here: each vendor has its own place for
        them (Segment ``context``, Mixpanel and GA4 plain properties added by the mapping).
        """
        props: dict[str, Any] = {
            "room_id": event.room_id,
            "context_id": event.context_id,
            "message_id": event.message_id,
            "actor_id": event.actor_id,
            "message_type": event.metadata.message_type,
            "session_id": event.metadata.session_id,
            "seq": event.seq,
            "node_id": event.node_id,
        }
        return self.combine(props, event.payload)

    def combine(self, envelope: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """``envelope`` (the fields listed in :meth:`properties`), then the payload minus text,
        without nulls, restricted to the allow-list. Envelope fields win over payload keys.

        For sinks that read the log's columns instead of building events.
        """
        merged = payload | envelope
        if self._include_text:
            props = {k: v for k, v in merged.items() if v is not None}
        else:
            props = {
                k: v for k, v in merged.items() if v is not None and k not in FREE_TEXT_FIELDS
            }
            if isinstance(props.get("reasons"), list):
                props["reasons"] = _without_detail(props["reasons"])
        return self.allowed(props)

    def allowed(self, props: dict[str, Any]) -> dict[str, Any]:
        """``props`` restricted to the allow-list (all of them when none is configured)."""
        if self._allow is None:
            return props
        return {k: v for k, v in props.items() if k in self._allow}
