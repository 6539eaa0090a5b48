"""A batch of committed events as read from the log: one Arrow table, events built on demand.

The warehouse writes the Arrow table as it is; HTTP sinks need Python events, built once per
batch and only when asked for. Splitting a batch (to isolate a refused event) slices the table
without copying it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from service.domain.events import Event
from service.eventlog.codec import COLUMNS, from_row


class Batch:
    """Consecutive committed events of one log, in ``seq`` order."""

    __slots__ = ("_events", "table")

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self._events: list[Event] | None = None

    def __len__(self) -> int:
        return int(self.table.num_rows)

    @property
    def first_seq(self) -> int:
        return int(self.table.column("seq")[0].as_py())

    @property
    def last_seq(self) -> int:
        return int(self.table.column("seq")[-1].as_py())

    @property
    def events(self) -> list[Event]:
        """The rows as :class:`Event` structs (built on first use, then cached)."""
        if self._events is None:
            columns: list[Sequence[Any]] = [self.table.column(c).to_pylist() for c in COLUMNS]
            self._events = [from_row(row) for row in zip(*columns, strict=True)]
        return self._events

    def split(self) -> tuple[Batch, Batch]:
        """Two halves, for finding the event a destination refused."""
        half = len(self) // 2
        return Batch(self.table.slice(0, half)), Batch(self.table.slice(half))

    def where(self, mask: pa.Array | pa.ChunkedArray) -> Batch:
        """The events where ``mask`` is true."""
        return Batch(self.table.filter(mask))
