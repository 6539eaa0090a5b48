"""Moderation policies per room kind, changed at run time through the admin API.

A change is a ``moderation_policy_changed`` event (room id ``<kind>:*``), so policies survive a
restart: the app re-applies the logged ones to the pipeline after rebuilding the state.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from service.actions.context import Community
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.moderation.settings import Policy
from service.protocol.http import invalid_body

_WHERE = re.compile(r"in `(?P<at>\$[^`]*)`$")  # Policy.validate names the key last


def _pipeline(c: Community) -> Any:
    if c.moderation is None:
        raise SidelineError(ErrorCode.CONFLICT, "moderation is disabled on this node (moderation.enabled)")
    return c.moderation


def check_kind(c: Community, kind: str) -> None:
    if kind not in c.settings.rooms and kind != "default":
        known = ", ".join(sorted(c.settings.rooms))
        raise SidelineError(ErrorCode.UNKNOWN_ROOM_KIND, f"room kind {kind!r} is not configured (known: {known})", at="$.kind")


def get_policy(c: Community, kind: str) -> Policy:
    check_kind(c, kind)
    policy: Policy = _pipeline(c).policy_for(kind)
    return policy


def parse_policy(raw: dict[str, Any]) -> Policy:
    """A logged policy (builtins) as a checked :class:`Policy`; errors name the offending key."""
    try:
        policy = msgspec.convert(raw, Policy)
    except msgspec.ValidationError as exc:
        raise invalid_body(exc, prefix="invalid policy: ") from exc
    return check_policy(policy)


def check_policy(policy: Policy) -> Policy:
    """``policy`` if its keys agree with each other, else the refusal naming the key
    (``at $.hold_at``); each key's own type was checked while decoding it."""
    try:
        policy.validate("$")
    except ValueError as exc:
        found = _WHERE.search(str(exc))
        at = found.group("at") if found else "$"
        raise SidelineError(ErrorCode.INVALID_BODY, f"invalid policy: {exc}", at=at) from exc
    return policy


async def set_policy(c: Community, kind: str, policy: Policy, *, actor: str) -> Policy:
    pipeline = _pipeline(c)
    check_kind(c, kind)
    check_policy(policy)
    await c.commit([
        new_event(
            EventType.MODERATION_POLICY_CHANGED, user_id=actor, room_id=f"{kind}:*",
            payload={"kind": kind, "policy": msgspec.to_builtins(policy)},
        )
    ])  # fmt: skip
    pipeline.set_policy(kind, policy)
    return get_policy(c, kind)


def restore_policies(c: Community) -> None:
    """Re-apply logged policy changes to the pipeline (called once at start)."""
    if c.moderation is None:
        return
    for kind, raw in c.state.moderation_policies.items():
        c.moderation.set_policy(kind, parse_policy(raw))
