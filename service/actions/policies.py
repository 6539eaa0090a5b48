"""Moderation policies per room kind, changed at run time through the admin API.

A change is a ``moderation_policy_changed`` event (room id ``<kind>:*``), so policies survive a
restart: the app re-applies the logged ones to the pipeline after rebuilding the state.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from service.actions.context import Community
from service.domain.events import EventType, acted_by, new_event
from service.errors import ErrorCode, SidelineError
from service.moderation.settings import Policy
from service.protocol.http import invalid_body

_WHERE = re.compile(r"in `(?P<at>\$[^`]*)`$")  # Policy.validate names the key last


def _pipeline(c: Community) -> Any:
    if c.moderation is None:
        raise SidelineError(ErrorCode.CONFLICT, "moderation is disabled on this node (moderation.enabled)")
    return c.moderation


def policy_name(c: Community, kind: str) -> str:
    """The policy ``kind`` addresses: a room kind's is the policy its rooms are checked by
    (``rooms.<kind>.moderation_policy``, else the kind's own name); a policy is also addressed
    by its name (a key of ``moderation.policies``, ``default``, or one set at run time)."""
    if kind in c.settings.rooms:
        return c.settings.policy_name(kind)
    if kind == "default" or kind in c.settings.moderation.policies or kind in c.state.moderation_policies:
        return kind
    kinds = ", ".join(sorted(c.settings.rooms))
    names = ", ".join(sorted({"default", *c.settings.moderation.policies, *c.state.moderation_policies}))
    raise SidelineError(
        ErrorCode.UNKNOWN_ROOM_KIND,
        f"{kind[:64]!r} is neither a room kind (kinds: {kinds}) nor a moderation policy (policies: {names})",
        at="$.kind",
    )  # fmt: skip


def get_policy(c: Community, kind: str) -> Policy:
    """The policy rooms of ``kind`` are checked by, or the policy of that name."""
    pipeline = _pipeline(c)
    policy: Policy = pipeline.policy_for(policy_name(c, kind))
    return policy


def parse_policy(raw: dict[str, Any]) -> Policy:
    """A logged policy (builtins) as a checked :class:`Policy`; errors name the offending key."""
    try:
        policy = msgspec.convert(raw, Policy)
    except msgspec.ValidationError as exc:
        raise invalid_body(exc, prefix="invalid policy: ", raw=raw, target=Policy) from exc
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
    """Replace the policy ``kind`` addresses (:func:`policy_name`): every room kind checked by
    that policy gets the new one. The event names the policy (``kind``, and ``<name>:*``)."""
    pipeline = _pipeline(c)
    name = policy_name(c, kind)
    check_policy(policy)
    changed = new_event(
        EventType.MODERATION_POLICY_CHANGED, user_id=actor, room_id=f"{name}:*",
        payload={"kind": name, "policy": msgspec.to_builtins(policy)},
    )  # fmt: skip
    await c.commit([acted_by(changed, actor)])
    pipeline.set_policy(name, policy)
    return get_policy(c, name)


def restore_policies(c: Community) -> None:
    """Re-apply logged policy changes to the pipeline (called once at start)."""
    if c.moderation is None:
        return
    for kind, raw in c.state.moderation_policies.items():
        c.moderation.set_policy(kind, parse_policy(raw))
