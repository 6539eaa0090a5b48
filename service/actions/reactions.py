"""Reactions on messages: each one emoji, once per user, and at most
``reactions.max_per_user_per_message`` different ones per user and message; add and remove
are events."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import emoji

from service.actions.access import Intent, check_access
from service.actions.context import Community
from service.actions.messages import check_message, metadata_of, reader_of
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import ClientMetadata, ReactionOut
from service.realtime.reaction_claims import ReactionClaim, RedisReactions

log = logging.getLogger(__name__)

_JOINERS = frozenset("\u200d\ufe0e\ufe0f\u20e3")
"""Zero-width joiner, text/emoji variation selectors, combining keycap: inside sequences only."""
_KEYCAP_BASES = frozenset("0123456789#*")
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_TAGS = range(0xE0020, 0xE0080)
"""Tag characters: subdivision flags (England, Scotland, Wales) spell their region in them."""
_PICTOGRAPHS = range(0x1F300, 0x1FB00)
"""Emoji blocks; a code point unassigned in this Python's Unicode data is a newer emoji."""
_EMOJI_POINTS = frozenset(
    ch for sequence in emoji.EMOJI_DATA for ch in sequence
    if ch not in _JOINERS and ch not in _KEYCAP_BASES and ord(ch) not in _TAGS
)  # fmt: skip
"""Every code point of every emoji sequence in the Unicode emoji data (the ``emoji`` package):
pictographs, regional indicators, skin tones, gender signs. Not every "other symbol" (So) is
one: circled letters (U+24B6-24E9) would spell words, so they are refused."""


def _is_symbol(value: str, i: int) -> bool:
    """Is ``value[i]`` an emoji in itself (a keycap base counts when U+20E3 follows it)?"""
    ch = value[i]
    if ch in _EMOJI_POINTS or ord(ch) in _SKIN_TONES:
        return True
    if unicodedata.category(ch) == "Cn":
        return ord(ch) in _PICTOGRAPHS
    return ch in _KEYCAP_BASES and value[i + 1 : i + 3].lstrip("\ufe0f")[:1] == "\u20e3"


def check_emoji(value: str, at: str = "$.emoji") -> str:
    """Return ``value`` if it is one emoji, else raise INVALID_BODY naming it.

    Every code point must be one that emoji sequences are made of (Unicode's emoji data, or
    unassigned in the emoji blocks: a newer emoji), or a joiner, variation selector or tag that only occurs inside emoji
    sequences; a digit, ``#`` or ``*`` only as the base of a keycap (followed by U+20E3).
    Reactions are broadcast to the room unmoderated, so this is what keeps text ("BUY at
    evil.example") out of them; and they must be one emoji sequence (a flag, a keycap, a skin
    tone, a ZWJ family count as one), so a run of emoji cannot spell a message either.
    """
    for i, ch in enumerate(value):
        if not _is_symbol(value, i) and ch not in _JOINERS and ord(ch) not in _TAGS:
            raise SidelineError(
                ErrorCode.INVALID_BODY,
                f"emoji {value[:40]!r} is not made of emoji: {ch!r} (U+{ord(ch):04X}) is not "
                "an emoji character",
                at=at,
            )  # fmt: skip
    count = _sequences(value)
    if count == 0:
        raise SidelineError(
            ErrorCode.INVALID_BODY, f"emoji {value[:40]!r} has no emoji in it", at=at
        )
    if count > 1:
        raise SidelineError(
            ErrorCode.INVALID_BODY,
            f"emoji {value[:40]!r} is {count} emoji; a reaction is one emoji (a flag, a keycap, "
            "a skin tone or a joined sequence such as a family counts as one)",
            at=at,
        )  # fmt: skip
    return value


def _sequences(value: str) -> int:
    """How many emoji ``value`` (made of emoji characters) shows: each sequence the emoji data
    knows counts once, and each emoji character outside them (a newer one) once more."""
    found = emoji.emoji_list(value)
    covered = {i for m in found for i in range(m["match_start"], m["match_end"])}
    loose = sum(1 for i in range(len(value)) if i not in covered and _is_symbol(value, i))
    return len(found) + loose


