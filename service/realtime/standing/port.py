"""The standing store's port, and the one-node store that keeps nothing."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

import msgspec

from service.domain.events import Event
from service.realtime.standing.subjects import Position


class ReadBack(msgspec.Struct, kw_only=True):
    """What the recent stream holds after the positions a node had received."""

    events: list[Event] = msgspec.field(default_factory=list)
    """Events of envelopes after those positions, in publication order."""
    carried: list[Position] = msgspec.field(default_factory=list)
    """The envelope (its publisher's position) that carried each of ``events``, in step."""
    newest: dict[str, Position] = msgspec.field(default_factory=dict)
    """Publisher node -> the newest envelope of it in the stream (of the publishers read)."""
    complete: bool = True
    """False when entries after a position may have been trimmed away (or the stream is off)."""


class Standing(Protocol):
    """Where nodes leave the standing-setting events for nodes that start later."""

    async def remember(self, events: list[Event]) -> None:
        """Record the events among ``events`` that set a subject's standing."""

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        """Queue committed events, carried by envelope ``n`` of process ``boot``, for the
        recent stream; returns at once."""

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        """Every subject's latest standing event, oldest first, then the recent events; the
        newest envelope of each publisher in the stream goes into ``newest``."""

    async def since(
        self, known: Mapping[str, Position], origins: Collection[str] | None, own: str
    ) -> ReadBack:
        """The recent events of ``origins`` (None: every node but ``own``) carried by
        envelopes after the ``known`` position of their publisher (all of an unknown one's)."""

    def reflect(self, events: Sequence[Event]) -> None:
        """This node's state now holds ``events`` (other nodes', applied here)."""

    async def changed(self) -> list[Event]:
        """Other nodes' standing events written since the last look (or since ``recall``)
        that are newer than what this node's state holds for their subject, oldest first."""

    async def close(self) -> None: ...


class LocalStanding:
    """One node: its own log already holds everything."""

    async def remember(self, events: list[Event]) -> None:
        return None

    def add_recent(self, events: Sequence[Event], boot: str = "", n: int = 0) -> None:
        return None

    async def recall(self, newest: dict[str, Position] | None = None) -> list[Event]:
        return []

    async def since(
        self, known: Mapping[str, Position], origins: Collection[str] | None, own: str
    ) -> ReadBack:
        return ReadBack()  # one node: no other node's envelopes to lose

    def reflect(self, events: Sequence[Event]) -> None:
        return None

    async def changed(self) -> list[Event]:
        return []

    async def close(self) -> None:
        return None
