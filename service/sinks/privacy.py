"""What of an event may leave for a destination: personal fields and property allow-lists.

Two kinds of payload field are personal data that people chose, and every sink treats them
by rule rather than by event type:

- free text written by people (message text, poll questions and options, the reasons of
  reports, deletes, mutes and bans, and the ``detail`` of moderation reasons, which may quote
  the message), removed unless a sink sets ``include_text``;
- display names (a message's ``name``: the token's ``name`` claim, or the user id when the
  token has none), removed unless a sink sets ``include_names``.

Erasure blanks both (:func:`blank_personal`). User ids live only in the envelope
(``user_id``, ``actor_id``), never in a payload, so erasure replaces them there. Message text
in the log is already masked when PII was found; the unmasked original lives only in
``moderation_records``, which no sink reads.
"""

from __future__ import annotations

from typing import Any

from service.domain.events import Event
from service.sinks.settings import SinkCommon

FREE_TEXT_FIELDS = frozenset({"text", "question", "options", "reason"})
"""Payload keys holding text written by people."""
NAME_FIELDS = frozenset({"name"})
"""Payload keys holding a person's display name."""
PERSONAL_FIELDS = FREE_TEXT_FIELDS | NAME_FIELDS
"""Every payload key erasure blanks."""


def strip_personal(
    payload: dict[str, Any], *, keep_text: bool = False, keep_names: bool = False
) -> dict[str, Any]:
    """A copy of ``payload`` without free text (unless ``keep_text``; moderation reasons keep
    check, code and score) and without display names (unless ``keep_names``)."""
    dropped = _dropped(keep_text, keep_names)
    out = {k: v for k, v in payload.items() if k not in dropped}
    if not keep_text and isinstance(out.get("reasons"), list):
        out["reasons"] = _without_detail(out["reasons"])
    return out


def _dropped(keep_text: bool, keep_names: bool) -> frozenset[str]:
    return (frozenset() if keep_text else FREE_TEXT_FIELDS) | (
        frozenset() if keep_names else NAME_FIELDS
    )


def _without_detail(reasons: list[Any]) -> list[Any]:
    return [
        {k: v for k, v in r.items() if k != "detail"} if isinstance(r, dict) else r
        for r in reasons
    ]


def blank_personal(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``payload`` with free text and display names replaced by empty strings (used
    by erasure).

    The keys stay, so readers that expect them still parse; poll options keep their count
    because votes refer to options by index.
    """
    out = dict(payload)
    for key in PERSONAL_FIELDS & out.keys():
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

    __slots__ = ("_allow", "_dropped", "_dropped_order", "_keep_text")

    def __init__(
        self, *, include_text: bool, include_names: bool = False, allow: list[str] | None = None
    ) -> None:
        self._keep_text = include_text
        self._dropped = _dropped(include_text, include_names)
        self._dropped_order = tuple(sorted(self._dropped))
        self._allow = frozenset(allow) if allow else None

    @classmethod
    def of(cls, settings: SinkCommon) -> PropertyPolicy:
        """The policy of a configured sink (``include_text``, ``include_names``, ``properties``)."""
        return cls(
            include_text=settings.include_text, include_names=settings.include_names,
            allow=settings.properties or None,
        )  # fmt: skip

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
        """``envelope`` (the fields listed in :meth:`properties`), then the payload minus the
        personal fields the sink does not send, without nulls, restricted to the allow-list.
        Envelope fields win over payload keys.

        For sinks that read the log's columns instead of building events.
        """
        merged = payload | envelope
        dropped = self._dropped
        props = {k: v for k, v in merged.items() if v is not None and k not in dropped}
        if not self._keep_text and isinstance(props.get("reasons"), list):
            props["reasons"] = _without_detail(props["reasons"])
        return self.allowed(props)

    def combine_owned(self, envelope: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        """:meth:`combine` for a ``payload`` the caller owns (just decoded), which it changes
        and returns: the same keys in the same order, with fewer dicts made on the way."""
        props = payload
        props.update(envelope)  # envelope fields win, new ones after the payload's: as `|`
        for key in self._dropped & props.keys():
            del props[key]
        if None in props.values():
            for key in [k for k, v in props.items() if v is None]:
                del props[key]
        if not self._keep_text and isinstance(props.get("reasons"), list):
            props["reasons"] = _without_detail(props["reasons"])
        return self.allowed(props)

    def payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` minus the personal fields the sink does not send, restricted to the
        allow-list; nulls stay (the warehouse keeps a payload as written)."""
        out = dict(payload)
        for key in self._dropped_order:  # a few pops: cheaper than rebuilding the dict
            out.pop(key, None)
        if not self._keep_text and isinstance(out.get("reasons"), list):
            out["reasons"] = _without_detail(out["reasons"])
        return self.allowed(out)

    @property
    def personal_keys(self) -> frozenset[str]:
        """The payload keys :meth:`payload` removes or changes whatever the allow-list: text
        and names the sink does not send, and ``reasons`` (their ``detail``) without text."""
        return self._dropped | (frozenset() if self._keep_text else frozenset({"reasons"}))

    @property
    def restricted(self) -> bool:
        """Whether an allow-list is configured."""
        return self._allow is not None

    def allowed(self, props: dict[str, Any]) -> dict[str, Any]:
        """``props`` restricted to the allow-list (all of them when none is configured)."""
        if self._allow is None:
            return props
        return {k: v for k, v in props.items() if k in self._allow}

    def allows(self, name: str) -> bool:
        """Whether the allow-list lets property ``name`` out (any name when none is set)."""
        return self._allow is None or name in self._allow
