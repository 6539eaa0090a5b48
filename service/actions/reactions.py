"""Reactions on messages: each one emoji, once per user, and at most
``reactions.max_per_user_per_message`` different ones per user and message; add and remove
are events."""

from __future__ import annotations

import unicodedata

import emoji

from service.actions.access import Intent, check_access
from service.actions.context import Community
from service.actions.messages import check_message, metadata_of, reader_of
from service.domain.events import EventType, new_event
from service.errors import ErrorCode, SidelineError
from service.identity import Identity
from service.protocol.http import ClientMetadata, ReactionOut

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
    cap = c.settings.reactions.max_per_user_per_message
    mine = c.state.reactions_by(message_id, user_id)
    if len(mine) >= cap:
        shown = " ".join(e[:40] for e in mine[:10])
        raise SidelineError(
            ErrorCode.CONFLICT,
            f"you have {len(mine)} reaction{'s' if len(mine) != 1 else ''} on this message "
            f"already ({shown}), the most one user may add; remove one to add {emoji!r}",
        )  # fmt: skip


async def set_reaction(
    c: Community, who: Identity, room_id: str, message_id: str, emoji: str, *,
    add: bool, metadata: ClientMetadata | None = None,
) -> ReactionOut:  # fmt: skip
    """Add or remove ``emoji``; adding twice or removing what is not there changes nothing.

    A user may always remove a reaction of theirs, also one that is not a single emoji or is
    past the cap (stored before reactions were checked, or by an older rule), so that it does
    not stay on the message for good. The changes of one user on one message run one at a
    time, so concurrent adds count each other against the cap and a duplicate writes nothing.
    """
    users = c.state.reactions.get(message_id, {}).get(emoji, set())
    if add or who.user_id not in users:
        check_emoji(emoji)
    access = check_access(c, who, room_id, Intent.REACT)
    await check_message(c, room_id, message_id, reader=reader_of(who, access))
    await c.ensure_exposure(who.user_id, room_id, who.context_id)

    async def change() -> ReactionOut:
        users = c.state.reactions.get(message_id, {}).get(emoji, set())
        if (who.user_id in users) == add:
            return ReactionOut(message_id=message_id, emoji=emoji, count=len(users), seq=0)
        if add:
            check_reaction_cap(c, who.user_id, message_id, emoji)
        event_type = EventType.REACTION_ADDED if add else EventType.REACTION_REMOVED
        committed = await c.commit([
            new_event(
                event_type, user_id=who.user_id, room_id=room_id, context_id=who.context_id,
                message_id=message_id, metadata=metadata_of(metadata, "reaction"),
                payload={"emoji": emoji},
            )
        ])  # fmt: skip
        count = len(c.state.reactions[message_id][emoji])
        return ReactionOut(message_id=message_id, emoji=emoji, count=count, seq=committed[0].seq)

    return await c.serially(("reactions", message_id, who.user_id), change)
