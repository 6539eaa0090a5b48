"""Sending messages, and reading one message (pages of history: history.py).

Send path: check (access, text, slow mode; no I/O) -> moderate (in-process checks, an external
provider only with a short timeout) -> do (append the message event, and its moderation
verdict, in one group-committed transaction) -> notify (publish after the commit). A retry with
the same client message id in the same room returns the first message and writes nothing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any

import duckdb
import msgspec

from service.actions.access import Access, Intent, check_access
from service.actions.context import Community
from service.actions.moderation import SendVerdict, moderate, retract
from service.domain.events import Event, EventType, Metadata, new_event, uuid7
from service.domain.records import MessageRef
from service.domain.rooms import Role, RoomState
from service.errors import ErrorCode, SidelineError
from service.eventlog.duckdb_log import Extra
from service.identity import Identity
from service.moderation.checks.hygiene import NEVER_SHOWN
from service.moderation.normalize import fold
from service.protocol.http import ClientMetadata, MessageOut, SendMessage
from service.realtime.send_claims import Claim, RedisClaims
from service.realtime.slow_claims import RedisSlowMode


def metadata_of(m: ClientMetadata | None, default_type: str) -> Metadata:
    if m is None:
        return Metadata(message_type=default_type)
    return Metadata(
        device=m.device, language=m.language, app_version=m.app_version,
        session_id=m.session_id, message_type=m.message_type or default_type,
    )  # fmt: skip


def visible_text(text: str, what: str, at: str) -> str:
    """``text`` as it is shown (a message's, a poll's question or option): control characters
    (but newline and tab) and bidi embeddings and overrides (U+202A-U+202E: one reverses the
    text shown after it) dropped, as moderation's hygiene does, also when moderation is off;
    the ends stripped. Bidi marks and isolates stay.

    Refused as empty (``text_empty``, naming ``what`` at ``at``) when nothing is left, or
    nothing visible (zero-width and other format characters, lone combining marks: what
    moderation's folded view drops), before anything is written rather than logged as blocked
    content.
    """
    if not text.isprintable():
        text = NEVER_SHOWN.sub("", text)
    text = text.strip()
    if not text:
        raise SidelineError(ErrorCode.TEXT_EMPTY, f"{what} is empty", at=at)
    if not text.isascii() and not fold(text).strip():
        shown = " ".join(f"U+{ord(ch):04X}" for ch in sorted(set(text))[:6])
        raise SidelineError(ErrorCode.TEXT_EMPTY, f"{what} has no visible characters ({shown})", at=at)
    return text


def check_text(text: str, room: RoomState) -> str:
    """A message's :func:`visible_text`, refused when longer than the room allows."""
    text = visible_text(text, "message text", "$.text")
    limit = room.settings.max_message_length
    if len(text) > limit:
        raise SidelineError(
            ErrorCode.TEXT_TOO_LONG,
            f"message text has {len(text)} characters; this room allows {limit}",
            at="$.text",
        )
    return text


def check_slow_mode(c: Community, who: Identity, room: RoomState, role: Role) -> tuple[Any, ...]:
    """Refuse a post inside the room's slow-mode interval; reserve the slot until commit."""
    key = ("post", room.room_id, who.user_id)
    seconds = room.settings.slow_mode_seconds
    if seconds <= 0 or role is Role.MODERATOR:
        return ()
    last = c.state.last_post.get((room.room_id, who.user_id))
    wait = seconds - (c.now() - last).total_seconds() if last else 0.0
    if wait > 0 or key in c.reserved:
        raise SidelineError(
            ErrorCode.SLOW_MODE,
            f"slow mode: one message every {seconds} s in this room",
            retry_after=max(wait, 0.0) or float(seconds),
        )
    c.reserved.add(key)
    return key


def message_out(c: Community, e: Event, ref: MessageRef | None = None) -> MessageOut:
    """The message of the sent event ``e`` as its reader sees it now: ``ref`` is the message
    folded with its later events (by default the in-memory index's, else the sent event's).

    An approved message reads as ``public``; one hidden by reports as ``held``; a deleted one
    (answered to a retry of its send) as ``deleted``, with no text. Only its author ever reads a
    shadowed message; one shadowed by a shadow-ban (also a held one approved under it) reads as
    ``public`` to them, since the ban is silent by design.
    """
    p = e.payload
    assert e.message_id is not None
    ref = ref or c.state.messages.get(e.message_id) or MessageRef.of(e)
    visibility = ref.visibility_now()
    if visibility == "shadow" and ref.shadow_ban:
        visibility = "public"
    counts = {emoji: len(users) for emoji, users in c.state.reactions.get(e.message_id, {}).items() if users}
    return MessageOut(
        message_id=e.message_id, room_id=e.room_id, seq=e.seq, epoch=e.epoch, user_id=e.user_id,
        name=p.get("name", e.user_id), role=p.get("role", "user"),
        text="" if visibility == "deleted" else p["text"], visibility=visibility,  # type: ignore[arg-type]
        masked=bool(p.get("masked")),
        reply_to=p.get("reply_to"), client_msg_id=p.get("client_msg_id", ""),
        occurred_at=e.occurred_at, reactions=counts,
    )  # fmt: skip


async def check_message(
    c: Community, room_id: str, message_id: str, *, reader: str | None, at: str = "$.message_id"
) -> MessageRef:
    """The message exists in this room, is not deleted, and ``reader`` may see it.

    ``reader`` is the user acting on it, seeing what their history shows them (the one rule of
    ``MessageRef.visible_to``: not held, not hidden by reports, a shadowed message only by its
    author); None for a moderator, who may act on every message that is not deleted. A message
    the reader may not see is refused exactly like one that does not exist, so the refusal
    tells nothing about it. ``at`` is where the request named the message. Answers the
    message as its later events left it.
    """
    ref = c.state.messages.get(message_id)
    if ref is None:  # older than the in-memory index: the log, folded by the same rule
        event = await c.log.find_message(message_id)
        if event is not None and event.room_id == room_id:
            ref = await folded(c, event)
    return _visible(ref, room_id, message_id, reader, at)


def _visible(
    ref: MessageRef | None, room_id: str, message_id: str, reader: str | None, at: str
) -> MessageRef:
    """``ref`` when it is a message of ``room_id``, not deleted, that ``reader`` may see;
    otherwise the one refusal :func:`check_message` gives."""
    if (
        ref is None or ref.room_id != room_id or ref.deleted
        or (reader is not None and not ref.visible_to(reader))
    ):  # fmt: skip
        raise SidelineError(
            ErrorCode.NOT_FOUND, f"message {message_id[:64]!r} is not in room {room_id}", at=at
        )
    return ref


async def folded(c: Community, e: Event) -> MessageRef:
    """The message of the sent event ``e`` as its later events left it: the in-memory index's,
    or (older than the index) the sent event folded with its deletes, reports and decisions
    read from the log."""
    assert e.message_id is not None
    if (ref := c.state.messages.get(e.message_id)) is not None:
        return ref
    ref = MessageRef.of(e)
    for change in await c.log.read_message_changes(e.room_id, [e.message_id]):
        ref.fold(change)
    return ref


async def message(c: Community, who: Identity, room_id: str, message_id: str) -> MessageOut:
    """One message as ``who``'s history shows it (a pinned one, say): 404 for a message they
    may not see there, exactly as for one that does not exist, and for another node's message
    older than this node's memory."""
    check_access(c, who, room_id, Intent.READ)
    # check_message's rule, with the sent event read once: a message older than memory is in
    # the log, and find_sent reads it from there.
    event = await find_sent(c, room_id, message_id)
    ref = c.state.messages.get(message_id)
    if ref is None and event is not None and event.room_id == room_id:
        ref = await folded(c, event)
    ref = _visible(ref, room_id, message_id, who.user_id, "$.message_id")
    if event is None:
        raise SidelineError(
            ErrorCode.NOT_FOUND, f"message {message_id[:64]!r} is not held by this node",
            at="$.message_id",
        )  # fmt: skip
    return message_out(c, event, ref)


def reader_of(who: Identity, access: Access) -> str | None:
    """Whose view of the room a message must be visible in: none for a moderator, who sees all."""
    return None if access.role is Role.MODERATOR else who.user_id


async def send_message(c: Community, who: Identity, room_id: str, body: SendMessage) -> MessageOut:
    """Post a message; idempotent by ``body.client_msg_id`` in this room.

    The send is registered in flight before anything is awaited and runs as a task of its
    own: a concurrent send with the same id awaits it and gets the same answer (message or
    refusal), and a sender cancelled half-way (a dropped request) neither stops it nor lets
    its retry write a second copy. With many nodes the key is also claimed across nodes
    first (:func:`_claim_and_send`); one node does not await that.

    A retry of a stored or in-flight send needs only read access: the message was accepted
    when first sent, and a room that has since stopped taking posts (reactions-only, closed,
    the sender muted) still answers the retry with it rather than a refusal that would tell
    the client its message was lost. A retry must be the same send (:func:`_same_send`).
    """
    check_access(c, who, room_id, Intent.READ)
    key = (who.user_id, room_id, body.client_msg_id)
    if (existing := c.state.client_ids.get(key)) is not None:
        return await _existing(c, room_id, existing, body)
    pending = c.inflight.get(key)
    if pending is not None:  # a concurrent request with the same id: it must be the same send
        out: MessageOut = await asyncio.shield(pending)
        if (sent := await find_sent(c, room_id, out.message_id)) is not None:
            await _same_send(c, sent, body)
        return out
    send: Coroutine[Any, Any, MessageOut]
    if c.claims is not None:
        send = _claim_and_send(c, c.claims, who, room_id, body, key)
    else:
        access = check_access(c, who, room_id, Intent.POST)
        send = _send(c, who, access, check_text(body.text, access.room), body)
    pending = c.inflight[key] = asyncio.create_task(send)
    pending.add_done_callback(functools.partial(_settled, c, key))
    result: MessageOut = await asyncio.shield(pending)
    return result


def _settled(c: Community, key: tuple[str, str, str], done: asyncio.Future[Any]) -> None:
    if c.inflight.get(key) is done:
        del c.inflight[key]


async def _send(
    c: Community, who: Identity, access: Access, text: str, body: SendMessage
) -> MessageOut:
    """One send of a (user, room, client message id): the message replied to, exposure, slow
    mode, then :func:`do_send`."""
    if body.reply_to is not None:
        await check_message(
            c, access.room.room_id, body.reply_to, reader=reader_of(who, access), at="$.reply_to"
        )
    await c.ensure_exposure(who.user_id, access.room.room_id, who.context_id)
    slot = check_slow_mode(c, who, access.room, access.role)
    try:
        if not slot or c.slow is None:
            return await do_send(c, who, access.room, access.role, text, body)
        return await _in_slow_slot(c, c.slow, who, access, text, body)
    finally:
        c.reserved.discard(slot)


async def _in_slow_slot(
    c: Community, slow: RedisSlowMode, who: Identity, access: Access, text: str, body: SendMessage
) -> MessageOut:
    """Many nodes: a post in slow mode also takes the user's slot in the room across nodes, so
    posts through two nodes at once do not both pass; a post not written frees it."""
    room = access.room
    seconds = room.settings.slow_mode_seconds
    taken = await slow.take(room.room_id, who.user_id, seconds)
    if taken.wait is not None:
        raise SidelineError(
            ErrorCode.SLOW_MODE, f"slow mode: one message every {seconds} s in this room",
            retry_after=taken.wait or float(seconds),
        )  # fmt: skip
    try:
        return await do_send(c, who, room, access.role, text, body)
    except BaseException:
        await slow.release(room.room_id, who.user_id, taken)
        raise


_RECLAIM_SECONDS = 0.2
"""How often a retry waiting for a send another node holds checks that the claim still stands
(it goes away when that send is refused)."""


async def _claim_and_send(
    c: Community, claims: RedisClaims, who: Identity, room_id: str, body: SendMessage,
    key: tuple[str, str, str],
) -> MessageOut:  # fmt: skip
    """Many nodes: claim ``key`` across nodes, then send as on one node.

    A key another node holds is that node's send, in flight or committed, of which this
    node's state has not heard yet: nothing is written here, the retry is answered with that
    message once this node has it (see :func:`_await_holder`). A refused send releases its
    claim, so a retry (through any node) is judged afresh.
    """
    claim = await claims.take(key)
    if claim.holder is not None:
        claim = await _await_holder(c, claims, key, claim)
    if (existing := c.state.client_ids.get(key)) is not None:  # arrived meanwhile
        out = await _existing(c, room_id, existing, body)
    elif claim.sent is not None:  # sent elsewhere, and its envelope will never come here
        return _decode_sent(claim.sent)
    else:
        try:
            access = check_access(c, who, room_id, Intent.POST)
            out = await _send(c, who, access, check_text(body.text, access.room), body)
        except Exception:
            await claims.release(key, claim)
            raise
    claims.seal(key, claim, out.message_id, _encode_sent(out))
    return out


async def _await_holder(
    c: Community, claims: RedisClaims, key: tuple[str, str, str], claim: Claim
) -> Claim:
    """Wait until this node's state has the message of ``key`` another node holds (its
    envelope arrives, or is read back after a loss), or until that node's claim goes away
    and this node takes it: returns the last claim (``holder`` still set in the first case).
    Both are looked at every ``_RECLAIM_SECONDS``.

    When neither happens within ``claims.wait_seconds``: a claim recording the sent message
    is returned (its envelope is lost for good, the caller answers from the claim); one still
    in flight raises ``send_in_flight`` (nothing written; retry).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + claims.wait_seconds
    while claim.holder is not None and key not in c.state.client_ids:
        left = deadline - loop.time()
        if left <= 0:
            if claim.sent is not None:
                return claim
            raise _in_flight(key, claim)
        await asyncio.sleep(min(_RECLAIM_SECONDS, left))
        if key not in c.state.client_ids:
            claim = await claims.take(key)
    return claim


_encode_sent = msgspec.json.Encoder().encode
_decode_sent = msgspec.json.Decoder(MessageOut).decode
"""A send's answer as its claim records it, for a retry through a node that never gets it."""


def _in_flight(key: tuple[str, str, str], claim: Claim) -> SidelineError:
    cid = key[2][:64]
    node = claim.pending_on
    where = (
        f"is being sent through node {node[:64]!r}" if node is not None
        else f"was sent through another node as message {claim.holder}"
    )  # fmt: skip
    return SidelineError(
        ErrorCode.SEND_IN_FLIGHT,
        f"message {cid!r} {where} and has not reached this node yet; nothing was written "
        "here: retry with the same client_msg_id",
        retry_after=1.0,
    )


async def find_sent(c: Community, room_id: str, message_id: str) -> Event | None:
    """A message's sent event: in the room's recent history, held for review or hidden by
    reports (out of the history, still known), or read from this node's log; None when this
    node has none (another node's message older than memory)."""
    event = next((e for e in c.state.recent(room_id) if e.message_id == message_id), None)
    if event is None:
        event = c.state.held.get(message_id) or c.state.hidden.get(message_id)
    return event or await c.log.find_message(message_id)


async def _existing(
    c: Community, room_id: str, message_id: str, body: SendMessage | None = None
) -> MessageOut:
    """The stored message a retry is answered with; with ``body``, the retry must be the same
    send (:func:`_same_send`)."""
    event = await find_sent(c, room_id, message_id)
    if event is None:
        raise SidelineError(ErrorCode.NOT_FOUND, f"message {message_id} is not in the log")
    if body is not None:
        await _same_send(c, event, body)
    return message_out(c, event, await folded(c, event))


async def _same_send(c: Community, sent: Event, body: SendMessage) -> None:
    """Refuse a ``client_msg_id`` reused for another text or reply (409 ``conflict`` at
    ``$.client_msg_id``): answering it with the first message would drop the second without a
    word. Texts are compared as stored (ends stripped, invisible characters dropped); for a
    masked or held message with its original in the moderation record."""
    p = sent.payload
    try:
        text: str | None = visible_text(body.text, "message text", "$.text")
    except SidelineError:
        text = None
    stored = p["text"]
    if p.get("masked") or p.get("visibility") == "held":  # (a retry is rare: one read is fine)
        assert sent.message_id is not None
        if (record := await moderation_record(c, sent.room_id, sent.message_id)) is not None:
            stored = record[2]
    if text != stored or body.reply_to != p.get("reply_to"):
        what = "text" if text != stored else "reply_to"
        raise SidelineError(
            ErrorCode.CONFLICT,
            f"client_msg_id {body.client_msg_id!r} was used for another message (its {what} "
            f"differs): a retry must resend the same message, a new message needs a new id",
            at="$.client_msg_id",
        )  # fmt: skip


async def moderation_record(c: Community, room_id: str, message_id: str) -> tuple[Any, ...] | None:
    """``(message_id, user_id, original, recorded_at)`` of a masked or held message's record
    (the unmasked text sent, kept only there), or None when it has none."""

    def query(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = con.execute(
            "SELECT message_id, user_id, original, recorded_at FROM moderation_records "
            "WHERE message_id = ? AND room_id = ?",
            [message_id, room_id],
        ).fetchone()
        return row

    found: tuple[Any, ...] | None = await c.log.run_read(query)
    return found


async def do_send(
    c: Community, who: Identity, room: RoomState, role: Role, text: str, body: SendMessage
) -> MessageOut:
    verdict = await moderate(c, who, room, text)
    message_id = uuid7()
    meta = metadata_of(body.metadata, "text")
    common: dict[str, Any] = dict(
        user_id=who.user_id, room_id=room.room_id, context_id=who.context_id,
        message_id=message_id, metadata=meta,
    )  # fmt: skip
    events: list[Event] = []
    if verdict.action != "allow":
        events.append(new_event(EventType.MESSAGE_MODERATED, payload=verdict.payload, **common))
    if verdict.action == "block":
        await _commit(c, verdict, events)  # the refusal is recorded: moderation is measurable
        if verdict.retry_after is not None:
            raise SidelineError(
                ErrorCode.RATE_LIMITED, "you are sending too fast", retry_after=verdict.retry_after
            )
        raise SidelineError(ErrorCode.MESSAGE_BLOCKED, verdict.explain(), at="$.text")
    visibility = verdict.visibility
    payload: dict[str, Any] = {
        "text": verdict.text, "client_msg_id": body.client_msg_id, "visibility": visibility,
        "masked": verdict.altered, "reply_to": body.reply_to, "role": role.value,
        "name": who.name,
    }  # fmt: skip
    if visibility in ("public", "held") and shadow_banned(c, room.room_id, who.user_id):
        # A held one stays held; its approval then shows it to its author alone (reports._decide).
        payload["shadow_ban"] = True
        if visibility == "public":
            payload["visibility"] = "shadow"
    sent = new_event(EventType.MESSAGE_SENT, payload=payload, **common)
    events.insert(0, sent)
    extra = None
    if verdict.altered or visibility == "held":
        extra = _record_original(sent, text)
    committed = await _commit(c, verdict, events, extra=extra)
    return message_out(c, committed[0])


def shadow_banned(c: Community, room_id: str, user_id: str) -> bool:
    """Is ``user_id`` shadow-banned in ``room_id`` (or everywhere) now?"""
    return c.state.restriction("shadow", room_id, user_id, c.now()) is not None


async def _commit(
    c: Community, verdict: SendVerdict, events: list[Event], *, extra: Extra | None = None
) -> list[Event]:
    """Commit a send's events; an attempt the log failed to store is uncounted from the rate
    limits (it was counted when checked, so that concurrent posts count each other)."""
    try:
        return await c.commit(events, extra=extra)
    except SidelineError as exc:
        if exc.code is ErrorCode.LOG_UNAVAILABLE:
            retract(c, verdict)
        raise


def _record_original(sent: Event, original: str) -> Any:
    """Keep the unmasked original only in the access-controlled moderation record."""

    def insert(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            "INSERT INTO moderation_records VALUES (?, ?, ?, ?, ?, ?)",
            [sent.event_id, sent.message_id, sent.room_id, sent.user_id, original, sent.occurred_at],
        )

    return insert
