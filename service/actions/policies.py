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


def get_policy(c: Community, kind: str) -> dict[str, Any]:
    check_kind(c, kind)
    result: dict[str, Any] = msgspec.to_builtins(_pipeline(c).policy_for(kind))
    return result


def parse_policy(raw: dict[str, Any]) -> Any:
    """Validate a policy body; errors name the offending key (``at $.actions.pii``)."""
    from service.moderation import Policy

    try:
        policy = msgspec.convert(raw, Policy)
    except msgspec.ValidationError as exc:
        raise invalid_body(exc, prefix="invalid policy: ") from exc
    try:
        policy.validate("$")
    except ValueError as exc:
        found = _WHERE.search(str(exc))
        at = found.group("at") if found else "$"
        raise SidelineError(ErrorCode.INVALID_BODY, f"invalid policy: {exc}", at=at) from exc
    return policy


async def set_policy(c: Community, kind: str, raw: dict[str, Any], *, actor: str) -> dict[str, Any]:
    pipeline = _pipeline(c)
    check_kind(c, kind)
    policy = parse_policy(raw)
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
