"""What travels between nodes: one envelope per commit (or ephemeral signal), encoded once.

An ``events`` envelope carries the committed events (for the projections of the other
nodes) and the frames rendered from them by the node that committed them, each already
encoded as the text every recipient socket receives. ``typing`` and ``crowd`` envelopes carry
ephemeral signals that are never logged.

Every ``events`` envelope a hub publishes is numbered: ``boot`` names the publishing process
and ``n`` counts its ``events`` envelopes, 1, 2, 3 ... without a gap. Redis pub/sub is
at-most-once, so a receiver that sees a number skipped knows that envelopes of that publisher
were lost on their way (recovery.py, ``Recovery.in_order``); one integer per envelope, one
comparison per receipt. Only those are numbered because only their events can be read back (from the
recent stream): a lost typing or crowd signal is simply gone, and reloading every room for
it would cost far more than the signal was worth.

A ``beat`` envelope is a heartbeat of a node with other nodes (every presence interval): its
``boot`` and ``n`` are those of the node's newest ``events`` envelope (0: none yet), not a new
number. A receiver that has not heard that one knows it was lost, even when the publisher
sends nothing else for a long while.
"""

from __future__ import annotations

import msgspec

from service.domain.events import Event

MODERATORS = ""
"""``Out.to`` for a frame only the room's moderators receive. No user id is empty (identity.py
refuses a blank ``sub``), so it names no user: a node of an older version, which reads it as a
user id, delivers it to no one, and resume (which keeps ``to in (None, user_id)``) never
replays it."""


class Out(msgspec.Struct, array_like=True, frozen=True):
    """One encoded frame for one room: everyone in it, only ``to``'s sockets, or only its
    moderators' (``to`` is :data:`MODERATORS`)."""

    room: str
    to: str | None
    text: str
    seq: int = 0
    """The event's seq for stream frames (message, deleted, room), 0 for the rest."""
    epoch: str = ""
    """The log shard (node) that committed the event; pairs with ``seq`` for resume."""


KINDS = frozenset({"events", "typing", "crowd", "beat"})
"""The kinds this version publishes and handles; a newer node's other kinds are skipped."""


class Envelope(msgspec.Struct, array_like=True, kw_only=True):
    kind: str
    """One of :data:`KINDS` (a plain string, so a newer node's kind decodes, to be skipped)."""
    origin: str
    """node_id of the publisher."""
    frames: list[Out] = msgspec.field(default_factory=list)
    events: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"[]"))
    """JSON list of the committed events; decoded only where needed."""
    needs_events: bool = False
    """True when the events cause per-node work even on the origin (counts, roles, bans)."""
    room: str = ""
    crowd: dict[str, int] = msgspec.field(default_factory=dict)
    boot: str = ""
    """The publishing process (its hub's ``boot``): ``n`` counts within it."""
    n: int = 0
    """``events``: 1, 2, 3 ... per publishing process; ``beat``: the publisher's newest;
    0: not numbered (typing, crowd)."""


encode_envelope = msgspec.json.Encoder().encode
decode_envelope = msgspec.json.Decoder(Envelope).decode
_encode_events = msgspec.json.Encoder().encode
decode_events = msgspec.json.Decoder(list[Event]).decode


def events_raw(events: list[Event]) -> msgspec.Raw:
    return msgspec.Raw(_encode_events(events))
