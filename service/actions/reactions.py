"""Reactions on messages: one per user per emoji; add and remove are events."""

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
    """Return ``value`` if it is made of emoji only, else raise INVALID_BODY naming it.

    Every code point must be one that emoji sequences are made of (Unicode's emoji data, or
    unassigned in the emoji blocks: a newer emoji), or a joiner, variation selector or tag that only occurs inside emoji
    sequences; a digit, ``#`` or ``*`` only as the base of a keycap (followed by U+20E3). At
    least one symbol or keycap is required. Reactions are broadcast to the room unmoderated,
    so this is what keeps text ("BUY at evil.example") out of them.
    """
    symbols = 0
    for i, ch in enumerate(value):
        if _is_symbol(value, i):
            symbols += 1
        elif ch not in _JOINERS and ord(ch) not in _TAGS:
            raise SidelineError(
                ErrorCode.INVALID_BODY,
                f"emoji {value[:40]!r} is not made of emoji: {ch!r} (U+{ord(ch):04X}) is not "
                "an emoji character",
                at=at,
            )  # fmt: skip
    if symbols == 0:
        raise SidelineError(
            ErrorCode.INVALID_BODY, f"emoji {value[:40]!r} has no emoji in it", at=at
        )
    return value


async def set_reaction(
    c: Community, who: Identity, room_id: str, message_id: str, emoji: str, *,
    add: bool, metadata: ClientMetadata | None = None,
) -> ReactionOut:  # fmt: skip
    """Add or remove ``emoji``; adding twice or removing what is not there changes nothing.

    A user may remove a reaction of theirs that is not emoji (stored before reactions were
    checked, or by an older rule) so that it does not stay on the message for good.
    """
    users = c.state.reactions.get(message_id, {}).get(emoji, set())
    if add or who.user_id not in users:
        check_emoji(emoji)
    access = check_access(c, who, room_id, Intent.REACT)
    await check_message(c, room_id, message_id, reader=reader_of(who, access))
    await c.ensure_exposure(who.user_id, room_id, who.context_id)
    users = c.state.reactions.get(message_id, {}).get(emoji, set())
    key = ("reaction", message_id, emoji, who.user_id)
    if (who.user_id in users) == add or key in c.reserved:
        return ReactionOut(message_id=message_id, emoji=emoji, count=len(users), seq=0)
    with c.reserving(key):
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