def check_reaction_cap(c: Community, user_id: str, message_id: str, emoji: str) -> None:
    """Refuse a reaction past the user's ``reactions.max_per_user_per_message`` on a message:
    each is broadcast to the room and kept in the message's counts on every history page."""
    mine = c.state.reactions_by(message_id, user_id)
    if len(mine) >= c.settings.reactions.max_per_user_per_message:
        raise _past_cap(mine, emoji)


def _past_cap(mine: Sequence[str], emoji: str) -> SidelineError:
    shown = " ".join(e[:40] for e in mine[:10])
    return SidelineError(
        ErrorCode.CONFLICT,
        f"you have {len(mine)} reaction{'s' if len(mine) != 1 else ''} on this message "
        f"already ({shown}), the most one user may add; remove one to add {emoji!r}",
        at="$.emoji",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """One add (or remove) of ``emoji`` on a message, as asked."""

    room_id: str
    message_id: str
    emoji: str
    add: bool
    metadata: ClientMetadata | None


_RECLAIM_SECONDS = 0.02
"""How often a change looks again at what it waits for: another node's change of the same
emoji being written, or this node's state having the change Redis recorded."""


async def set_reaction(
    c: Community, who: Identity, room_id: str, message_id: str, emoji: str, *,
    add: bool, metadata: ClientMetadata | None = None,
) -> ReactionOut:  # fmt: skip
    """Add or remove ``emoji``; adding twice or removing what is not there changes nothing.

    A user may always remove a reaction of theirs, also one that is not a single emoji or is
    past the cap (stored before reactions were checked, or by an older rule), so that it does
    not stay on the message for good. The changes of one user on one message run one at a
    time, so concurrent adds count each other against the cap and a duplicate writes nothing.
    With many nodes each change is also claimed across them (:func:`_claim_and_change`).
    """
    users = c.state.reactions.get(message_id, {}).get(emoji, set())
    if add or who.user_id not in users:
        check_emoji(emoji)
    access = check_access(c, who, room_id, Intent.REACT)
    await check_message(c, room_id, message_id, reader=reader_of(who, access))
    await c.ensure_exposure(who.user_id, room_id, who.context_id)
    change = Change(room_id, message_id, emoji, add, metadata)
    claims = c.reaction_claims

    async def run() -> ReactionOut:
        if claims is None:
            return await _change(c, who, change)
        return await _claim_and_change(c, claims, who, change)

    return await c.serially(("reactions", message_id, who.user_id), run)


def _has(c: Community, ch: Change, user_id: str) -> bool:
    """Does this node's state have the user's reaction?"""
    return user_id in c.state.reactions.get(ch.message_id, {}).get(ch.emoji, ())


def _unchanged(c: Community, ch: Change, user_id: str, has: bool) -> ReactionOut:
    """The answer to a change that writes nothing: the count once the user's reaction is as
    ``has`` says (this node's state may not have it yet)."""
    users = c.state.reactions.get(ch.message_id, {}).get(ch.emoji, set())
    count = len(users - {user_id}) + has
    return ReactionOut(message_id=ch.message_id, emoji=ch.emoji, count=count, seq=0)


async def _change(c: Community, who: Identity, ch: Change) -> ReactionOut:
    """Judge the change by this node's state alone (one node; many when Redis does not answer)."""
    if _has(c, ch, who.user_id) == ch.add:
        return _unchanged(c, ch, who.user_id, ch.add)
    if ch.add:
        check_reaction_cap(c, who.user_id, ch.message_id, ch.emoji)
    return await _write(c, who, ch)


async def _write(c: Community, who: Identity, ch: Change) -> ReactionOut:
    event_type = EventType.REACTION_ADDED if ch.add else EventType.REACTION_REMOVED
    committed = await c.commit([
        new_event(
            event_type, user_id=who.user_id, room_id=ch.room_id, context_id=who.context_id,
            message_id=ch.message_id, metadata=metadata_of(ch.metadata, "reaction"),
            payload={"emoji": ch.emoji},
        )
    ])  # fmt: skip
    count = len(c.state.reactions.get(ch.message_id, {}).get(ch.emoji, ()))
    return ReactionOut(message_id=ch.message_id, emoji=ch.emoji, count=count, seq=committed[0].seq)


async def _claim_and_change(
    c: Community, claims: RedisReactions, who: Identity, ch: Change
) -> ReactionOut:
    """Many nodes: claim the user's emoji on the message across nodes, then change it as one
    node does, judged by what Redis recorded of it when it did.

    Redis has the user's last change of the emoji through any node; this node's state may lack
    it (its envelope is on its way, or was lost and is read back later, or this node restarted
    since). A change Redis says is made already writes nothing and is answered at once, with
    the count this node will show once it has it. Before writing, this node waits until its
    state has the recorded change (at most ``claims.wait_seconds``; after that it is taken as
    written): every node then applies the user's changes of an emoji in the order they were
    written, and none writes a second add, or a remove of nothing, that the other nodes would
    apply in another order. (A node that lost both an add and the remove after it, not read
    back yet, finds Redis and its state agreeing and writes at once: that order is not kept.)
    The cap counts the reactions claimed through every node. A change that is not written (the
    log failed) gives the claim back."""
    claim = await _take(c, claims, who.user_id, ch)
    if claim.full is not None:
        raise _past_cap(claim.full, ch.emoji)
    if claim.skipped:
        return await _change(c, who, ch)
    has = _has(c, ch, who.user_id) if claim.recorded is None else claim.recorded
    if has == ch.add:
        claims.seal(ch.message_id, who.user_id, ch.emoji, claim, on=has)
        return _unchanged(c, ch, who.user_id, has)
    await _caught_up(c, claims, who.user_id, ch, has)
    try:
        out = await _write(c, who, ch)
    except Exception:
        await claims.release(ch.message_id, who.user_id, ch.emoji, claim)
        raise
    claims.seal(ch.message_id, who.user_id, ch.emoji, claim, on=ch.add)
    return out


async def _take(c: Community, claims: RedisReactions, user_id: str, ch: Change) -> ReactionClaim:
    """Claim the user's emoji, waiting while another node writes a change of it: until that
    one is written, or runs past its deadline and is taken over (``claims.pending_seconds``).

    Raises CONFLICT (nothing written) when other nodes still write changes of it after that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + claims.pending_seconds
    cap = c.settings.reactions.max_per_user_per_message
    while True:
        mine = c.state.reactions_by(ch.message_id, user_id) if ch.add else []
        claim = await claims.take(ch.message_id, user_id, ch.emoji, add=ch.add, cap=cap, mine=mine)
        if claim.pending_on is None:
            return claim
        if loop.time() >= deadline:
            raise SidelineError(
                ErrorCode.CONFLICT,
                f"your reaction {ch.emoji[:40]!r} on this message is being changed through node "
                f"{claim.pending_on[:64]!r}; nothing was written here, retry",
            )  # fmt: skip
        await asyncio.sleep(_RECLAIM_SECONDS)


async def _caught_up(
    c: Community, claims: RedisReactions, user_id: str, ch: Change, has: bool
) -> None:
    """Wait until this node's state has (``has``) or has not the user's emoji, as Redis
    recorded, at most ``claims.wait_seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + claims.wait_seconds
    while _has(c, ch, user_id) != has:
        if loop.time() >= deadline:
            log.warning(
                "a reaction change recorded through another node has not reached this node's "
                "state in %.1f s (message %s); judged as recorded", claims.wait_seconds,
                ch.message_id,
            )  # fmt: skip
            return
        await asyncio.sleep(_RECLAIM_SECONDS)
