"""Reports and the review queue.

Users report messages with a reason. When a message's distinct reporters reach the room's
threshold it is hidden pending review. Held messages (moderation verdict ``hold``) and reported
messages form the review queue; a moderator approves (show it), rejects (take it down) or the
message is deleted. Every decision is an event naming who decided and when: approve and reject
a ``community_message_approved``, delete a ``community_message_deleted`` marked ``review: true``
(the delete that follows rejecting a reported message is not marked: the reject is the review).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from service.actions.access import Intent, check_access, check_room_id
from service.actions.context import Community
from service.actions.messages import (
    check_message,
    find_sent,
    reader_of,
    shadow_banned,
    visible_text,
)
from service.actions.moderators import delete_message, pin_lock, unpin_if_pinned
from service.domain.events import EventType, new_event, uuid7
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.realtime.report_claims import REPORTED, RedisReports


class QueueItem(msgspec.Struct, kw_only=True):
    message_id: str
    room_id: str
    user_id: str
    name: str | None = None
    """The author's display name when the message was sent (its token's ``name``); None
    where the text is None."""
    text: str | None
    """The message's text as sent (masked where PII was found); None only for a reported
    message older than this node's memory and log hold (another node's)."""
    source: Literal["hold", "report"]
    """``hold`` (held by moderation) or ``report``."""
    reports: int
    since: datetime
    """When it was held (sent), or first reported since its last review."""
    held_for: list[str] = msgspec.field(default_factory=list)
    """The moderation reason codes it was held for (``threat.violence``, ``spam.crypto``; see
    docs/moderation.md); empty for a reported message."""
    shadow_banned: bool = False
    """The author is shadow-banned (in this room or everywhere), or was when it was sent: an
    approval shows it to its author alone, never to the room."""


REPORTS_ACTOR = "system:reports"
"""Who unpins a pinned message that reports hide (the reporters acted, none of them alone)."""


def _under_shadow_ban(c: Community, message_id: str, room_id: str, author: str) -> bool:
    """Was the message sent under a shadow-ban, or is its author shadow-banned now?"""
    ref = c.state.messages.get(message_id)
    return (ref is not None and ref.shadow_ban) or shadow_banned(c, room_id, author)


def report_threshold(c: Community) -> int:
    return c.settings.moderation.report_hide_threshold


async def report(c: Community, who: Identity, room_id: str, message_id: str, reason: str) -> str:
    """File a report; returns its id. A user reports a message once, and never their own.

    Reporting is taking part (it can hide a message), so it needs what reacting needs: not a
    viewer, not in a closed room; a mute does not stop it.
    """
    access = check_access(c, who, room_id, Intent.REPORT)
    reason = visible_text(reason, "report reason", "$.reason")
    ref = await check_message(c, room_id, message_id, reader=reader_of(who, access))
    if ref.user_id == who.user_id:
        # A report is a reader's word against a message: the author's own would count toward
        # hiding it (one author and two reporters hid it), and it asks nothing of a moderator.
        raise SidelineError(
            ErrorCode.CONFLICT, "you cannot report your own message", at="$.message_id"
        )
    # One report of a message at a time: each counts the reporters the previous one left, so
    # the report that reaches the threshold is the one that hides it, however many arrive at once.
    return await c.serially(
        ("reports", message_id), lambda: _file(c, who, room_id, message_id, reason)
    )


async def _file(c: Community, who: Identity, room_id: str, message_id: str, reason: str) -> str:
    reporters = c.state.reporters.get(message_id, set())
    if who.user_id in reporters:
        raise SidelineError(ErrorCode.CONFLICT, "you have already reported this message")
    if c.reports is None:
        return await _write_report(c, who, room_id, message_id, reason, len(reporters) + 1)
    return await _claim_and_file(c, c.reports, who, room_id, message_id, reason)


async def _claim_and_file(
    c: Community, reports: RedisReports, who: Identity, room_id: str, message_id: str, reason: str
) -> str:
    """Many nodes: claim the user's place among the message's reporters across nodes, then
    report as on one node, counting the reporters every node has claimed
    (``service.realtime.report_claims``)."""
    claim = await reports.take(message_id, who.user_id)
    if claim.holder is not None:
        through = f" through node {node[:64]!r}" if (node := claim.pending_on) else ""
        raise SidelineError(ErrorCode.CONFLICT, f"you have already reported this message{through}")
    try:
        if who.user_id in c.state.reporters.get(message_id, ()):  # written unclaimed meanwhile
            raise SidelineError(ErrorCode.CONFLICT, "you have already reported this message")
        claimed = await reports.places(message_id) if claim.taken else None
        reporters = c.state.reporters.get(message_id, set()) | set(claimed or ()) | {who.user_id}
        report_id = await _write_report(c, who, room_id, message_id, reason, len(reporters))
    except Exception:
        await reports.release(message_id, who.user_id, claim)
        raise
    reports.seal(message_id, who.user_id, claim, REPORTED)
    return report_id


async def _write_report(
    c: Community, who: Identity, room_id: str, message_id: str, reason: str, reporters: int
) -> str:
    """Write the report; ``reporters`` counts the message's distinct reporters with this one.

    A report that hides the room's pinned message unpins it in the same commit (after the
    room's pins and deletions, ``pin_lock``), so no client is left pointed at a hidden message.
    """
    report_id = uuid7()
    hide = reporters >= report_threshold(c)

    async def write() -> None:
        reported = new_event(
            EventType.MESSAGE_REPORTED, user_id=who.user_id, room_id=room_id,
            context_id=who.context_id, message_id=message_id,
            payload={"reason": reason, "report_id": report_id, "hide": hide},
        )  # fmt: skip
        unpin = unpin_if_pinned(c, room_id, message_id, REPORTS_ACTOR, "hidden by reports") if hide else []
        await c.commit([reported, *unpin])

    await (pin_lock(c, room_id, write) if hide else write())
    return report_id


async def queue(c: Community, room_id: str | None = None) -> list[QueueItem]:
    """Held and reported messages awaiting a decision, oldest first; one room or all."""
    if room_id is not None:
        check_room_id(c, room_id)
    items: list[QueueItem] = []
    for message_id, event in c.state.held.items():
        if room_id in (None, event.room_id):
            items.append(QueueItem(
                message_id=message_id, room_id=event.room_id, user_id=event.user_id,
                name=event.payload.get("name"), text=event.payload.get("text"), source="hold",
                reports=len(c.state.reporters.get(message_id, ())), since=event.occurred_at,
                held_for=c.state.held_for.get(message_id, []),
                shadow_banned=_under_shadow_ban(c, message_id, event.room_id, event.user_id),
            ))  # fmt: skip
    for message_id, ref, reporters in c.state.reported_awaiting():
        if room_id in (None, ref.room_id):
            sent = await find_sent(c, ref.room_id, message_id)
            items.append(QueueItem(
                message_id=message_id, room_id=ref.room_id, user_id=ref.user_id,
                name=sent.payload.get("name") if sent else None,
                text=sent.payload.get("text") if sent else None, source="report",
                reports=len(reporters), since=c.state.reported_at[message_id],
                shadow_banned=_under_shadow_ban(c, message_id, ref.room_id, ref.user_id),
            ))  # fmt: skip
    items.sort(key=lambda item: item.since)
    return items


async def review(c: Community, actor: str, room_id: str, message_id: str, decision: str) -> None:
    """Decide on a queued message: ``approve``, ``reject`` or ``delete``."""
    if decision not in ("approve", "reject", "delete"):
        raise SidelineError(
            ErrorCode.INVALID_BODY, "decision must be approve, reject or delete", at="$.decision"
        )
    check_room_id(c, room_id)
    await check_message(c, room_id, message_id, reader=None)
    held = message_id in c.state.held
    if not held and not c.state.reporters.get(message_id):
        raise SidelineError(ErrorCode.NOT_FOUND, f"message {message_id} is not awaiting review", at="$.message_id")
    key = ("review", message_id)
    if key in c.reserved:
        raise SidelineError(ErrorCode.CONFLICT, f"message {message_id} is being reviewed already")
    with c.reserving(key):  # before any await: one decision per message, not one per request
        await _decide(c, actor, room_id, message_id, decision, held=held)


async def _decide(
    c: Community, actor: str, room_id: str, message_id: str, decision: str, *, held: bool
) -> None:
    if decision == "delete":
        await delete_message(c, actor, room_id, message_id, reason="review", review=True)
        return
    ref = c.state.messages.get(message_id)
    payload: dict[str, Any] = {"decision": decision, "source": "hold" if held else "report"}
    if decision == "approve" and ref is not None and _under_shadow_ban(c, message_id, room_id, ref.user_id):
        payload["shadow_ban"] = True  # shown to its author alone: an approval lifts no ban
    await c.commit([
        new_event(
            EventType.MESSAGE_APPROVED, user_id=ref.user_id if ref else actor, room_id=room_id,
            actor_id=actor, message_id=message_id, payload=payload,
        )
    ])  # fmt: skip
    if c.reports is not None:  # the decision cleared the reporters: so on every node
        c.reports.drop(message_id)
    if decision == "reject" and not held:
        await delete_message(c, actor, room_id, message_id, reason="review rejected")
