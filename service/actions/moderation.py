"""The send path's view of the moderation pipeline: one verdict per message, as event payload."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from service.actions.context import Community
from service.domain.events import Event, EventType
from service.domain.rooms import RoomState
from service.identity import Identity

_VISIBILITY = {"allow": "public", "mask": "public", "shadow": "shadow", "hold": "held"}


class SendVerdict(msgspec.Struct, kw_only=True):
    """What the send path needs from a moderation verdict."""

    action: str
    text: str
    altered: bool
    payload: dict[str, Any]
    retry_after: float | None = None
    """Set when a rate limit refused the message: the sender may retry after this many seconds."""
    rate_sample: tuple[str, float, str] | None = None
    """What the rate limits counted for this message; :func:`retract` uncounts it."""

    @property
    def visibility(self) -> str:
        return _VISIBILITY.get(self.action, "public")

    def explain(self) -> str:
        reasons = ", ".join(r["code"] for r in self.payload.get("reasons", [])) or "policy"
        return f"message blocked by moderation ({reasons})"


async def moderate(c: Community, who: Identity, room: RoomState, text: str) -> SendVerdict:
    """Run the pipeline (when enabled) and turn its verdict into what gets logged."""
    pipeline = c.moderation
    if pipeline is None:
        return SendVerdict(action="allow", text=text, altered=False, payload={})
    from service.moderation import MessageContext

    ctx = MessageContext(
        user_id=who.user_id,
        room_id=room.room_id,
        room_kind=c.settings.policy_name(room.kind),
        now=c.now().timestamp(),
    )
    verdict = await pipeline.check(text, ctx)
    payload = verdict.payload()
    if c.verdicts is not None:
        c.verdicts(verdict.action.value, payload)
    return SendVerdict(
        action=verdict.action.value,
        text=verdict.text,
        altered=verdict.altered,
        payload=payload,
        retry_after=verdict.retry_after,
        rate_sample=verdict.rate_sample,
    )


def retract(c: Community, verdict: SendVerdict) -> None:
    """The message of ``verdict`` was not stored (its commit failed): uncount it from the rate
    limits, so the sender's retry is not judged a burst or a duplicate of its own failures."""
    if c.moderation is not None:
        c.moderation.retract(verdict.rate_sample)


def note_posts_elsewhere(c: Community, events: Iterable[Event]) -> None:
    """Feed posts committed by other nodes to this node's rate limits (sent messages with
    their text, refused attempts without), timed on arrival like local posts."""
    pipeline = c.moderation
    if pipeline is None:
        return
    now = c.now().timestamp()
    for e in events:
        if e.event_type is EventType.MESSAGE_SENT:
            pipeline.observe_elsewhere(e.user_id, e.payload.get("text", ""), now)
        elif e.event_type is EventType.MESSAGE_MODERATED and e.payload.get("action") == "block":
            pipeline.observe_elsewhere(e.user_id, None, now)
