"""Reading a room's history: pages of messages, newest first from memory, older from the log.

What a reader sees is the same wherever a message is read from: the in-memory index's
message (with every node's later events), or the log's folded with its later deletes,
reports and review decisions (:class:`service.domain.state.MessageRef`). Pages follow
:func:`service.domain.state.history_key`, which every node agrees on.
"""

from __future__ import annotations

from collections.abc import Iterable

from service.actions.access import Intent, check_access
from service.actions.context import Community
from service.actions.messages import find_sent, message_out
from service.domain.events import Event, uuid7_time
from service.domain.records import HistoryKey, MessageRef, history_key
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import HistoryOut


def _visible_to(e: Event, reader: str | None, c: Community) -> bool:
    ref = c.state.messages.get(e.message_id or "") or MessageRef.of(e)
    return ref.visible_to(reader)


def shown_recent(c: Community, room_id: str, reader: str) -> list[Event]:
    """The room's messages in memory that ``reader``'s history shows, oldest first."""
    return [e for e in c.state.recent(room_id) if _visible_to(e, reader, c)]


def own_reactions(c: Community, user_id: str, shown: Iterable[Event]) -> dict[str, list[str]]:
    """``user_id``'s own reactions on ``shown``, by message id; messages without any are left out.

    ``shown`` must be messages the user's history shows them: a reaction stays on a message
    that is hidden later (held, hidden by reports, a shadow-banned author's), and telling it
    would tell that the message exists.
    """
    mine: dict[str, list[str]] = {}
    for e in shown:
        assert e.message_id is not None
        if emojis := c.state.reactions_by(e.message_id, user_id):
            mine[e.message_id] = emojis
    return mine


def own_reports(c: Community, user_id: str, shown: Iterable[Event]) -> list[str]:
    """The ids of the messages of ``shown`` that ``user_id`` has reported and may not report
    again (a review decision clears a message's reporters), in the order of ``shown``.

    ``shown`` must be messages the user's history shows them, as for :func:`own_reactions`.
    """
    reporters = c.state.reporters
    return [
        e.message_id for e in shown
        if e.message_id is not None and user_id in reporters.get(e.message_id, ())
    ]  # fmt: skip


async def _older_from_log(
    c: Community, room_id: str, reader: str, before_seq: int, want: int,
    until: HistoryKey | None, refs: dict[str, MessageRef], *, newest: bool = False,
) -> list[Event]:  # fmt: skip
    """Up to ``want`` messages older than ``before_seq`` (and ``until``, when given) that
    ``reader`` may see, oldest first; ``refs`` is given each as its later events left it.
    ``newest``: ``before_seq`` is past the room's every message in the log (the reads are
    shared with every reader of the room's newest page, :class:`LogPages`).

    Each message is as the in-memory index has it (with every node's later events), or, older
    than the index, folded with its later deletes, reports and review decisions in this node's
    log by the same rule; reading goes on past hidden ones, so a page comes back empty only
    when the room has nothing older to show.
    """
    found: list[Event] = []
    while len(found) < want:
        batch, changes = await c.pages.read(c.log, room_id, before_seq, want, until, newest=newest)
        newest = False
        if not batch:
            break
        pairs, read = [], {}
        for e in batch:  # as folded() does: the index's when it has it (with other nodes' changes)
            ref = c.state.messages.get(e.message_id or "")
            if ref is None:
                ref = read[e.message_id or ""] = MessageRef.of(e)
            pairs.append((e, ref))
        for change in changes:
            if (from_log := read.get(change.message_id or "")) is not None:
                from_log.fold(change)
        shown = [(e, ref) for e, ref in pairs if ref.visible_to(reader)]
        refs.update((ref.message_id, ref) for _, ref in shown)
        found = [e for e, _ in shown][-(want - len(found)) :] + found
        if len(batch) < want:  # the log has nothing older
            break
        before_seq = batch[0].seq
    return found


async def _cursor(c: Community, room_id: str, message_id: str) -> tuple[HistoryKey, int | None]:
    """Where the message ``before`` names stands in the room's history (:func:`history_key`),
    and its seq when it is in this node's log: from memory, the log, or (a message of another
    node this node does not hold) the time in its UUIDv7, which is taken just before the
    message's own time."""
    found = await find_sent(c, room_id, message_id)
    if found is not None and found.room_id == room_id:
        return history_key(found), found.seq if found.epoch == c.log.epoch else None
    if found is None and (at := uuid7_time(message_id)) is not None:
        return (at, ""), None
    raise SidelineError(
        ErrorCode.NOT_FOUND, f"message {message_id[:64]!r} is not in room {room_id}", at="$.before"
    )


async def page(
    c: Community, who: Identity, room_id: str, *, before_seq: int | None = None,
    before: str | None = None, limit: int,
) -> HistoryOut:  # fmt: skip
    """A page of messages older than ``before`` (a message id) or ``before_seq`` (newest page
    when neither), oldest first.

    Pages follow :func:`history_key`, which every node agrees on, so ``next_before`` pages
    back through any node. ``before_seq`` is a seq of this node's log: on one node the same
    order; with many nodes a page also holds other nodes' messages, whose seqs are theirs.
    Older messages than memory holds come from this node's log (its own messages).

    One message more than the page is looked for, so ``next_before`` is None exactly when
    nothing visible is older than the page (not one page later, empty).
    """
    check_access(c, who, room_id, Intent.READ)
    want = limit + 1
    memory = c.state.recent(room_id)
    recent = sorted(
        (e for e in memory if _visible_to(e, who.user_id, c)), key=history_key
    )  # fmt: skip
    until: HistoryKey | None = None
    bound: int | None = None  # the log's seqs below which older messages are read
    refs: dict[str, MessageRef] = {}  # those read from the log, as their later events left them
    if before is not None:
        until, bound = await _cursor(c, room_id, before)
        recent = [e for e in recent if history_key(e) < until]
    elif before_seq is not None:
        recent = [e for e in recent if e.seq < before_seq]
        bound = before_seq
    page = recent[-want:]
    if len(page) < want and not c.state.history_complete(room_id):
        # Memory holds the room's newest events: the log is read below the oldest of this
        # node's own there (looked for only on a page that reaches past memory).
        own = min((e.seq for e in memory if e.epoch == c.log.epoch), default=None)
        newest = own is None and bound is None  # the room's newest messages in the log
        start = c.log.last_seq + 1 if own is None else own
        start = start if bound is None else min(start, bound)
        older = await _older_from_log(
            c, room_id, who.user_id, start, want - len(page), until, refs, newest=newest
        )  # fmt: skip
        page = older + page
    more = len(page) > limit
    page = page[-limit:]
    next_before = page[0] if more else None
    return HistoryOut(
        room_id=room_id, epoch=c.log.epoch,
        messages=[message_out(c, e, refs.get(e.message_id or "")) for e in page],
        next_before_seq=next_before.seq if next_before else None,
        next_before=next_before.message_id if next_before else None,
        mine=own_reactions(c, who.user_id, page), reported=own_reports(c, who.user_id, page),
    )  # fmt: skip
